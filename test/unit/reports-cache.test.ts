import { describe, expect, it, vi } from 'vitest';
import { Aggregator } from '../../src/aggregate/aggregator';
import { DEFAULTS } from '../../src/config/defaults';
import type { DbCall } from '../../src/model/classified';
import { cacheLifetimeMs, MAX_CACHE_LIFETIME_MS } from '../../src/reports/cache-lifetime';
import { ReportCache } from '../../src/reports/report-cache';
import type { QueryRow, Report } from '../../src/reports/types';

function db(fingerprint: string, durationMs: number): DbCall {
  const ids = { traceId: 't', spanId: 's', parentSpanId: 'p' };
  const shape = { system: 'postgresql', statement: `SELECT ${fingerprint}`, operation: 'SELECT', table: 't' };
  return { type: 'db', service: 'api', ...ids, startMs: 0, durationMs, error: false, fingerprint, ...shape };
}

function setup() {
  let nowMs = 1_700_000_000_000;
  const clock = () => nowMs;
  const aggregator = new Aggregator(DEFAULTS.aggregation, clock);
  const cache = new ReportCache(aggregator, 1000, clock);
  return { aggregator, cache, advance: (ms: number) => (nowMs += ms) };
}

const rows = (report: Report<unknown>) => report.rows as QueryRow[];

describe('ReportCache', () => {
  it('serves the same build within the TTL and rebuilds after it', () => {
    const { aggregator, cache, advance } = setup();
    aggregator.recordDbCall(db('a', 5));
    expect(rows(cache.get('queries', { window: 'all' }))[0].calls).toBe(1);
    aggregator.recordDbCall(db('a', 5));
    expect(rows(cache.get('queries', { window: 'all' }))[0].calls).toBe(1);
    advance(1000);
    expect(rows(cache.get('queries', { window: 'all' }))[0].calls).toBe(2);
  });

  it('keeps an expensive build twenty times as long as it took', () => {
    const { aggregator, cache, advance } = setup();
    aggregator.recordDbCall(db('a', 5));
    // The build reads the clock before and after: 150 ms of building.
    const clock = vi.spyOn(performance, 'now').mockReturnValueOnce(0).mockReturnValueOnce(150);
    expect(rows(cache.get('queries', { window: 'all' }))[0].calls).toBe(1);
    clock.mockRestore();
    aggregator.recordDbCall(db('a', 5));
    advance(2_999);
    expect(rows(cache.get('queries', { window: 'all' }))[0].calls).toBe(1);
    advance(1);
    expect(rows(cache.get('queries', { window: 'all' }))[0].calls).toBe(2);
  });

  it('drops expired builds when another view is built', () => {
    const { aggregator, cache, advance } = setup();
    aggregator.recordDbCall(db('a', 5));
    cache.get('queries', { window: 'all' });
    cache.get('queries', { window: '5m' });
    cache.get('endpoints', { window: 'all' });
    expect(cache.size).toBe(3);
    advance(1_000);
    cache.get('cache', { window: 'all' });
    expect(cache.size).toBe(1);
  });

  it('re-sorts and limits a cached build per request', () => {
    const { aggregator, cache } = setup();
    for (let i = 0; i < 10; i++) aggregator.recordDbCall(db('many-fast', 1));
    aggregator.recordDbCall(db('one-slow', 100));
    const byTotal = rows(cache.get('queries', { window: 'all' }));
    expect(byTotal.map((r) => r.fingerprint)).toEqual(['one-slow', 'many-fast']);
    const byCalls = rows(cache.get('queries', { window: 'all', sort: 'calls', limit: 1 }));
    expect(byCalls.map((r) => r.fingerprint)).toEqual(['many-fast']);
    expect(cache.get('queries', { window: 'all', sort: 'calls', limit: 1 }).totalRows).toBe(2);
  });

  it('still rejects an unknown sort column', () => {
    const { cache } = setup();
    expect(() => cache.get('queries', { window: 'all', sort: 'statement' })).toThrow(/'sort'/);
  });
});

describe('cacheLifetimeMs', () => {
  it('is the configured period for a cheap build, twenty times the cost for an expensive one, at most 10 s', () => {
    expect(cacheLifetimeMs(1_000, 3)).toBe(1_000);
    expect(cacheLifetimeMs(1_000, 50)).toBe(1_000);
    expect(cacheLifetimeMs(1_000, 125.1)).toBe(2_502);
    expect(cacheLifetimeMs(1_000, 5_000)).toBe(MAX_CACHE_LIFETIME_MS);
    expect(MAX_CACHE_LIFETIME_MS).toBe(10_000);
  });

  it('stays off when caching is off', () => {
    expect(cacheLifetimeMs(0, 500)).toBe(0);
  });
});
