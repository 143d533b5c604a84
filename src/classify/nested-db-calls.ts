/**
 * A DB span with a DB span beneath it is an ORM's or a client's span around its driver's: Prisma's
 * `prisma:client:db_query` over instrumentation-pg's `pg.query` (Prisma 7 with `@prisma/adapter-pg`
 * and both instrumentations in the app's own SDK), instrumentation-knex's over pg's. Both carry the
 * statement, so counted as two calls every query, N+1 and queries-per-request figure doubled. The
 * first of the pair to arrive counts; the other becomes an `other` span, still in its trace.
 *
 * Either may come first: the child ends, and is queued for export, first, but an OTLP body groups
 * spans by instrumentation scope, so a batch that opened with one of Prisma's spans lists all of
 * Prisma's before any of pg's. Hence both directions are remembered: the ids of the DB calls counted
 * (a later child of one is dropped) and their parents' ids (a later parent of one is dropped).
 */
import { GenerationalCache } from '../generational-cache';
import type { ClassifiedSpan, DbCall, OtherSpan } from '../model/classified';

/**
 * Span ids remembered per direction. Keyed by span id alone (64 random bits: a collision among
 * these few thousand is beyond concern), which spares a string concatenation per DB call.
 */
const REMEMBERED_SPANS = 8_192;

export class NestedDbCalls {
  /** Counted DB calls' span ids → their parents' ids. */
  private readonly calls = new GenerationalCache<string>(REMEMBERED_SPANS);
  private readonly parents = new GenerationalCache<true>(REMEMBERED_SPANS);

  /** Turns, in place, the DB calls among `chunk[0..n)` nested in or around one counted before into `other` spans. */
  unwrap(chunk: ClassifiedSpan[], n: number): void {
    for (let i = 0; i < n; i++) {
      const span = chunk[i];
      if (span.type !== 'db') continue;
      const parent = span.parentSpanId;
      // A child of a counted call hangs, as an `other` span, from that call's parent: the assembler
      // walks other spans' parents to their request, and a DB call is no link in that chain.
      const above = parent === '' ? undefined : this.calls.get(parent);
      if (above !== undefined || this.parents.has(span.spanId)) {
        chunk[i] = asOther(span, above ?? parent);
        continue;
      }
      this.calls.set(span.spanId, parent);
      if (parent !== '') this.parents.set(parent, true);
    }
  }
}

function asOther(span: DbCall, parentSpanId: string): OtherSpan {
  return {
    type: 'other',
    service: span.service,
    traceId: span.traceId,
    spanId: span.spanId,
    parentSpanId,
    startMs: span.startMs,
    durationMs: span.durationMs,
    error: span.error,
  };
}
