import type { CacheCall, DbCall, OtherSpan } from '../model/classified';

/**
 * A DB or cache span that is not a call of its own (an ORM's span around its driver's, a redirected
 * attempt's next attempt) as an `other` span: still in its trace for the request's time, hung from
 * `parentSpanId`, counted nowhere.
 */
export function asOther(span: DbCall | CacheCall, parentSpanId = span.parentSpanId): OtherSpan {
  return {
    type: 'other',
    service: span.service,
    traceId: span.traceId,
    spanId: span.spanId,
    parentSpanId,
    startMs: span.startMs,
    durationMs: span.durationMs,
    error: span.error,
    graphql: undefined,
  };
}
