/**
 * A DB span with a DB span of the same statement beneath it is an ORM's or a client's span around its
 * driver's: Prisma's `prisma:client:db_query` over instrumentation-pg's `pg.query` (Prisma 7 with
 * `@prisma/adapter-pg` and both instrumentations in the app's own SDK; both carry Prisma's text), or
 * instrumentation-knex's span over pg's (both in auto-instrumentations-node's defaults; knex makes one
 * driver call per span, so any DB span beneath one is its call, even where knex cut its text).
 * Counted as two calls, every query, N+1 and queries-per-request figure doubled. The first of
 * the pair to arrive counts; the other becomes an `other` span, still in its trace. A DB span over
 * other statements (a transaction's, an ORM call that sends several) is left as it is.
 *
 * Either may come first: the child ends, and is queued for export, first, but an OTLP body groups
 * spans by instrumentation scope, so a batch that opened with one of Prisma's spans lists all of
 * Prisma's before any of pg's. Hence both directions are remembered: the DB calls counted (a later
 * child of one is dropped) and their parents (a later parent of one is dropped).
 *
 * Only for services that have sent a span an ORM makes around its driver's (DbCall.aroundDriver):
 * remembering every DB call cost 12% of the pipeline's instructions (bench:instructions, 7818 → 8767
 * per span) and 10% of end-to-end ingest (bench:ingest-ab, paired median 0.90 over 6 rounds) for
 * every sender; the others now pay a scan of each chunk (and, in a collector beside such a service, one
 * set look-up per DB span). A body longer than a
 * chunk whose driver spans come before the ORM's may count its first pairs twice, once per service.
 */
import { GenerationalCache } from '../generational-cache';
import type { ClassifiedSpan } from '../model/classified';
import { asOther } from './as-other';

/**
 * Span ids remembered per direction. Keyed by span id alone (64 random bits: a collision among
 * these few thousand is beyond concern), which spares a string concatenation per DB call.
 */
const REMEMBERED_SPANS = 8_192;

interface Counted {
  parentSpanId: string;
  fingerprint: string;
  /** A knex span: any DB call beneath it is its one driver call. */
  wrapsOneCall: boolean;
}

export class NestedDbCalls {
  /** Counted DB calls by span id. */
  private readonly calls = new GenerationalCache<Counted>(REMEMBERED_SPANS);
  /** Counted DB calls' parents' span ids → the fingerprint of the (last) call beneath. */
  private readonly parents = new GenerationalCache<string>(REMEMBERED_SPANS);

  /** Services that send ORM spans around their driver's: the only ones whose DB calls are checked. */
  private readonly services = new Set<string>();

  /** Turns, in place, the DB calls among `chunk[0..n)` nested in or around one of the same statement counted before into `other` spans. */
  unwrap(chunk: ClassifiedSpan[], n: number): void {
    for (let i = 0; i < n; i++) {
      const span = chunk[i];
      if (span.type === 'db' && span.aroundDriver === true) this.services.add(span.service);
    }
    if (this.services.size === 0) return;
    for (let i = 0; i < n; i++) {
      const span = chunk[i];
      if (span.type !== 'db' || !this.services.has(span.service)) continue;
      const parent = span.parentSpanId;
      const above = parent === '' ? undefined : this.calls.get(parent);
      if (above !== undefined && (above.fingerprint === span.fingerprint || above.wrapsOneCall)) {
        // It hangs, as an `other` span, from the counted call's parent: the assembler walks other
        // spans' parents to their request, and a DB call is no link in that chain.
        chunk[i] = asOther(span, above.parentSpanId);
        continue;
      }
      const below = this.parents.get(span.spanId);
      if (below !== undefined && (below === span.fingerprint || span.wrapsOneCall === true)) {
        chunk[i] = asOther(span, parent);
        continue;
      }
      this.calls.set(span.spanId, {
        parentSpanId: parent,
        fingerprint: span.fingerprint,
        wrapsOneCall: span.wrapsOneCall === true,
      });
      if (parent !== '') this.parents.set(parent, span.fingerprint);
    }
  }
}
