/**
 * Per-pool connection-pool statistics (a service's pools apart, by their `db.client.connection.pool.name`):
 * waits from pool-connect spans and the peak clients in use from them and the usage samples.
 */
import type { PoolConnect, PoolUsageSample } from '../model/classified';
import { type MaxWithTrace, ms, noteMax } from './acc-util';
import { OVERFLOW_LABEL } from './bounded-table';
import { Sketch } from './sketch';
import type { AccumulatorOps, Windowed } from './windowed';

export interface PoolAcc extends MaxWithTrace {
  connects: number;
  errors: number;
  totalWaitMs: number;
  /** Wait durations. */
  sketch: Sketch;
  /** Largest `spanstat.pool.in_use` seen, on connects and usage samples; −1 when never sent. */
  maxInUse: number;
  /** Largest `spanstat.pool.max` seen; −1 when never sent. */
  poolMax: number;
  /** Connects that found every client in use (in_use ≥ max). */
  saturated: number;
  /** Largest `spanstat.pool.waiting` of the usage samples; −1 when never sent. */
  maxWaiting: number;
}

export interface PoolState {
  readonly service: string;
  readonly system: string;
  /** The pool's name (`host:port/database` from the preload); '' for spans that name none. */
  readonly pool: string;
  readonly stats: Windowed<PoolAcc>;
}

export function poolOps(relativeAccuracy: number): AccumulatorOps<PoolAcc> {
  return {
    create: () => ({
      connects: 0,
      errors: 0,
      totalWaitMs: 0,
      sketch: new Sketch(relativeAccuracy),
      maxMs: 0,
      maxTraceId: '',
      maxInUse: -1,
      poolMax: -1,
      saturated: 0,
      maxWaiting: -1,
    }),
    merge(into, from, move) {
      into.connects += from.connects;
      into.errors += from.errors;
      into.totalWaitMs += from.totalWaitMs;
      into.sketch.merge(from.sketch, move);
      noteMax(into, from.maxMs, from.maxTraceId);
      notePeak(into, from.maxInUse, from.poolMax);
      into.saturated += from.saturated;
      if (from.maxWaiting > into.maxWaiting) into.maxWaiting = from.maxWaiting;
      if (move) {
        from.connects = from.errors = from.totalWaitMs = from.maxMs = from.saturated = 0;
        from.maxTraceId = '';
        from.maxInUse = from.poolMax = from.maxWaiting = -1;
      }
    },
  };
}

function count(value: number | undefined): number {
  return value !== undefined && value >= 0 && Number.isFinite(value) ? value : -1;
}

export function addPoolConnect(acc: PoolAcc, call: PoolConnect): void {
  const d = ms(call.durationMs);
  acc.connects++;
  if (call.error) acc.errors++;
  acc.totalWaitMs += d;
  acc.sketch.add(d);
  noteMax(acc, d, call.traceId);
  const inUse = count(call.poolInUse);
  const max = count(call.poolMax);
  notePeak(acc, inUse, max);
  if (inUse >= 0 && max > 0 && inUse >= max) acc.saturated++;
}

/** A usage sample raises the peak in use and tells the size; it is no checkout. */
export function addPoolUsage(acc: PoolAcc, sample: PoolUsageSample): void {
  notePeak(acc, count(sample.poolInUse), count(sample.poolMax));
  const waiting = count(sample.poolWaiting);
  if (waiting > acc.maxWaiting) acc.maxWaiting = waiting;
}

/** The most clients in use and the largest size seen (-1: not sent). */
function notePeak(acc: PoolAcc, inUse: number, max: number): void {
  if (inUse > acc.maxInUse) acc.maxInUse = inUse;
  if (max > acc.poolMax) acc.poolMax = max;
}

export function newPoolState(
  call: PoolConnect | PoolUsageSample,
  overflowService: string | null,
  stats: Windowed<PoolAcc>,
): PoolState {
  if (overflowService === null) return { service: call.service, system: call.system, pool: call.pool, stats };
  return { service: overflowService, system: OVERFLOW_LABEL, pool: OVERFLOW_LABEL, stats };
}
