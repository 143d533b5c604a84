/** Per (service, method, route) statistics from request summaries: the endpoint report's rows. */
import type { RequestSummary } from '../model/request-summary';
import { type MaxWithTrace, ms, noteMax } from './acc-util';
import { OVERFLOW_LABEL } from './bounded-table';
import { Sketch } from './sketch';
import type { AccumulatorOps, Windowed } from './windowed';

export interface EndpointAcc extends MaxWithTrace {
  requests: number;
  errors: number;
  /** Requests answered with a 5xx status. */
  serverErrors: number;
  sketch: Sketch;
  dbMs: number;
  cacheMs: number;
  poolWaitMs: number;
  /** Request time not under a DB call, cache call or pool wait (clipped at 0 per request). */
  otherMs: number;
  queries: number;
  cacheOps: number;
}

export interface EndpointState {
  readonly service: string;
  readonly method: string;
  readonly route: string;
  /** `GET /users/:id`: the string top-endpoint counters hold (one object per endpoint). */
  readonly label: string;
  /** Group key of this endpoint's per-request-use rows. */
  readonly useGroup: string;
  readonly stats: Windowed<EndpointAcc>;
}

export function endpointOps(relativeAccuracy: number): AccumulatorOps<EndpointAcc> {
  return {
    create: () => ({
      requests: 0,
      errors: 0,
      serverErrors: 0,
      sketch: new Sketch(relativeAccuracy),
      maxMs: 0,
      maxTraceId: '',
      dbMs: 0,
      cacheMs: 0,
      poolWaitMs: 0,
      otherMs: 0,
      queries: 0,
      cacheOps: 0,
    }),
    merge(into, from, move) {
      into.requests += from.requests;
      into.errors += from.errors;
      into.serverErrors += from.serverErrors;
      into.sketch.merge(from.sketch, move);
      noteMax(into, from.maxMs, from.maxTraceId);
      into.dbMs += from.dbMs;
      into.cacheMs += from.cacheMs;
      into.poolWaitMs += from.poolWaitMs;
      into.otherMs += from.otherMs;
      into.queries += from.queries;
      into.cacheOps += from.cacheOps;
      if (move) {
        from.requests = from.errors = from.serverErrors = 0;
        from.maxMs = 0;
        from.maxTraceId = '';
        from.dbMs = from.cacheMs = from.poolWaitMs = from.otherMs = 0;
        from.queries = from.cacheOps = 0;
      }
    },
  };
}

export function addRequest(acc: EndpointAcc, s: RequestSummary): void {
  const d = ms(s.durationMs);
  const db = ms(s.dbMs);
  const cache = ms(s.cacheMs);
  const pool = ms(s.poolWaitMs);
  acc.requests++;
  if (s.error) acc.errors++;
  if (s.status >= 500) acc.serverErrors++;
  acc.sketch.add(d);
  noteMax(acc, d, s.traceId);
  acc.dbMs += db;
  acc.cacheMs += cache;
  acc.poolWaitMs += pool;
  const other = d - db - cache - pool;
  if (other > 0) acc.otherMs += other;
  acc.queries += Math.max(s.queries, 0);
  acc.cacheOps += Math.max(s.cacheOps, 0);
}

/** Separator of composite keys; a control character no route, method or service contains. */
export const SEP = '\u001f';

export function newEndpointState(
  s: RequestSummary,
  overflowService: string | null,
  stats: Windowed<EndpointAcc>,
): EndpointState {
  const service = overflowService ?? s.service;
  const method = overflowService === null ? s.method : OVERFLOW_LABEL;
  const route = overflowService === null ? s.route : OVERFLOW_LABEL;
  const label = overflowService === null ? `${method} ${route}` : OVERFLOW_LABEL;
  return { service, method, route, label, useGroup: `${service}${SEP}${label}`, stats };
}
