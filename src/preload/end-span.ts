import { type Span, SpanStatusCode } from '@opentelemetry/api';

/**
 * Ends a client span, with an error status when `err` is set. The status carries the error's message
 * only (pg errors can quote parameter values in `detail`); `fallback` stands in for a non-Error value.
 */
export function endSpan(span: Span, err: unknown, fallback: string): void {
  if (err) {
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: err instanceof Error ? err.message : fallback,
    });
  }
  span.end();
}

/**
 * `thenable.then` that ends the span when it settles (an error status from a rejection, as
 * endSpan); the value and the rejection pass through. One derived promise per call.
 */
export function endWhenSettled<T>(thenable: PromiseLike<T>, span: Span, fallback: string): PromiseLike<T> {
  return thenable.then(
    (value: T) => {
      span.end();
      return value;
    },
    (err: unknown) => {
      endSpan(span, err, fallback);
      throw err;
    },
  );
}
