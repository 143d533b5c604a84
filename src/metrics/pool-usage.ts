import type { Attributes } from '@opentelemetry/api';

/** Width of one peak bucket (ms); the gauge shows the peak of the current and the previous bucket. */
export const POOL_PEAK_BUCKET_MS = 15_000;

interface Pool {
  attributes: Attributes;
  max: number;
  current: number;
  previous: number;
  /** As current/previous, for the checkouts waiting at once. */
  waitingCurrent: number;
  waitingPrevious: number;
  /** A sample has said how many waited (pools of an older preload never do). */
  waitingTold: boolean;
  bucketStart: number;
}

export interface PoolSnapshot {
  attributes: Attributes;
  /** Most clients in use at once (waited connects, usage samples) over the last 15–30 s. */
  inUsePeak: number;
  /** Pool size last reported; 0 when the preload did not record it. */
  max: number;
  /** Most checkouts (or postgres.js queries) waiting at once over the last 15–30 s; -1 when no sample said. */
  waitingPeak: number;
}

/**
 * Pool usage arrives as samples (`spanstat.pool.in_use` on waited connects and on the preload's
 * 5-s usage spans), so the last one says little. A peak over a short sliding window does not depend on how often (or by how
 * many Prometheus servers) the sidecar is scraped, unlike a peak reset at every scrape.
 */
export class PoolUsage {
  private readonly pools = new Map<Attributes, Pool>();

  constructor(private readonly now: () => number) {}

  record(
    attributes: Attributes,
    inUse: number | undefined,
    max: number | undefined,
    waiting: number | undefined = undefined,
  ): void {
    if (inUse === undefined && max === undefined && waiting === undefined) return;
    const t = this.now();
    let pool = this.pools.get(attributes);
    if (!pool) {
      pool = {
        attributes,
        max: 0,
        current: 0,
        previous: 0,
        waitingCurrent: 0,
        waitingPrevious: 0,
        waitingTold: false,
        bucketStart: t,
      };
      this.pools.set(attributes, pool);
    }
    rotate(pool, t);
    if (inUse !== undefined && inUse > pool.current) pool.current = inUse;
    if (max !== undefined && max > 0) pool.max = max;
    if (waiting !== undefined) {
      pool.waitingTold = true;
      if (waiting > pool.waitingCurrent) pool.waitingCurrent = waiting;
    }
  }

  snapshot(): PoolSnapshot[] {
    const t = this.now();
    const out: PoolSnapshot[] = [];
    for (const pool of this.pools.values()) {
      rotate(pool, t);
      out.push({
        attributes: pool.attributes,
        inUsePeak: Math.max(pool.current, pool.previous),
        max: pool.max,
        waitingPeak: pool.waitingTold ? Math.max(pool.waitingCurrent, pool.waitingPrevious) : -1,
      });
    }
    return out;
  }
}

function rotate(pool: Pool, t: number): void {
  const elapsed = t - pool.bucketStart;
  if (elapsed < POOL_PEAK_BUCKET_MS) return;
  const recent = elapsed < 2 * POOL_PEAK_BUCKET_MS;
  pool.previous = recent ? pool.current : 0;
  pool.current = 0;
  pool.waitingPrevious = recent ? pool.waitingCurrent : 0;
  pool.waitingCurrent = 0;
  pool.bucketStart = t - (elapsed % POOL_PEAK_BUCKET_MS);
}
