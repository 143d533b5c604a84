/**
 * A DB span with a DB span beneath it is an ORM's or a client's span around its driver's: Prisma's
 * `prisma:client:db_query` over instrumentation-pg's `pg.query` (Prisma 7 with `@prisma/adapter-pg`
 * and both instrumentations in the app's own SDK), instrumentation-knex's over pg's. Both carry the
 * statement, so counted as two calls every query, N+1 and queries-per-request figure doubled. The
 * driver's span is the one kept (it is what the spanstat preload sends alone); the wrapper becomes
 * an `other` span, still in its trace.
 *
 * The child usually ends, and is exported, first; an OTLP body groups spans by instrumentation scope,
 * though, so a chunk is read whole before any of its spans is judged, and the children's parents are
 * remembered across chunks. A wrapper that arrives in an earlier chunk or body than every DB span
 * beneath it is counted as before.
 */
import { GenerationalCache } from '../generational-cache';
import type { ClassifiedSpan, DbCall, OtherSpan } from '../model/classified';

/**
 * Span ids of recent DB calls' parents. Keyed by span id alone (64 random bits: a collision among
 * these few thousand is beyond concern), which spares a string concatenation per DB call.
 */
const REMEMBERED_PARENTS = 8_192;

export class NestedDbCalls {
  private readonly parents = new GenerationalCache<true>(REMEMBERED_PARENTS);

  /** Turns, in place, the DB calls among `chunk[0..n)` that have a DB call beneath them into `other` spans. */
  unwrap(chunk: ClassifiedSpan[], n: number): void {
    let calls = 0;
    for (let i = 0; i < n; i++) {
      const span = chunk[i];
      if (span.type !== 'db') continue;
      calls++;
      if (span.parentSpanId !== '') this.parents.set(span.parentSpanId, true);
    }
    if (calls < 1) return;
    for (let i = 0; i < n; i++) {
      const span = chunk[i];
      if (span.type === 'db' && this.parents.has(span.spanId)) chunk[i] = asOther(span);
    }
  }
}

function asOther(span: DbCall): OtherSpan {
  return {
    type: 'other',
    service: span.service,
    traceId: span.traceId,
    spanId: span.spanId,
    parentSpanId: span.parentSpanId,
    startMs: span.startMs,
    durationMs: span.durationMs,
    error: span.error,
  };
}
