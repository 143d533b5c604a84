import { type Span, SpanStatusCode } from '@opentelemetry/api';

/** An error code that names a kind of failure, never data: a SQLSTATE (`22P02`), `ECONNREFUSED`, `WRONGTYPE`. */
const CODE = /^[A-Z0-9_]{2,40}$/;
/** The error prefix of a Redis reply error (`WRONGTYPE Operation against…`, `ERR unknown command…`). */
const REDIS_PREFIX = /^([A-Z][A-Z_]+) /;
/** An error class name (`DatabaseError`, `ReplyError`, pg's `error`): a word, never data. */
const CLASS_NAME = /^[A-Za-z_$][\w$]{0,63}$/;

/**
 * What an error status says of `err`: its class and code, never its message. Messages quote data:
 * pg's `invalid input syntax for type integer: "abc123"` and `RAISE EXCEPTION` text, Redis's
 * `unknown command 'x', with args beginning with: 'value'` and Lua errors, pg-pool's `password
 * authentication failed for user "bob"`; the relay (forward.endpoint) and any other reader of the span
 * would get them. `fallback` stands in for a non-Error value.
 */
export function errorStatusMessage(err: unknown, fallback: string): string {
  if (!(err instanceof Error)) return fallback;
  const code = (err as { code?: unknown }).code;
  const label =
    typeof code === 'string' && CODE.test(code)
      ? code
      : typeof err.message === 'string'
        ? REDIS_PREFIX.exec(err.message)?.[1]
        : undefined;
  const name = typeof err.name === 'string' && CLASS_NAME.test(err.name) ? err.name : 'Error';
  return label === undefined ? name : `${name} ${label}`;
}

/** Ends a client span, with an error status when `err` is set (errorStatusMessage says what it carries). */
export function endSpan(span: Span, err: unknown, fallback: string): void {
  if (err) span.setStatus({ code: SpanStatusCode.ERROR, message: errorStatusMessage(err, fallback) });
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
