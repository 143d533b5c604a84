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
