/**
 * An Express app whose queries go through postgres.js (the `postgres` package), under the preload,
 * with real PostgreSQL and the sidecar: every query reaches the query report with its `$n` text, under
 * its request (transactions, a per-item loop, a failing query), and no interpolated value or inline
 * literal reaches any output; in a CommonJS app and in an ES module app (postgres.js's ES build).
 */
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalServer, startPostgres } from '../../scripts/lib/local-servers';
import { nodeBinary, TESTED_NODE_VERSIONS } from '../../scripts/lib/node-binary';
import type { DecodedSpan } from '../../src/model/span';
import type { EndpointRow, PoolRow, QueryRow, Report } from '../../src/reports/types';
import type { RunningSidecar } from '../../src/sidecar/sidecar';
import {
  type AppOptions,
  type AppRun,
  assertBuilt,
  attr,
  startApp,
  startCapture,
} from '../fixtures/preload-app/harness';
import { getJson, startTestSidecar, waitFor } from '../helpers/sidecar';
import { sidecarOutputs } from '../helpers/unrouted-paths';

let pg: LocalServer;
let sidecar: RunningSidecar;

beforeAll(async () => {
  assertBuilt();
  [pg, sidecar] = await Promise.all([startPostgres(), startTestSidecar({ assembly: { idleMs: 3_000 } })]);
  const admin = new Client({ connectionString: pg.url });
  await admin.connect();
  await admin.query(`
    CREATE TABLE users (id int PRIMARY KEY, note text NOT NULL);
    CREATE TABLE orders (id int PRIMARY KEY, total int NOT NULL);
    CREATE TABLE items (id int PRIMARY KEY);
    INSERT INTO users SELECT i, 'n' || i FROM generate_series(1, 3) AS i;
    INSERT INTO orders SELECT i, 0 FROM generate_series(7, 8) AS i;
    INSERT INTO items SELECT i FROM generate_series(1, 5) AS i;`);
  await admin.end();
}, 60_000);

afterAll(async () => {
  await Promise.all([sidecar?.shutdown(), pg?.stop()]);
});

/** `script` under the preload, on the test's database, sending to its sidecar as `service`; `env` adds to that. */
function startSending(script: AppOptions['script'], service: string, env: Record<string, string> = {}) {
  return startApp({
    script,
    env: {
      PG_URL: pg.url,
      ...env,
      OTEL_EXPORTER_OTLP_ENDPOINT: sidecar.receiverUrl,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_SERVICE_NAME: service,
    },
  });
}

/** `service`'s endpoint rows once they add up to `total` requests, by route: requests, 5xx, queries per request. */
async function endpointFigures(service: string, total: number) {
  const rows = await waitFor(async () => {
    const found = (
      await getJson<Report<EndpointRow>>(
        `${sidecar.apiUrl}/api/v1/reports/endpoints?service=${service}&window=all&limit=100`,
      )
    ).rows;
    return found.reduce((n, r) => n + r.requests, 0) >= total ? found : undefined;
  });
  return (rows ?? [])
    .map((r) => [r.route, r.requests, r.serverErrors, r.queriesPerRequest])
    .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
}

/** `service`'s query rows. */
async function queryRows(service: string): Promise<QueryRow[]> {
  return (
    await getJson<Report<QueryRow>>(
      `${sidecar.apiUrl}/api/v1/reports/queries?service=${service}&window=all&limit=100`,
    )
  ).rows;
}

// The CommonJS app requires postgres.js's CommonJS build; the ES module app imports its ES build.
describe.each([
  ['postgres-js-app.js', 'postgres-js-app'],
  ['postgres-js-app.mjs', 'postgres-js-esm-app'],
] as const)('%s under the preload, sending to a sidecar', (script, SERVICE) => {
  let app: AppRun;

  beforeAll(async () => {
    app = await startSending(script, SERVICE);
  }, 60_000);

  afterAll(async () => {
    await app?.stop();
  });

  async function send(path: string): Promise<number> {
    const res = await fetch(`http://127.0.0.1:${app.port}${path}`);
    await res.arrayBuffer();
    return res.status;
  }

  it('reports every query under its request, with $n text and no value', async () => {
    const sent: [string, number][] = [
      ['/users/1', 200],
      ['/users/2', 200],
      ['/users/3', 200],
      ['/orders/7', 200],
      ['/orders/8', 200],
      ['/items/5', 200],
      ['/items/5', 200],
      ['/fail/zebediah', 500],
      ['/unsafe', 200],
    ];
    for (const [path, status] of sent) expect([path, await send(path)]).toEqual([path, status]);

    expect(await endpointFigures(SERVICE, sent.length)).toEqual([
      ['/fail/:word', 1, 1, 1],
      ['/items/:n', 2, 0, 5],
      ['/orders/:id', 2, 0, 4],
      ['/unsafe', 1, 0, 1],
      ['/users/:id', 3, 0, 1],
    ]);

    const queries = await queryRows(SERVICE);
    const byStatement = Object.fromEntries(queries.map((q) => [q.statement, [q.calls, q.errors]]));
    expect(byStatement).toEqual({
      'SELECT id, note FROM users WHERE id = $1 AND note <> $2': [3, 0],
      'SELECT id FROM orders WHERE id = $1': [2, 0],
      'UPDATE orders SET total = total + $1 WHERE id = $2 RETURNING total': [2, 0],
      'SELECT id FROM items WHERE id = $1': [11, 1],
      'SELECT id FROM users WHERE note = $1': [1, 0],
      begin: [2, 0],
      commit: [2, 0],
    });
    expect(queries.every((q) => q.system === 'postgresql')).toBe(true);

    const everything = `${JSON.stringify(queries)}\n${await sidecarOutputs(sidecar.apiUrl)}`;
    for (const word of ['secret-param', 'zebediah', 'inline-secret-literal'])
      expect(everything).not.toContain(word);
    expect(app.stderr()).not.toContain('spanstat');
  }, 60_000);

  it("sends pg's span shape: connection attributes, the request as parent, an error status", async () => {
    const capture = await startCapture();
    const traced = await startApp({
      script,
      env: { PG_URL: pg.url, OTEL_EXPORTER_OTLP_ENDPOINT: capture.endpoint, OTEL_BSP_SCHEDULE_DELAY: '100' },
    });
    try {
      for (const path of ['/orders/7', '/fail/zebediah'])
        await (await fetch(`http://127.0.0.1:${traced.port}${path}`)).arrayBuffer();
      await capture.waitForSpans((spans) => spans.filter((s) => s.kind === 2).length >= 2);
      const servers = capture.spans.filter((s) => s.kind === 2);
      const queries = capture.spans.filter((s) => s.name.startsWith('postgres.query:'));
      const { port, pathname } = new URL(pg.url);
      const database = pathname.slice(1);
      expect(queries.map((q) => q.name)).toEqual([
        `postgres.query:BEGIN ${database}`,
        `postgres.query:SELECT ${database}`,
        `postgres.query:UPDATE ${database}`,
        `postgres.query:COMMIT ${database}`,
        `postgres.query:SELECT ${database}`,
      ]);
      for (const q of queries) {
        expect(attr(q, 'db.system.name')).toBe('postgresql');
        expect(attr(q, 'db.namespace')).toBe(database);
        expect(attr(q, 'server.port')).toBe(Number(port));
        const server = servers.find((s) => s.traceId === q.traceId);
        expect(server, q.name).toBeDefined();
      }
      expect(queries.map((q) => q.statusCode)).toEqual([0, 0, 0, 0, 2]);
      // The path (the SERVER span's, templated by the sidecar) holds it; no query span does.
      expect(JSON.stringify(queries)).not.toContain('zebediah');
    } finally {
      await traced.stop();
      await capture.close();
    }
  }, 60_000);
});

// A worker thread's ES module imports: patched where the module hooks are registerHooks (Node 22.15+), in
// the worker's thread by its own preload; Node 20's module.register is left to the main thread.
describe('postgres.js imported by a worker thread of an ES module app', () => {
  const node24 = TESTED_NODE_VERSIONS.find((v) => v.startsWith('24.')) as string;
  it.each([
    [`Node ${node24}`, () => nodeBinary(node24), 3],
    [`Node ${process.versions.node} (module.register)`, () => process.execPath, 0],
  ] as const)(
    '%s: %i of the worker’s 3 queries traced',
    async (_node, binary, expected) => {
      const capture = await startCapture();
      const traced = await startApp({
        script: 'postgres-js-worker.mjs',
        node: binary(),
        env: {
          PG_URL: pg.url,
          OTEL_EXPORTER_OTLP_ENDPOINT: capture.endpoint,
          OTEL_BSP_SCHEDULE_DELAY: '100',
        },
      });
      try {
        for (let i = 0; i < 3; i++)
          expect(await (await fetch(`http://127.0.0.1:${traced.port}/`)).text()).toBe('1');
        const isQuery = (s: DecodedSpan) => s.name.startsWith('postgres.query:SELECT');
        // The three requests' SERVER spans come from the main thread; the queries, if traced, from the worker.
        await capture.waitForSpans((spans) => spans.filter((s) => s.kind === 2).length >= 3);
        if (expected > 0) await capture.waitForSpans((spans) => spans.filter(isQuery).length >= expected);
        else await new Promise((r) => setTimeout(r, 1_000));
        const queries = capture.spans.filter(isQuery);
        expect(queries).toHaveLength(expected);
        for (const q of queries) expect(attr(q, 'db.namespace')).toBe(new URL(pg.url).pathname.slice(1));
        expect(traced.stderr()).not.toContain('spanstat');
      } finally {
        await traced.stop();
        await capture.close();
      }
    },
    60_000,
  );
});

// An instance is a pool of its own: `max` connections, queries queued or pipelined behind others when
// none is free. Its waits and usage reach the pool report and the pool advice as a pg pool's do.
describe('a postgres.js instance as a pool', () => {
  const poolName = () => {
    const { port, pathname } = new URL(pg.url);
    return `127.0.0.1:${port}${pathname}`;
  };

  /** The app under the preload with two connections, exporting to a capture of its spans. */
  async function onTwoConnections(
    script: 'postgres-js-app.js' | 'postgres-js-app.mjs',
    env: Record<string, string> = {},
  ) {
    const capture = await startCapture();
    const traced = await startApp({
      script,
      env: {
        PG_URL: pg.url,
        PG_MAX: '2',
        OTEL_EXPORTER_OTLP_ENDPOINT: capture.endpoint,
        OTEL_BSP_SCHEDULE_DELAY: '100',
        ...env,
      },
    });
    return { capture, traced };
  }

  async function sendAll(port: number, paths: string[]): Promise<number[]> {
    return Promise.all(
      paths.map(async (path) => {
        const res = await fetch(`http://127.0.0.1:${port}${path}`);
        await res.arrayBuffer();
        return res.status;
      }),
    );
  }

  it.each(['postgres-js-app.js', 'postgres-js-app.mjs'] as const)(
    '%s: a query that found no free connection waits in a postgres.pool.wait span beside its query, whose time is its own',
    async (script) => {
      const { capture, traced } = await onTwoConnections(script);
      try {
        // Eight queries of 150 ms at once on two connections: six wait, the last ~450 ms.
        const statuses = await sendAll(traced.port, Array(8).fill('/sleep/150'));
        expect(statuses).toEqual(Array(8).fill(200));
        const isQuery = (s: DecodedSpan) => s.name.startsWith('postgres.query:SELECT');
        await capture.waitForSpans((spans) => spans.filter(isQuery).length >= 8);
        // The usage sample: within POOL_USAGE_SAMPLE_MS (5 s) of the first query.
        const isUsage = (s: DecodedSpan) => s.name === 'postgres.pool.usage';
        await capture.waitForSpans((spans) => spans.some(isUsage), 10_000);
        const servers = capture.spans.filter((s) => s.kind === 2);
        const queries = capture.spans.filter(isQuery);
        const waits = capture.spans.filter((s) => s.name === 'postgres.pool.wait');
        expect(waits.length).toBeGreaterThanOrEqual(6);
        for (const wait of waits) {
          expect(attr(wait, 'db.client.connection.pool.name')).toBe(poolName());
          expect(attr(wait, 'spanstat.pool.max')).toBe(2);
          expect(attr(wait, 'db.system.name')).toBe('postgresql');
          // Its request's: the SERVER span of its trace is its parent, as its query's is.
          const server = servers.find((s) => s.traceId === wait.traceId);
          expect(wait.parentSpanId).toBe(server?.spanId);
          const query = queries.find((q) => q.traceId === wait.traceId);
          expect(query?.parentSpanId).toBe(server?.spanId);
          // The query span starts once the wait ends.
          expect(query && query.startMs >= wait.startMs + wait.durationMs - 1).toBe(true);
        }
        // Six of them found both connections in use (the first two waited for theirs to open).
        expect(waits.filter((w) => attr(w, 'spanstat.pool.in_use') === 2).length).toBeGreaterThanOrEqual(6);
        expect(Math.max(...waits.map((w) => w.durationMs))).toBeGreaterThan(250);
        // Each query's own time is its 150 ms on a connection, not the queue's: the last ones, had their
        // spans held their wait, would read ~600 ms (the start check above is the exact one; the slack over
        // 150 is a loaded machine's — a full suite beside other work read 321 ms against a bound of 300).
        for (const q of queries) expect(q.durationMs).toBeLessThan(450);
        const usage = capture.spans.filter(isUsage);
        expect(
          usage.map((s) => [attr(s, 'spanstat.pool.in_use'), attr(s, 'spanstat.pool.max')]),
        ).toContainEqual([2, 2]);
        expect(attr(usage[0], 'db.client.connection.pool.name')).toBe(poolName());
      } finally {
        await traced.stop();
        await capture.close();
      }
    },
    60_000,
  );

  it('times the wait of sql.reserve() for a connection as a query waits for one', async () => {
    const { capture, traced } = await onTwoConnections('postgres-js-app.js');
    try {
      // Warm: both connections open and idle, so the first two reserve at once.
      expect(await sendAll(traced.port, Array(2).fill('/sleep/10'))).toEqual([200, 200]);
      // Six reservations of 150 ms at once on two connections: four wait, the last ~300 ms.
      expect(await sendAll(traced.port, Array(6).fill('/reserved/150'))).toEqual(Array(6).fill(200));
      const isQuery = (s: DecodedSpan) => s.name.startsWith('postgres.query:SELECT');
      await capture.waitForSpans((spans) => spans.filter(isQuery).length >= 8);
      const servers = capture.spans.filter(
        (s) => s.kind === 2 && String(attr(s, 'url.path')).startsWith('/reserved/'),
      );
      expect(servers).toHaveLength(6);
      // The warm-up's two queries waited for their connections to open; of the reservations, four.
      const waits = capture.spans.filter(
        (s) => s.name === 'postgres.pool.wait' && servers.some((server) => server.traceId === s.traceId),
      );
      expect(waits).toHaveLength(4);
      for (const wait of waits) {
        const server = servers.find((s) => s.traceId === wait.traceId);
        expect(wait.parentSpanId).toBe(server?.spanId);
        expect(attr(wait, 'db.client.connection.pool.name')).toBe(poolName());
        expect(attr(wait, 'spanstat.pool.in_use')).toBe(2);
        // Its query runs on the reserved connection once the wait ended, in its own ~150 ms.
        const query = capture.spans.find((q) => isQuery(q) && q.traceId === wait.traceId);
        expect(query && query.startMs >= wait.startMs + wait.durationMs - 1).toBe(true);
        // (Had it held the wait, ~450 ms for the last; slack for a loaded machine, as above.)
        expect(query?.durationMs).toBeLessThan(400);
      }
      expect(Math.max(...waits.map((w) => w.durationMs))).toBeGreaterThan(250);
    } finally {
      await traced.stop();
      await capture.close();
    }
  }, 60_000);

  it('makes no pool spans with SPANSTAT_POOL_CONNECT_SPANS=false: a query span then holds its wait, as before', async () => {
    const { capture, traced } = await onTwoConnections('postgres-js-app.js', {
      SPANSTAT_POOL_CONNECT_SPANS: 'false',
    });
    try {
      expect(await sendAll(traced.port, Array(6).fill('/sleep/150'))).toEqual(Array(6).fill(200));
      const isQuery = (s: DecodedSpan) => s.name.startsWith('postgres.query:SELECT');
      await capture.waitForSpans((spans) => spans.filter(isQuery).length >= 6);
      expect(capture.spans.filter((s) => s.name.startsWith('postgres.pool.'))).toEqual([]);
      expect(Math.max(...capture.spans.filter(isQuery).map((q) => q.durationMs))).toBeGreaterThan(400);
    } finally {
      await traced.stop();
      await capture.close();
    }
  }, 60_000);

  it('reports a saturated instance in the pool report and advises on it', async () => {
    const SERVICE = 'postgres-js-saturated';
    const app = await startSending('postgres-js-app.js', SERVICE, { PG_MAX: '2' });
    try {
      // Thirty requests of one 40 ms query at once on two connections, and ten transactions among
      // them: most wait hundreds of ms.
      const paths = [...Array(30).fill('/sleep/40'), ...Array(10).fill('/orders/8')];
      const statuses = await sendAll(app.port, paths);
      expect(statuses).toEqual(paths.map(() => 200));
      const url = `${sidecar.apiUrl}/api/v1/reports/pools?service=${SERVICE}&window=all`;
      const rows = await waitFor(async () => {
        const { rows } = await getJson<Report<PoolRow>>(url);
        return rows[0]?.maxInUse === 2 && rows[0].connects >= 28 ? rows : undefined;
      });
      expect(rows?.map((r) => [r.pool, r.poolMax, r.maxInUse])).toEqual([[poolName(), 2, 2]]);
      const row = rows?.[0];
      expect(row?.saturatedConnects).toBeGreaterThanOrEqual(20);
      expect(row?.p95WaitMs).toBeGreaterThan(100);
      // Forty queries at once on two connections: most of them waited together (usage sample, <= 5 s).
      const waiting = await waitFor(async () => {
        const { rows } = await getJson<Report<PoolRow>>(url);
        return (rows[0]?.maxWaiting ?? 0) >= 30 ? rows[0]?.maxWaiting : undefined;
      });
      expect(waiting).toBeLessThanOrEqual(40);
      // And as a Prometheus gauge, for the dashboards and alerts.
      const metrics = await (await fetch(`${sidecar.apiUrl}/metrics`)).text();
      const gauge = new RegExp(`^spanstat_db_pool_waiting\\{service="${SERVICE}",[^}]*\\} (\\d+)$`, 'm').exec(
        metrics,
      );
      expect(Number(gauge?.[1])).toBeGreaterThanOrEqual(30);
      const sleep = await waitFor(async () => {
        const endpoints = await getJson<Report<EndpointRow>>(
          `${sidecar.apiUrl}/api/v1/reports/endpoints?service=${SERVICE}&window=all`,
        );
        const row = endpoints.rows.find((r) => r.route === '/sleep/:ms');
        return row?.requests === 30 ? row : undefined;
      });
      expect(sleep?.requests).toBe(30);
      expect(sleep?.poolWaitMsPerRequest).toBeGreaterThan(sleep?.dbMsPerRequest ?? Infinity);
      // Every query still counted once, under its request, waits or not.
      const orders = await waitFor(async () => {
        const endpoints = await getJson<Report<EndpointRow>>(
          `${sidecar.apiUrl}/api/v1/reports/endpoints?service=${SERVICE}&window=all`,
        );
        const row = endpoints.rows.find((r) => r.route === '/orders/:id');
        return row?.requests === 10 ? row : undefined;
      });
      expect([sleep?.queriesPerRequest, orders?.queriesPerRequest]).toEqual([1, 4]);
      const queries = await getJson<Report<QueryRow>>(
        `${sidecar.apiUrl}/api/v1/reports/queries?service=${SERVICE}&window=all&limit=100`,
      );
      expect(Object.fromEntries(queries.rows.map((q) => [q.statement, q.calls]))).toEqual({
        'SELECT pg_sleep($1)': 30,
        begin: 10,
        'SELECT id FROM orders WHERE id = $1': 10,
        'UPDATE orders SET total = total + $1 WHERE id = $2 RETURNING total': 10,
        commit: 10,
      });

      await sidecar.advisor?.evaluateNow();
      const advice = sidecar.advisor?.list({ state: 'active' }).filter((r) => r.service === SERVICE) ?? [];
      expect(advice.filter((r) => r.kind.startsWith('pool-')).map((r) => [r.kind, r.target.value])).toEqual([
        ['pool-saturation', poolName()],
      ]);
    } finally {
      await app.stop();
    }
  }, 60_000);

  it('reports an instance that never ran full, named by its own application_name, and gives no pool advice', async () => {
    const SERVICE = 'postgres-js-calm';
    const app = await startSending('postgres-js-app.js', SERVICE, { PG_MAX: '10', PG_APP_NAME: 'web' });
    try {
      // Thirty requests one after another: one connection serves them all.
      for (let i = 0; i < 30; i++) expect(await sendAll(app.port, ['/users/1'])).toEqual([200]);
      // The usage sample arrives within 5 s of the first query.
      const url = `${sidecar.apiUrl}/api/v1/reports/pools?service=${SERVICE}&window=all`;
      const rows = await waitFor(async () => {
        const { rows } = await getJson<Report<PoolRow>>(url);
        return rows[0]?.maxInUse === 1 ? rows : undefined;
      });
      expect(rows?.map((r) => [r.pool, r.poolMax, r.maxInUse, r.saturatedConnects])).toEqual([
        [`${poolName()} (web)`, 10, 1, 0],
      ]);
      // Only the first query waited: for its connection to open.
      expect([rows?.[0]?.connects, rows?.[0]?.maxWaiting]).toEqual([1, 1]);
      await sidecar.advisor?.evaluateNow();
      const advice = sidecar.advisor?.list().filter((r) => r.service === SERVICE) ?? [];
      expect(advice.filter((r) => r.kind.startsWith('pool-'))).toEqual([]);
    } finally {
      await app.stop();
    }
  }, 60_000);
});

describe('Drizzle over postgres.js (drizzle-orm/postgres-js) under the preload', () => {
  const SERVICE = 'drizzle-postgres-js-app';
  let app: AppRun;

  beforeAll(async () => {
    app = await startSending('drizzle-postgres-js-app.js', SERVICE);
  }, 60_000);

  afterAll(async () => {
    await app?.stop();
  });

  it('counts every query Drizzle sends exactly, under its request, with its fingerprint', async () => {
    const sent = [
      '/users/1',
      '/users/2',
      '/users/3',
      '/orders/7',
      '/orders/8',
      '/items/5',
      '/items/5',
      '/insert/42',
      '/with-user/2',
    ];
    for (const path of sent) expect([path, await app.get(path)]).toEqual([path, 200]);
    expect(await endpointFigures(SERVICE, sent.length)).toEqual([
      ['/insert/:id', 1, 0, 1],
      ['/items/:n', 2, 0, 5],
      ['/orders/:id', 2, 0, 4],
      ['/users/:id', 3, 0, 1],
      ['/with-user/:id', 1, 0, 1],
    ]);
    const queries = await queryRows(SERVICE);
    // Drizzle's own SQL (lower-case, every name quoted), its values as parameters, a literal in an sql`` fragment too.
    expect(Object.fromEntries(queries.map((q) => [q.statement, [q.calls, q.errors]]))).toEqual({
      'select "id", "note" from "users" where "users"."id" = $1': [3, 0],
      'select "id" from "orders" where "orders"."id" = $1': [2, 0],
      'update "orders" set "total" = "orders"."total" + $1 where "orders"."id" = $2': [2, 0],
      'select "id" from "items" where "items"."id" = $1': [10, 0],
      'insert into "items" ("id") values ($1) on conflict do nothing': [1, 0],
      'select "id", "note" from "users" "users" where "users"."id" = $1 limit $2': [1, 0],
      begin: [2, 0],
      commit: [2, 0],
    });
    expect(app.stderr()).not.toContain('spanstat');
  }, 60_000);
});
