import { describe, expect, it } from 'vitest';
import { Aggregator } from '../../src/aggregate/aggregator';
import { isSpanstatError } from '../../src/errors';
import type { CacheCall, DbCall } from '../../src/model/classified';
import type { RequestSummary } from '../../src/model/request-summary';
import { cacheReport } from '../../src/reports/cache-report';
import { endpointReport } from '../../src/reports/endpoint-report';
import { formatTable } from '../../src/reports/format-table';
import { poolReport } from '../../src/reports/pool-report';
import { queryReport } from '../../src/reports/query-report';
import { REPORT_NAMES, REPORTS } from '../../src/reports/registry';
import type { ReportQuery } from '../../src/reports/types';
import { endpointCacheReport, endpointQueryReport } from '../../src/reports/use-report';
import { requestSummary } from '../fixtures/request-summary';

const T0 = 1_700_000_040_000;
const base = { traceId: 't', spanId: 's', parentSpanId: 'p', startMs: 0, error: false };

function db(service: string, fingerprint: string, durationMs: number): DbCall {
  return {
    ...base,
    service,
    durationMs,
    type: 'db',
    system: 'postgresql',
    fingerprint,
    statement: `SELECT ${fingerprint}`,
    operation: 'SELECT',
    table: 't',
  };
}

function cache(namespace: string, hits: number, misses: number): CacheCall {
  return {
    ...base,
    service: 'api',
    durationMs: 0.2,
    type: 'cache',
    system: 'redis',
    command: hits + misses > 0 ? 'get' : 'set',
    namespace,
    read: hits + misses > 0,
    write: hits + misses === 0,
    hits,
    misses,
  };
}

function req(route: string, durationMs: number): RequestSummary {
  return requestSummary({ traceId: 'r', route, durationMs });
}

/** api: a (1 call, 50 ms), b (3 calls, 30 ms), c (10 calls, 10 ms); web: d (2 calls, 100 ms). */
function populated(): Aggregator {
  const agg = new Aggregator(
    {
      maxQueryRows: 100,
      maxCacheRows: 100,
      maxEndpointRows: 100,
      relativeAccuracy: 0.01,
      bucketMs: 60_000,
      topEndpoints: 3,
    },
    () => T0,
  );
  agg.recordDbCall(db('api', 'a', 50));
  for (let i = 0; i < 3; i++) agg.recordDbCall(db('api', 'b', 10));
  for (let i = 0; i < 10; i++) agg.recordDbCall(db('api', 'c', 1));
  for (let i = 0; i < 2; i++) agg.recordDbCall(db('web', 'd', 50));
  return agg;
}

const fps = (q: ReportQuery) => queryReport(populated(), q).rows.map((r) => r.fingerprint);

describe('reports: sort, limit and service filter', () => {
  it('sorts the query report by total time by default, largest first', () => {
    expect(fps({ window: 'all' })).toEqual(['d', 'a', 'b', 'c']);
  });

  it('sorts by any numeric column, descending', () => {
    expect(fps({ window: 'all', sort: 'calls' })).toEqual(['c', 'b', 'd', 'a']);
    expect(fps({ window: 'all', sort: 'meanMs' })).toEqual(['a', 'd', 'b', 'c']);
  });

  it('breaks ties deterministically by identity', () => {
    // a and d both have maxMs 50: api before web.
    expect(fps({ window: 'all', sort: 'maxMs' })).toEqual(['a', 'd', 'b', 'c']);
  });

  it('applies the limit after sorting and reports the rows before it', () => {
    const report = queryReport(populated(), { window: 'all', limit: 2 });
    expect(report.rows.map((r) => r.fingerprint)).toEqual(['d', 'a']);
    expect(report.totalRows).toBe(4);
  });

  it('keeps only the requested service', () => {
    expect(fps({ window: 'all', service: 'web' })).toEqual(['d']);
    expect(fps({ window: 'all', service: 'nobody' })).toEqual([]);
  });

  it('states the window it covers', () => {
    const report = queryReport(populated(), { window: '5m' });
    expect(report).toMatchObject({ window: '5m', fromMs: T0, toMs: T0, totalRows: 4 });
  });

  it('sorts nullable columns with nulls last', () => {
    const agg = populated();
    agg.recordCacheCall(cache('write-only:*', 0, 0));
    agg.recordCacheCall(cache('hot:*', 1, 0));
    agg.recordCacheCall(cache('cold:*', 0, 1));
    const order = cacheReport(agg, { window: 'all', sort: 'hitRate' }).rows.map((r) => r.namespace);
    expect(order).toEqual(['hot:*', 'cold:*', 'write-only:*']);
  });

  it('defaults the endpoint report to requests and the cache report to reads', () => {
    const agg = populated();
    agg.recordRequest(req('/slow', 500));
    agg.recordRequest(req('/busy', 1));
    agg.recordRequest(req('/busy', 1));
    expect(endpointReport(agg, { window: 'all' }).rows.map((r) => r.route)).toEqual(['/busy', '/slow']);
    expect(endpointReport(agg, { window: 'all', sort: 'p99Ms' }).rows.map((r) => r.route)).toEqual([
      '/slow',
      '/busy',
    ]);
    agg.recordCacheCall(cache('once:*', 1, 0));
    agg.recordCacheCall(cache('twice:*', 1, 0));
    agg.recordCacheCall(cache('twice:*', 0, 1));
    expect(cacheReport(agg, { window: 'all' }).rows.map((r) => r.namespace)).toEqual(['twice:*', 'once:*']);
  });
});

describe('reports: invalid queries', () => {
  const builders = {
    queries: queryReport,
    cache: cacheReport,
    endpoints: endpointReport,
    'endpoint-queries': endpointQueryReport,
    'endpoint-cache': endpointCacheReport,
    pools: poolReport,
  };

  for (const [name, build] of Object.entries(builders)) {
    it(`${name}: an unknown sort column is a bad-parameter error naming the allowed ones`, () => {
      let caught: unknown;
      try {
        build(populated(), { window: 'all', sort: 'nope' });
      } catch (err) {
        caught = err;
      }
      expect(isSpanstatError(caught, 'SPANSTAT_ERR_API_BAD_PARAM')).toBe(true);
      expect((caught as Error).message).toMatch(/'sort' must be one of .+, got 'nope'/);
    });
  }

  it('rejects a text column as a sort key', () => {
    expect(() => queryReport(populated(), { window: 'all', sort: 'statement' })).toThrow(
      /SPANSTAT_ERR_API_BAD_PARAM/,
    );
  });

  it('rejects a limit that is not a positive integer and an unknown window', () => {
    expect(() => queryReport(populated(), { window: 'all', limit: 0 })).toThrow(/'limit'/);
    expect(() => queryReport(populated(), { window: 'all', limit: 1.5 })).toThrow(/'limit'/);
    expect(() => queryReport(populated(), { window: '2h' as '1m' })).toThrow(/'window'/);
  });
});

describe('reports: registry', () => {
  it('builds every named report and prints it with its column set', () => {
    const agg = populated();
    agg.recordCacheCall(cache('user:*', 1, 0));
    agg.recordPoolConnect({
      ...base,
      service: 'api',
      durationMs: 1,
      type: 'pool-connect',
      system: 'postgresql',
      pool: 'db:5432/shop',
    });
    agg.recordRequest({
      ...req('/users/:id', 20),
      fingerprints: [{ fingerprint: 'a', calls: 6, totalMs: 6 }],
      namespaces: [{ namespace: 'user:*', ops: 1, singleReads: 1, totalMs: 1 }],
    });
    expect(REPORT_NAMES).toEqual([
      'services',
      'queries',
      'cache',
      'endpoints',
      'endpoint-queries',
      'endpoint-cache',
      'pools',
    ]);
    for (const name of REPORT_NAMES) {
      const def = REPORTS[name] as (typeof REPORTS)['queries'];
      const report = def.build(agg, { window: 'all' });
      expect(report.rows.length, name).toBeGreaterThan(0);
      const lines = formatTable(report.rows, def.columns).split('\n');
      expect(lines, name).toHaveLength(report.rows.length + 1);
      expect(lines.join('\n'), name).not.toContain('undefined');
    }
  });
});
