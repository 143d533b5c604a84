/**
 * The preload on the library versions most services still run, not only the repo's own Express 5
 * and ioredis 6: test/fixtures/compat pins Express 4, ioredis 5 and an older pg 8 minor (with its
 * pg-pool) in a package of its own, and its app runs under `--require dist/preload.js` exporting to
 * `dist/cli/main.js sidecar`, with real PostgreSQL and Redis. The reports must hold exact figures:
 * requests per Express 4 route template (nested routers under a parameterised mount, router.route,
 * regex, array and optional paths, app.all, sub-apps, static, error middleware, 404s, a redirect and
 * a handler rejection Express 4 leaves unanswered), queries and cache calls per request, hits and
 * misses per namespace, the pool's size and peak.
 *
 * The fixture's libraries are installed by `npm ci --prefix test/fixtures/compat` (`.ci/run` does it
 * before `npm test`). Without them `require('express')` in the fixture would find the repo's
 * Express 5: the test fails, with the command to run, rather than test the wrong versions or skip.
 */
import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SidecarProcess, startSidecarProcess } from '../../scripts/lib/demo-stack';
import { type LocalServer, startPostgres, startRedis } from '../../scripts/lib/local-servers';
import type { CacheRow, EndpointRow, PoolRow, QueryRow, Report } from '../../src/reports/types';
import { type AppRun, assertBuilt, startApp } from '../fixtures/preload-app/harness';
import { COMPAT_DIR, installedPins } from '../helpers/compat-fixture';
import { getJson, waitFor } from '../helpers/sidecar';

const SERVICE = 'compat';
/** Each user id is read twice: a miss (then a SET) on the first request, a hit on the second. */
const USER_IDS = [1, 2, 3, 4];
const SLOW = 6;
const CHECKOUT_QUERIES = 3;
/** Requests whose cache read waits for ioredis to reconnect. */
const BLIPS = 5;

interface Started {
  pins: Record<string, string>;
  sidecar: SidecarProcess;
  app: AppRun;
  pg: LocalServer;
  redisUrl: string;
}

describe('the preload with Express 4, ioredis 5 and pg 8.11 (test/fixtures/compat)', () => {
  let pins: Record<string, string> | undefined;
  let pg: LocalServer | undefined;
  let redis: LocalServer | undefined;
  let sidecar: SidecarProcess | undefined;
  let app: AppRun | undefined;
  let failure: unknown;
  /**
   * What beforeAll started. A failed start (fixture not installed, a server or the app that would
   * not run) fails every test with its reason: thrown from beforeAll, vitest would count them skipped.
   */
  const up = (): Started => {
    if (failure !== undefined) throw failure;
    return {
      pins: pins as Record<string, string>,
      sidecar: sidecar as SidecarProcess,
      app: app as AppRun,
      pg: pg as LocalServer,
      redisUrl: (redis as LocalServer).url,
    };
  };
  const report = async <T>(kind: string) =>
    (
      await getJson<Report<T>>(
        `${up().sidecar.apiUrl}/api/v1/reports/${kind}?service=${SERVICE}&window=all&limit=1000`,
      )
    ).rows;
  /** A request's status, redirects not followed; 'aborted' when `timeoutMs` ran out first. */
  const request = async (path: string, init: RequestInit = {}, timeoutMs = 10_000) => {
    try {
      const res = await fetch(`http://127.0.0.1:${up().app.port}${path}`, {
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
        ...init,
      });
      await res.arrayBuffer();
      return res.status;
    } catch (err) {
      if ((err as Error).name === 'TimeoutError') return 'aborted';
      throw err;
    }
  };

  beforeAll(async () => {
    try {
      assertBuilt();
      pins = installedPins();
      [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
      // Traces are assembled 1.5 s after their last span (6 s by default): the reports fill sooner.
      sidecar = await startSidecarProcess({ env: { SPANSTAT_ASSEMBLY_IDLE_MS: '1500' } });
      app = await startApp({
        dir: COMPAT_DIR,
        env: {
          PG_URL: pg.url,
          REDIS_URL: redis.url,
          OTEL_EXPORTER_OTLP_ENDPOINT: sidecar.receiverUrl,
          OTEL_BSP_SCHEDULE_DELAY: '100',
          OTEL_SERVICE_NAME: SERVICE,
        },
      });
    } catch (err) {
      failure = err;
    }
  }, 180_000);

  afterAll(async () => {
    await app?.stop();
    await sidecar?.child.stop();
    await Promise.all([pg?.stop(), redis?.stop()]);
  });

  it("loads the fixture's pinned Express 4, ioredis 5, pg and pg-pool, and instruments each", () => {
    const { app, pins } = up();
    const patches = JSON.parse(/^patches (.*)$/m.exec(app.stdout())?.[1] ?? '{}');
    // The libraries this app loads (the fixture also pins Restify 12, for preload-restify.test.ts).
    expect(patches.versions).toEqual(
      Object.fromEntries(['express', 'ioredis', 'pg', 'pg-pool', 'redis'].map((name) => [name, pins[name]])),
    );
    expect(patches.versions.express).toMatch(/^4\./);
    expect(patches.versions.ioredis).toMatch(/^5\./);
    expect(patches).toMatchObject({
      http: true,
      pg: true,
      pgPool: true,
      ioredis: true,
      express: true,
      routeDispatchWraps: 1,
    });
  });

  it('reports every request under its Express 4 route template, with exact queries and cache calls', async () => {
    const users = USER_IDS.map((id) => `/api/acme/users/${id}`);
    const all = (paths: string[]) => Promise.all(paths.map((path) => request(path)));
    // Concurrent: a query or cache call that lost its request's context would change the figures.
    expect(await all(users)).toEqual(users.map(() => 200)); // misses, then a SET each
    expect(await all(users)).toEqual(users.map(() => 200)); // hits
    expect(await request(users[0], { method: 'HEAD' })).toBe(200);
    expect(await request('/api/acme/items/5')).toBe(200); // MGET: two misses
    expect(await request('/api/acme/items/5', { method: 'PUT' })).toBe(204);
    expect(await request('/api/acme/items/5')).toBe(200); // MGET: a hit and a miss
    expect(await request('/api/acme/fail/3')).toBe(502);
    const plain: [string, RequestInit, number][] = [
      ['/re/42', {}, 200],
      ['/legacy/7', {}, 200],
      ['/old/8', {}, 200],
      ['/any/1', {}, 200],
      ['/any/2', { method: 'POST' }, 200],
      ['/files/a/b.txt', {}, 200],
      ['/opt', {}, 200],
      ['/opt/x', {}, 200],
      ['/boom/1', {}, 500],
      ['/go/1', {}, 302],
      ['/skip/0', {}, 200],
      ['/skip/1', {}, 200],
      [`/pool-checkout/${CHECKOUT_QUERIES}`, {}, 200],
      ['/multi', {}, 200],
      ['/health', {}, 200],
      ['/ping', {}, 200],
      ['/admin/stats', {}, 200],
      ['/assets/hello.txt', {}, 200],
      ['/assets/missing.txt', {}, 404],
      ['/nope/123', {}, 404],
    ];
    for (const [path, init, status] of plain)
      expect([path, await request(path, init)]).toEqual([path, status]);
    // Express 4 leaves the handler's rejection unhandled: no answer until the client gives up.
    expect(await request('/unhandled/1', {}, 300)).toBe('aborted');
    const slow = Array.from({ length: SLOW }, (_, i) => `/slow/${i}`);
    expect(await all(slow)).toEqual(slow.map(() => 200));

    const total = USER_IDS.length * 2 + 1 + 4 + plain.length + 1 + SLOW;
    const rows = await waitFor(async () => {
      const found = await report<EndpointRow>('endpoints');
      return found.reduce((n, r) => n + r.requests, 0) >= total ? found : undefined;
    });
    const byRoute = (rows ?? [])
      .map((r) => [
        `${r.method} ${r.route}`,
        r.requests,
        r.errors,
        r.serverErrors,
        r.queriesPerRequest,
        r.cacheOpsPerRequest,
      ])
      .sort();
    expect(byRoute).toEqual(
      [
        // A query and a GET each, and a SET on the first request of each id: 3 cache calls per 2 requests.
        ['GET /api/:tenant/users/:id', USER_IDS.length * 2, 0, 0, 1, 1.5],
        ['HEAD /api/:tenant/users/:id', 1, 0, 0, 1, 1],
        ['GET /api/:tenant/items/:itemId', 2, 0, 0, 0, 1],
        ['PUT /api/:tenant/items/:itemId', 1, 0, 0, 0, 1],
        // Answered 502 by the router's error middleware: the template survives the error path.
        ['GET /api/:tenant/fail/:id', 1, 1, 1, 1, 0],
        ['GET /^\\/re\\/(\\d+)$/', 1, 0, 0, 0, 0],
        ['GET /legacy/:id,/old/:id', 2, 0, 0, 0, 0],
        ['GET /any/:x', 1, 0, 0, 0, 0],
        ['POST /any/:x', 1, 0, 0, 0, 0],
        ['GET /files/*', 1, 0, 0, 0, 0],
        ['GET /opt/:a?', 2, 0, 0, 0, 0],
        ['GET /boom/:id', 1, 1, 1, 0, 0],
        ['GET /go/:id', 1, 0, 0, 0, 0],
        // next('route') passes to the second route of the same path.
        ['GET /skip/:id', 2, 0, 0, 0, 0],
        ['GET /pool-checkout/:n', 1, 0, 0, CHECKOUT_QUERIES, 0],
        // MULTI, GET, SET, EXEC, then a pipeline's two GETs.
        ['GET /multi', 1, 0, 0, 0, 6],
        // Path-mounted middleware that answers is named by its mount; a sub-app's route in full.
        ['GET /health', 1, 0, 0, 0, 0],
        ['GET /admin/stats', 1, 0, 0, 0, 0],
        ['GET /assets', 1, 0, 0, 0, 0],
        // Pathless middleware that answers: no template, so a fixed name rather than the path.
        ['GET (middleware)', 1, 0, 0, 0, 0],
        // express.static's miss and an unknown path: Express's own 404.
        ['GET (unmatched)', 2, 0, 0, 0, 0],
        // Closed by the client before the app answered: an error, not a 5xx.
        ['GET /unhandled/:id', 1, 1, 0, 1, 0],
        ['GET /slow/:id', SLOW, 0, 0, 1, 0],
      ].sort(),
    );
  }, 60_000);

  it('reports exact query calls and errors, cache hits and misses per namespace, and the pool', async () => {
    const { pg } = up();
    // libpg-query's fingerprint leaves out the names of a FROM-less SELECT's targets: the users',
    // the checkout's and the unhandled route's queries are one row (the first text seen names it).
    const queries = await report<QueryRow>('queries');
    expect(queries.map((q) => [q.statement, q.calls, q.errors, q.maxCallsPerRequest]).sort()).toEqual(
      [
        ['SELECT $1::int + $2 AS boot', 1, 0, 0],
        ['SELECT $1::int AS id, $2::text AS secret', USER_IDS.length * 2 + 1 + CHECKOUT_QUERIES + 1, 0, 3],
        ['SELECT $1::int / $2 AS boom', 1, 1, 1],
        ['SELECT pg_sleep($1), $2::int AS id', SLOW, 0, 1],
      ].sort(),
    );

    const cache = await report<CacheRow>('cache');
    expect(cache.map((c) => [c.namespace, c.hits, c.misses, c.reads, c.writes, c.errors]).sort()).toEqual(
      [
        ['(no key)', 0, 0, 0, 1, 0], // the start-up FLUSHDB (once), MULTI and EXEC
        ['user:acme:*', USER_IDS.length + 1, USER_IDS.length, USER_IDS.length * 2 + 1, USER_IDS.length, 0],
        // MGET item:<id> item:<id>:old, before and after the PUT: each key counts in its own namespace.
        ['item:*', 1, 1, 2, 1, 0],
        ['item:*:old', 0, 2, 2, 0, 0],
        ['multi:missing:*', 0, 1, 1, 0, 0],
        ['multi:ttl:*', 1, 0, 1, 1, 0],
        ['pipe:none:*', 0, 1, 1, 0, 0],
      ].sort(),
    );

    // Six requests at once on a pool of 2: it ran full.
    const pools = await report<PoolRow>('pools');
    expect(pools.map((p) => [p.pool, p.poolMax, p.maxInUse])).toEqual([
      [`127.0.0.1:${pg.port}/postgres`, 2, 2],
    ]);
    expect(pools[0].saturatedConnects).toBeGreaterThan(0);
  });

  it('counts each cache call once when ioredis sends it again after reconnecting', async () => {
    const { redisUrl } = up();
    const admin = new Redis(redisUrl);
    try {
      // Drops the app's connection: ioredis reconnects, and the GETs issued meanwhile wait in its
      // offline queue (or, written to the dying socket, among the commands it resends).
      expect(await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes')).toBeGreaterThan(0);
    } finally {
      admin.disconnect();
    }
    const blips = Array.from({ length: BLIPS }, (_, i) => `/blip/${i}`);
    const statuses = await Promise.all(blips.map((path) => request(path)));
    // Both polled: the sidecar serves a report built in the last second again.
    const row = await waitFor(async () => {
      const found = (await report<EndpointRow>('endpoints')).find((r) => r.route === '/blip/:id');
      return found !== undefined && found.requests >= BLIPS ? found : undefined;
    });
    const blip = await waitFor(async () => {
      const found = (await report<CacheRow>('cache')).find((c) => c.namespace === 'blip:*');
      return found !== undefined && found.calls >= BLIPS ? found : undefined;
    });
    // One object, so that a failure shows every figure at once.
    expect({
      statuses,
      requests: row?.requests,
      cacheOpsPerRequest: row?.cacheOpsPerRequest,
      cache: blip && [blip.calls, blip.reads, blip.misses, blip.commands],
    }).toEqual({
      statuses: blips.map(() => 200),
      requests: BLIPS,
      cacheOpsPerRequest: 1,
      cache: [BLIPS, BLIPS, BLIPS, { get: BLIPS }],
    });
  });

  it('keeps query parameters out of the reports and lets the app own its unhandled rejection', async () => {
    const { app } = up();
    const everything = JSON.stringify([
      await report('endpoints'),
      await report('queries'),
      await report('cache'),
    ]);
    expect(everything).not.toContain('secret-param-');
    expect(app.stdout().match(/UNHANDLED_REJECTION .*/g)).toEqual(['UNHANDLED_REJECTION rejected handler']);
    expect(app.stderr()).not.toContain('spanstat');
  });
});
