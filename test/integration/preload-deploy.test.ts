/**
 * A deploy end to end: an Express app under the built preload, against a real PostgreSQL and Redis,
 * exporting to one in-process sidecar that stays up. It runs as release 1.4.1 (the version in its
 * package.json, which the preload sends by default), then is restarted as 1.4.2 (set through
 * OTEL_RESOURCE_ATTRIBUTES) whose GET /orders/:id reads each of an order's items by id. The sidecar keeps
 * both versions in its deploy history (API, CLI, /metrics) and the advisor's deploy-regression
 * recommendation names the route, the new version and the statement that now runs per item.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalServer, startPostgres, startRedis } from '../../scripts/lib/local-servers';
import type { DeploysResponse } from '../../src/deploys';
import type { RunningSidecar } from '../../src/sidecar/sidecar';
import { type AppRun, assertBuilt, REPO_ROOT, startApp } from '../fixtures/preload-app/harness';
import { ITEMS, SECRET_CUSTOMER, SECRET_REFERENCE, seedOrders } from '../helpers/orders-db';
import { getJson, startTestSidecar, waitFor } from '../helpers/sidecar';

const SERVICE = 'orders-fixture';
const REQUESTS = 40;
const CLI = join(REPO_ROOT, 'dist', 'cli', 'main.js');
const APP_DIR = join(REPO_ROOT, 'test', 'fixtures', 'deploy-app');

let pg: LocalServer;
let redis: LocalServer;
let sidecar: RunningSidecar;
let app: AppRun | undefined;
const apps: AppRun[] = [];

beforeAll(async () => {
  assertBuilt();
  [pg, redis, sidecar] = await Promise.all([
    startPostgres(),
    startRedis(),
    startTestSidecar({
      advisor: { intervalSeconds: 3600, deploy: { minRequests: 20 } },
      assembly: { idleMs: 3_000 },
    }),
  ]);
  await seedOrders(pg.url);
});

afterAll(async () => {
  await app?.stop();
  await Promise.all(apps.map((a) => a.stop()));
  await sidecar?.shutdown();
  await Promise.all([pg?.stop(), redis?.stop()]);
});

function startOrders(env: Record<string, string>): Promise<AppRun> {
  return startApp({
    script: 'orders-app.js',
    dir: APP_DIR,
    env: {
      PG_URL: pg.url,
      REDIS_URL: redis.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: sidecar.receiverUrl,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      ...env,
    },
  });
}

/** The app as one release: its requests served, and the sidecar holding them under that version. */
async function release(version: string, env: Record<string, string>): Promise<void> {
  app = await startOrders(env);
  for (let i = 0; i < REQUESTS; i++) expect(await app.get(`/orders/${1 + (i % 5)}`)).toBe(200);
  const served = await waitFor(async () => {
    const body = await getJson<DeploysResponse>(`${sidecar.apiUrl}/api/v1/deploys?service=${SERVICE}`);
    return body.services[0]?.versions.find((v) => v.version === version && v.requests === REQUESTS);
  });
  expect(served, `the sidecar holds ${REQUESTS} requests of ${version}`).toBeDefined();
  await app.stop();
  app = undefined;
}

describe('a release that adds a per-item query loop', () => {
  it('is named by the deploy-regression advice: the route, the version and the statement', async () => {
    await release('1.4.1', {});
    await release('1.4.2', { ITEMS_LOOP: '1', OTEL_RESOURCE_ATTRIBUTES: 'service.version=1.4.2' });

    const advisor = sidecar.advisor;
    if (advisor === undefined) throw new Error('the sidecar has no advisor');
    await advisor.evaluateNow();
    const found = advisor.list({ kind: 'deploy-regression', state: 'active' });
    expect(found).toHaveLength(1);
    const [rec] = found;
    expect(rec).toMatchObject({ service: SERVICE, target: { type: 'route', value: 'GET /orders/:id' } });
    // Local queries are fast: the loop shows in the queries per request, and in the p95 only if it crossed 20 ms.
    expect(rec.title).toMatch(
      /^GET \/orders\/:id (queries per request 2 → 12|p95 .+ → .+) since version 1\.4\.2 \(first seen \d\d:\d\d UTC\)$/,
    );
    expect(rec.evidence).toMatchObject({
      version: '1.4.2',
      baselineVersion: '1.4.1',
      baselineQueriesPerRequest: 2,
      // The order, the item ids, then each item.
      queriesPerRequest: 1 + 1 + ITEMS,
    });
    expect(rec.evidence.regressed).toContain('queriesPerRequest');
    expect((rec.evidence.changedStatements as string[])[0]).toMatch(
      /^`SELECT sku, qty FROM order_items WHERE id = \$1` is new: 10× per request, /,
    );
    expect(rec.action).toContain('per-item loop');
    expect(rec.action).toContain('roll back to 1.4.1');

    const api = await getJson<DeploysResponse>(`${sidecar.apiUrl}/api/v1/deploys`);
    const [shop] = api.services;
    expect(shop).toMatchObject({ service: SERVICE, currentVersion: '1.4.2', baselineVersion: '1.4.1' });
    expect(shop.versions.map((v) => [v.version, v.requests])).toEqual([
      ['1.4.2', REQUESTS],
      ['1.4.1', REQUESTS],
    ]);
    expect(shop.routes[0]).toMatchObject({
      method: 'GET',
      route: '/orders/:id',
      baseline: { queriesPerRequest: 2 },
      current: { queriesPerRequest: 12 },
    });

    const metrics = await (await fetch(`${sidecar.apiUrl}/metrics`)).text();
    expect(metrics).toContain(`spanstat_service_version_info{service="${SERVICE}",version="1.4.1"} 1`);
    expect(metrics).toContain(`spanstat_service_version_info{service="${SERVICE}",version="1.4.2"} 1`);

    const { stdout } = await promisify(execFile)(
      process.execPath,
      [CLI, 'report', 'deploys', '--api', sidecar.apiUrl],
      {
        encoding: 'utf8',
        timeout: 20_000,
      },
    );
    expect(stdout).toContain(`Deploys — ${SERVICE}: 1.4.2 since`);
    expect(stdout).toContain('compared with 1.4.1');
    expect(stdout).toMatch(/GET \/orders\/:id\s+40\s+.*2\.0 → 12\.0/);

    const recommendations = await (await fetch(`${sidecar.apiUrl}/api/v1/recommendations`)).text();
    for (const text of [JSON.stringify(api), metrics, stdout, recommendations]) {
      expect(text).not.toContain(SECRET_REFERENCE);
      expect(text).not.toContain(SECRET_CUSTOMER);
    }
  });
});

describe('a rolling deploy, both releases serving at once', () => {
  it("counts each request under its own process's version, so the comparison holds while both run", async () => {
    const service = 'orders-rolling';
    const old = await startOrders({ OTEL_SERVICE_NAME: service });
    apps.push(old);
    for (let i = 0; i < 10; i++) expect(await old.get(`/orders/${1 + (i % 5)}`)).toBe(200);
    const next = await startOrders({
      OTEL_SERVICE_NAME: service,
      ITEMS_LOOP: '1',
      OTEL_RESOURCE_ATTRIBUTES: 'service.version=1.4.2',
    });
    apps.push(next);
    for (let i = 0; i < 30; i++) {
      expect(await old.get(`/orders/${1 + (i % 5)}`)).toBe(200);
      expect(await next.get(`/orders/${1 + (i % 5)}`)).toBe(200);
    }
    const url = `${sidecar.apiUrl}/api/v1/deploys?service=${service}`;
    const shop = await waitFor(async () => {
      const [s] = (await getJson<DeploysResponse>(url)).services;
      const counts = s?.versions.map((v) => `${v.version}:${v.requests}`).join(' ');
      return counts === '1.4.2:30 1.4.1:40' ? s : undefined;
    });
    expect(shop).toMatchObject({ currentVersion: '1.4.2', baselineVersion: '1.4.1' });
    expect(shop?.routes[0]).toMatchObject({
      baseline: { requests: 40, queriesPerRequest: 2 },
      current: { requests: 30, queriesPerRequest: 2 + ITEMS },
    });

    const advisor = sidecar.advisor;
    if (advisor === undefined) throw new Error('the sidecar has no advisor');
    await advisor.evaluateNow();
    const [rec] = advisor.list({ kind: 'deploy-regression', service, state: 'active' });
    expect(rec?.evidence).toMatchObject({ version: '1.4.2', baselineVersion: '1.4.1', requests: 30 });
  });
});
