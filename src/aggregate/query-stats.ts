/** Per (service, fingerprint) statistics: the slow-query report's rows. */
import type { DbCall } from '../model/classified';
import { type MaxWithTrace, ms, noteMax } from './acc-util';
import { OVERFLOW_KEY, OVERFLOW_LABEL } from './bounded-table';
import { Sketch } from './sketch';
import { TopK } from './top-k';
import type { AccumulatorOps, Windowed } from './windowed';

export interface QueryAcc extends MaxWithTrace {
  calls: number;
  errors: number;
  totalMs: number;
  sketch: Sketch;
  /** Calls by endpoint label, from request summaries. */
  top: TopK;
  maxCallsPerRequest: number;
}

export interface QueryState {
  readonly service: string;
  readonly system: string;
  readonly fingerprint: string;
  readonly statement: string;
  readonly operation: string;
  readonly table: string;
  readonly stats: Windowed<QueryAcc>;
}

export function queryOps(relativeAccuracy: number, topCapacity: number): AccumulatorOps<QueryAcc> {
  return {
    create: () => ({
      calls: 0,
      errors: 0,
      totalMs: 0,
      maxMs: 0,
      maxTraceId: '',
      sketch: new Sketch(relativeAccuracy),
      top: new TopK(topCapacity),
      maxCallsPerRequest: 0,
    }),
    merge(into, from, move) {
      into.calls += from.calls;
      into.errors += from.errors;
      into.totalMs += from.totalMs;
      noteMax(into, from.maxMs, from.maxTraceId);
      into.sketch.merge(from.sketch, move);
      into.top.merge(from.top);
      if (from.maxCallsPerRequest > into.maxCallsPerRequest)
        into.maxCallsPerRequest = from.maxCallsPerRequest;
      if (move) {
        from.calls = 0;
        from.errors = 0;
        from.totalMs = 0;
        from.maxMs = 0;
        from.maxTraceId = '';
        from.top.clear();
        from.maxCallsPerRequest = 0;
      }
    },
  };
}

export function addDbCall(acc: QueryAcc, call: DbCall): void {
  const d = ms(call.durationMs);
  acc.calls++;
  if (call.error) acc.errors++;
  acc.totalMs += d;
  noteMax(acc, d, call.traceId);
  acc.sketch.add(d);
}

export function newQueryState(
  call: DbCall,
  overflowService: string | null,
  stats: Windowed<QueryAcc>,
): QueryState {
  if (overflowService === null) {
    return {
      service: call.service,
      system: call.system,
      fingerprint: call.fingerprint,
      statement: call.statement,
      operation: call.operation,
      table: call.table,
      stats,
    };
  }
  return {
    service: overflowService,
    system: OVERFLOW_LABEL,
    fingerprint: OVERFLOW_KEY,
    statement: OVERFLOW_LABEL,
    operation: OVERFLOW_LABEL,
    table: OVERFLOW_LABEL,
    stats,
  };
}
