/**
 * Clients in use per pg pool, sampled: every checkout notes how many clients the pool will have in
 * use once it is served, and at most one `pg-pool.usage` span per pool per POOL_USAGE_SAMPLE_MS
 * carries the peak noted since the previous one. Connect spans alone — made only for checkouts that
 * wait — left a busy pool whose checkouts never waited reading 0 in use, and a burst that opened
 * its clients read one fewer than it used (each connect span counts the clients in use before it).
 *
 * A usage span is a root span of its own (no request owns it) with no duration; the sidecar reads
 * it for the pool's peak only, never as a checkout. It also carries the most checkouts waiting in the
 * pool's queue at once (`spanstat.pool.waiting`): how far short of the load the pool fell.
 */
import { type Attributes, ROOT_CONTEXT, type Tracer } from '@opentelemetry/api';
import { POOL_USAGE_SPAN_NAME, SPANSTAT_ATTR } from '../model/attributes';
import { preloadContext } from './preload-context';

/** At most one usage span per pool per this many ms (the sidecar's pool gauge keeps 15–30 s peaks). */
export const POOL_USAGE_SAMPLE_MS = 5_000;

const USAGE = Symbol('spanstat.poolUsage');

/** The pool fields a sample reads (pg-pool 2–3; the underscored ones before its count getters). */
export interface SampledPool {
  options?: { max?: number };
  totalCount?: number;
  idleCount?: number;
  _clients?: unknown[];
  _idle?: unknown[];
  waitingCount?: number;
  _pendingQueue?: unknown[];
  [USAGE]?: PoolUsageState;
}

interface PoolUsageState {
  /** Most clients in use once a checkout was served, since the last sample; -1 when none was. */
  peak: number;
  /** Most checkouts waiting at once, since the last sample; -1 when not told. */
  peakWaiting: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * Clients the pool has in use once a checkout now is served: those in use, plus those the checkouts
 * already queued take (pg-pool queues a checkout even when an idle client is free, and hands it that
 * client on the next tick: `Promise.all` of 5 queries over 5 idle clients has 4 queued when the 5th
 * is placed), plus the one it takes (an idle one, or one it opens), never more than the pool's size
 * (a queued checkout takes a released client). Undefined when the pool does not say.
 */
export function inUseOnceServed(pool: SampledPool): number | undefined {
  const before = clientsInUse(pool);
  if (before === undefined) return undefined;
  const max = pool.options?.max;
  const queued = pool.waitingCount ?? pool._pendingQueue?.length ?? 0;
  const inUse = before + queued + 1;
  return typeof max === 'number' && max > 0 && inUse > max ? max : inUse;
}

/**
 * Checkouts waiting once a checkout now is placed: those queued beyond the idle clients (pg-pool
 * queues a checkout even when an idle client is free, and serves it from that client on the next
 * tick, so those are not waiting), plus this one when the pool is full and no idle client is left for
 * it (pg-pool queues it for a release). Undefined when the pool does not say.
 */
export function waitingOncePlaced(pool: SampledPool): number | undefined {
  const queued = pool.waitingCount ?? pool._pendingQueue?.length;
  if (typeof queued !== 'number') return undefined;
  const total = pool.totalCount ?? pool._clients?.length;
  const idle = pool.idleCount ?? pool._idle?.length;
  const max = pool.options?.max;
  const waiting = typeof idle === 'number' ? Math.max(0, queued - idle) : queued;
  const queues =
    typeof total === 'number' &&
    typeof idle === 'number' &&
    typeof max === 'number' &&
    total >= max &&
    idle <= queued;
  return queues ? waiting + 1 : waiting;
}

/** Clients checked out of the pool now (total less idle); undefined when the pool does not say. */
export function clientsInUse(pool: SampledPool): number | undefined {
  const total = pool.totalCount ?? pool._clients?.length;
  const idle = pool.idleCount ?? pool._idle?.length;
  return typeof total === 'number' && typeof idle === 'number' ? total - idle : undefined;
}

/** What a sampler keeps its state on: a pg pool, or spanstat's record of a postgres.js instance. */
interface Sampled {
  [USAGE]?: PoolUsageState;
}

export class PoolUsageSampler<Pool extends object = SampledPool> {
  constructor(
    private readonly tracer: () => Tracer,
    /** The pool's constant span attributes (its name, address, database and size). */
    private readonly baseAttributes: (pool: Pool) => Attributes,
    private readonly intervalMs = POOL_USAGE_SAMPLE_MS,
    /** The samples' span name: POOL_USAGE_SPAN_NAME for pg pools. */
    private readonly spanName = POOL_USAGE_SPAN_NAME,
  ) {}

  /** Notes a checkout of a pg `pool`; a few property reads, and a timer once per interval. */
  noteCheckout(pool: Pool & SampledPool): void {
    const inUse = inUseOnceServed(pool);
    if (inUse !== undefined) this.noteInUse(pool, inUse, waitingOncePlaced(pool) ?? -1);
  }

  /**
   * Notes `inUse` connections of `pool` in use now and `waiting` checkouts or queries waiting for one
   * (-1: not known); two compares, and a timer once per interval.
   */
  noteInUse(pool: Pool, inUse: number, waiting: number): void {
    const sampled = pool as Sampled;
    let state = sampled[USAGE];
    if (state === undefined) {
      state = { peak: -1, peakWaiting: -1, timer: undefined };
      sampled[USAGE] = state;
    }
    if (inUse > state.peak) state.peak = inUse;
    if (waiting > state.peakWaiting) state.peakWaiting = waiting;
    if (state.timer !== undefined) return;
    // Armed outside the request's context, so the timer holds no request while it waits.
    const usage = state;
    state.timer = preloadContext.with(ROOT_CONTEXT, () =>
      setTimeout(() => this.emit(pool, usage), this.intervalMs),
    );
    state.timer.unref?.();
  }

  private emit(pool: Pool, state: PoolUsageState): void {
    state.timer = undefined;
    const peak = state.peak;
    const waiting = state.peakWaiting;
    state.peak = state.peakWaiting = -1;
    if (peak < 0) return;
    try {
      const attributes: Attributes = { ...this.baseAttributes(pool), [SPANSTAT_ATTR.poolInUse]: peak };
      if (waiting >= 0) attributes[SPANSTAT_ATTR.poolWaiting] = waiting;
      const span = this.tracer().startSpan(this.spanName, { root: true, attributes });
      span.end();
    } catch {
      // A sample is worth less than the app: drop it.
    }
  }
}
