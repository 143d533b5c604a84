import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalServer, startPostgres, startRedis } from '../../scripts/lib/local-servers';
import type { CacheRow, EndpointQueryRow, EndpointRow, QueryRow, Report } from '../../src/reports/types';
import type { RunningSidecar } from '../../src/sidecar/sidecar';
import { type AppRun, assertBuilt, startApp } from '../fixtures/preload-app/harness';
import { getJson, startTestSidecar, waitFor } from '../helpers/sidecar';

// The user who had NodeSDK with the http, express, pg and ioredis instrumentations exporting to the
// sidecar, and adds `--require spanstat/preload`: one process, one service.name, every request, query
// and Redis command traced twice. Each must count once, and the sidecar must say what it set aside.
const SERVICE = 'two-sdk-shop';
const REQUESTS = 12;
let pg: LocalServer;
let redis: LocalServer;
let sidecar: RunningSidecar;
let app: AppRun;
const warnings: { msg: string; service?: string; pid?: number }[] = [];

beforeAll(async () => {
  assertBuilt();
  [pg, redis, sidecar] = await Promise.all([
    startPostgres(),
    startRedis(),
    startTestSidecar({}, (line) => warnings.push(line)),
  ]);
  app = await startApp({
    script: 'own-sdk-otlp-app.js',
    env: {
      PG_URL: pg.url,
      REDIS_URL: redis.url,
      OTEL_SERVICE_NAME: SERVICE,
      OTEL_EXPORTER_OTLP_ENDPOINT: sidecar.receiverUrl,
      OTEL_BSP_SCHEDULE_DELAY: '100',
    },
  });
}, 60_000);

afterAll(async () => {
  await app?.stop();
  await sidecar?.shutdown();
  await Promise.all([pg?.stop(), redis?.stop()]);
});

async function health(): Promise<{
  doubleTraced?: Record<string, { processes: number; spansSetAside: number }>;
}> {
  return getJson(`${sidecar.apiUrl}/healthz`);
}

async function report<T>(name: string): Promise<T[]> {
  return (await getJson<Report<T>>(`${sidecar.apiUrl}/api/v1/reports/${name}?service=${SERVICE}&window=all`))
    .rows;
}

describe('the preload beside an app’s own SDK exporting to the same sidecar', () => {
  it('counts each request, query and cache call once, and says why', async () => {
    // A first request, until both senders have been seen: the app's SDK may export before the preload's
    // first body names the process, and what arrives before that counts (classify/double-tracing.ts).
    await waitFor(async () => {
      expect(await app.get('/health')).toBe(200);
      return (await health()).doubleTraced?.[SERVICE] !== undefined;
    }, 5_000);
    await new Promise((r) => setTimeout(r, 300));
    const before = await report<EndpointRow>('endpoints');
    const served = (rows: EndpointRow[]) => rows.find((r) => r.route === '/users/:id')?.requests ?? 0;
    expect(served(before)).toBe(0);

    // Half of them arrive with a caller's traceparent, which both tracers continue: the two copies then
    // share one trace, their server spans one parent.
    for (let i = 0; i < REQUESTS; i++) {
      const traceparent = `00-${(i + 1).toString(16).padStart(32, 'a')}-${'b'.repeat(16)}-01`;
      const res = await fetch(`http://127.0.0.1:${app.port}/users/${i + 1}`, {
        headers: i % 2 === 0 ? { traceparent } : {},
      });
      await res.arrayBuffer();
      expect(res.status).toBe(200);
    }
    await waitFor(async () => served(await report<EndpointRow>('endpoints')) >= REQUESTS || undefined);
    // Both exporters send every 100 ms and the assembler waits 300 ms: give a second copy time to land.
    await new Promise((r) => setTimeout(r, 1_500));

    const users = (await report<EndpointRow>('endpoints')).find((r) => r.route === '/users/:id');
    expect(users).toMatchObject({
      method: 'GET',
      requests: REQUESTS,
      queriesPerRequest: 2,
      cacheOpsPerRequest: 1,
    });
    const perRequest = (await report<EndpointQueryRow>('endpoint-queries')).filter(
      (r) => r.route === '/users/:id',
    );
    expect(perRequest.map((r) => [r.statement, r.calls, r.requestsWithQuery]).sort()).toEqual([
      ['SELECT $1::int + $2 AS next_id', REQUESTS, REQUESTS],
      ['SELECT $1::int AS id', REQUESTS, REQUESTS],
    ]);
    const queries = await report<QueryRow>('queries');
    expect(queries.map((r) => [r.statement, r.calls]).sort()).toEqual([
      ['SELECT $1::int + $2 AS next_id', REQUESTS],
      ['SELECT $1::int AS id', REQUESTS],
    ]);
    // The preload's Redis spans carry the outcome: every read a miss, none of unknown outcome.
    const cache = await report<CacheRow>('cache');
    expect(cache).toHaveLength(1);
    expect(cache[0]).toMatchObject({ namespace: 'user:*', reads: REQUESTS, misses: REQUESTS, hits: 0 });

    // Said once, in the log (naming the service and the process, and what to do), /healthz and /metrics.
    const said = warnings.filter((w) => w.msg.includes('sends its spans twice'));
    expect(said).toHaveLength(1);
    expect(said[0]).toMatchObject({ service: SERVICE, pid: app.child.pid });
    expect(said[0].msg).toContain('Drop one of the two');
    const { doubleTraced } = await health();
    expect(doubleTraced?.[SERVICE]?.processes).toBe(1);
    const spansSetAside = doubleTraced?.[SERVICE]?.spansSetAside ?? 0;
    // Per request at least the SDK's server span, two queries, a Redis GET and its pool checkouts.
    expect(spansSetAside).toBeGreaterThanOrEqual(REQUESTS * 4);
    const metrics = await (await fetch(`${sidecar.apiUrl}/metrics`)).text();
    const line = metrics
      .split('\n')
      .find((l) => l.startsWith(`spanstat_sidecar_double_traced_spans_total{service="${SERVICE}"}`));
    expect(Number(line?.split(' ').pop())).toBe(spansSetAside);
    // Privacy: the query parameters and the keys' ids appear in none of them.
    for (const text of [JSON.stringify(warnings), JSON.stringify(doubleTraced), metrics]) {
      expect(text).not.toMatch(/user:\d/);
    }
  }, 60_000);
});
