/**
 * How long a cached report (or its serialized body) is served: at least the configured period, longer
 * when it was expensive to make. A 10k-row query report costs ~100–300 ms of the event loop to build,
 * serialize and encode on this VM (bench/report-api.bench.ts); rebuilt every second for a client that
 * polls it, that would be a fifth of the sidecar's core taken from ingest, and every request arriving
 * during a rebuild waits for it.
 */

/**
 * A rebuild may take at most 1/this of the time its result is served for: a client polling an expensive
 * view without pause takes ≤ 5% of the event loop from ingest.
 */
const COST_FACTOR = 20;

/** However expensive, a report is at most this old (ms). */
export const MAX_CACHE_LIFETIME_MS = 10_000;

export function cacheLifetimeMs(baseMs: number, costMs: number): number {
  if (baseMs <= 0) return 0;
  return Math.max(baseMs, Math.min(MAX_CACHE_LIFETIME_MS, Math.ceil(COST_FACTOR * costMs)));
}
