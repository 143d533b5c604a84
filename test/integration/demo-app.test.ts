import type { Server } from 'node:http';
import { createConnection } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import { Redis } from 'ioredis';
import { Client, Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../examples/demo-app/app';
import { startDigestJob } from '../../examples/demo-app/digest-job';
import {
  CACHE,
  DATASET,
  DIGEST_JOB,
  FAIL_EVERY,
  PRODUCT_TTL_S,
  QUOTE_TTL_S,
  RECENT_ORDERS,
  ROUTES,
  SQL,
} from '../../examples/demo-app/routes';
import { type DemoStack, httpStatus, startDemoStack } from '../../scripts/lib/demo-stack';
import { runLoad, runScript, seededRandom } from '../../scripts/lib/load-driver';

// The stack as `npm run demo` runs it: seeded database, sidecar, app under the preload (exporting
// every 200 ms instead of 5 s so the sidecar's counts settle quickly), but without the app's
// background job: these tests count every query and Redis command and key, and the job's would mix in.
// The job runs in-process below, and under the preload in advise-demo.test.ts.
let stack: DemoStack;
// The same app in-process over a pool whose clients record every statement they send.
const sent: string[] = [];
let pool: Pool;
let redis: Redis;
let server: Server;
let inProcessUrl: string;

class RecordingClient extends Client {
  override query(...args: unknown[]): never {
    const first = args[0] as string | { text: string };
    sent.push(typeof first === 'string' ? first : first.text);
    return (Client.prototype.query as (...a: unknown[]) => never).apply(this, args);
  }
}

async function sentBy(path: string): Promise<{ status: number; statements: string[] }> {
  sent.length = 0;
  const status = await httpStatus(`${inProcessUrl}${path}`);
  return { status, statements: [...sent] };
}

async function redisCalls(command: string): Promise<number> {
  const info = await redis.info('commandstats');
  const match = new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(info);
  return match ? Number(match[1]) : 0;
}

beforeAll(async () => {
  stack = await startDemoStack({ appEnv: { OTEL_BSP_SCHEDULE_DELAY: '200', DIGEST_EVERY_MS: '0' } });
  pool = new Pool({ connectionString: stack.databaseUrl, max: 2, Client: RecordingClient });
  redis = new Redis(stack.redisUrl);
  // The last test stops the servers under these clients; their connection errors are expected then.
  pool.on('error', () => {});
  redis.on('error', () => {});
  server = createApp({ pool, redis }).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const address = server.address();
  inProcessUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  await pool?.end();
  redis?.disconnect();
  await stack?.stop();
});

interface Counts {
  endpoints: Record<string, { requests: number; serverErrors: number; queriesPerRequest: number }>;
  queryCalls: Record<string, number[]>;
  cache: Record<string, { reads: number; hits: number; misses: number; writes: number }>;
}

async function report(kind: string): Promise<{ rows: Record<string, unknown>[] }> {
  const res = await fetch(`${stack.apiUrl}/api/v1/reports/${kind}?window=all&limit=1000`);
  return (await res.json()) as { rows: Record<string, unknown>[] };
}

const round4 = (n: number) => Math.round(n * 10_000) / 10_000;

/** The sidecar's reports reduced to what a scripted run determines exactly. */
async function sidecarCounts(): Promise<Counts> {
  const counts: Counts = { endpoints: {}, queryCalls: {}, cache: {} };
  for (const row of (await report('endpoints')).rows) {
    if (row.route === '/healthz') continue;
    counts.endpoints[`${row.method} ${row.route}`] = {
      requests: row.requests as number,
      serverErrors: row.serverErrors as number,
      queriesPerRequest: round4(row.queriesPerRequest as number),
    };
  }
  for (const row of (await report('queries')).rows) {
    const endpoint = (row.topEndpoints as { endpoint: string }[])[0]?.endpoint ?? '';
    const calls = counts.queryCalls[endpoint] ?? [];
    counts.queryCalls[endpoint] = [...calls, row.calls as number].sort((a, b) => a - b);
  }
  for (const row of (await report('cache')).rows) {
    if (row.reads === 0) continue;
    const { reads, hits, misses, writes } = row as Counts['cache'][string];
    counts.cache[row.namespace as string] = { reads, hits, misses, writes };
  }
  return counts;
}

// Runs before any other request reaches the app, so the reports hold this script and nothing else.
describe('demo stack with the sidecar', () => {
  it('reports exactly the requests, queries and cache reads a scripted run made', async () => {
    const quoteCodes = Array.from({ length: 10 }, (_, i) => `QZ${i}X`);
    const steps = [
      ...Array.from({ length: 20 }, (_, i) => ({ path: `/api/customers/${i + 1}` })),
      ...Array.from({ length: 3 }, (_, i) => ({ path: `/api/customers/${i + 1}/recent-orders` })),
      ...Array.from({ length: 10 }, (_, i) => ({ path: `/api/orders/${i + 1}/invoice` })),
      { path: '/api/orders/by-reference/ORD-0000042' },
      ...[1, 1, 2, 3, 1].map((id) => ({ path: `/api/products/${id}` })),
      ...[...quoteCodes, quoteCodes[0]].map((code) => ({ path: `/api/quotes/${code}` })),
    ];
    const sent = await runScript(stack.appUrl, steps, { concurrency: 2 });
    expect(sent.errors).toBe(10 / FAIL_EVERY);
    const expected: Counts = {
      endpoints: {
        'GET /api/customers/:id': { requests: 20, serverErrors: 0, queriesPerRequest: 1 },
        'GET /api/customers/:id/recent-orders': {
          requests: 3,
          serverErrors: 0,
          queriesPerRequest: 1 + RECENT_ORDERS,
        },
        'GET /api/orders/:id/invoice': { requests: 10, serverErrors: 10 / FAIL_EVERY, queriesPerRequest: 1 },
        'GET /api/orders/by-reference/:ref': { requests: 1, serverErrors: 0, queriesPerRequest: 1 },
        'GET /api/products/:id': { requests: 5, serverErrors: 0, queriesPerRequest: 3 / 5 },
        'GET /api/quotes/:code': { requests: 11, serverErrors: 0, queriesPerRequest: 10 / 11 },
      },
      queryCalls: {
        'GET /api/customers/:id': [20],
        'GET /api/customers/:id/recent-orders': [3, 3 * RECENT_ORDERS],
        'GET /api/orders/:id/invoice': [10],
        'GET /api/orders/by-reference/:ref': [1],
        'GET /api/products/:id': [3],
        'GET /api/quotes/:code': [10],
      },
      cache: {
        'product:*': { reads: 5, hits: 2, misses: 3, writes: 3 },
        'quote:*': { reads: 11, hits: 1, misses: 10, writes: 10 },
      },
    };
    for (const row of Object.values(expected.endpoints))
      row.queriesPerRequest = round4(row.queriesPerRequest);
    // Spans arrive in batches and traces are summarised after an idle time: poll until the counts settle.
    let seen = await sidecarCounts();
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
      if (isDeepStrictEqual(seen, expected)) break;
      await new Promise((r) => setTimeout(r, 250));
      seen = await sidecarCounts();
    }
    expect(seen).toEqual(expected);
  });

  it('keeps literals, parameter values and key ids out of every report', async () => {
    const text = JSON.stringify(
      await Promise.all(['queries', 'cache', 'endpoints'].map((kind) => report(kind))),
    );
    for (const secret of ['ORD-0000042', 'QZ0X', "'cancelled'", 'id = 7', 'product:1']) {
      expect(text).not.toContain(secret);
    }
  });
});

describe('demo app routes', () => {
  it('answers every generated path of every route with the status the route declares', async () => {
    const rng = seededRandom(42);
    for (const route of ROUTES) {
      for (let i = 0; i < 10; i++) {
        const path = route.path(rng);
        expect([route.key, path, await httpStatus(`${stack.appUrl}${path}`)]).toEqual([
          route.key,
          path,
          route.expect.status(path),
        ]);
      }
    }
    expect(await httpStatus(`${stack.appUrl}/healthz`)).toBe(200);
  });

  it('fails exactly the invoices whose id is divisible by FAIL_EVERY', async () => {
    const steps = Array.from({ length: 50 }, (_, i) => ({
      path: `/api/orders/${i + 1}/invoice`,
      key: 'invoice',
    }));
    const result = await runScript(stack.appUrl, steps, { concurrency: 4 });
    expect(result.byRoute.invoice.statuses).toEqual({ 200: 50 - 50 / FAIL_EVERY, 500: 50 / FAIL_EVERY });
    expect(result.errors).toBe(50 / FAIL_EVERY);
  });

  it('rejects malformed ids with 400 and unknown rows and routes with 404', async () => {
    const result = await runScript(stack.appUrl, [
      { path: '/api/customers/abc', key: 'bad id' },
      { path: '/api/quotes/lower-case', key: 'bad code' },
      { path: `/api/customers/${DATASET.customers + 1}`, key: 'unknown customer' },
      { path: '/api/orders/by-reference/ORD-9999999', key: 'unknown reference' },
      { path: '/api/nothing-here', key: 'unknown route' },
    ]);
    const statuses = Object.fromEntries(
      Object.entries(result.byRoute).map(([key, counts]) => [key, Object.keys(counts.statuses).map(Number)]),
    );
    expect(statuses).toEqual({
      'bad id': [400],
      'bad code': [400],
      'unknown customer': [404],
      'unknown reference': [404],
      'unknown route': [404],
    });
  });
});

describe('demo app queries and cache commands', () => {
  it('issues one list query and then one item query per order on the N+1 route', async () => {
    const { status, statements } = await sentBy('/api/customers/7/recent-orders');
    expect(status).toBe(200);
    expect(statements).toEqual([SQL.recentOrders, ...Array(RECENT_ORDERS).fill(SQL.itemsOfOrder)]);
    expect(ROUTES.find((r) => r.name === 'recent-orders')?.expect.queries).toBe(statements.length);
  });

  it('issues exactly the declared number of queries on the non-cached routes', async () => {
    for (const name of ['customer', 'order-by-reference', 'invoice']) {
      const route = ROUTES.find((r) => r.name === name);
      if (!route) throw new Error(`no route ${name}`);
      const { statements } = await sentBy(route.path(seededRandom(3)));
      expect([name, statements.length]).toEqual([name, route.expect.queries]);
    }
  });

  it('inlines the invoice id as a literal instead of a parameter', async () => {
    const { statements } = await sentBy('/api/orders/123/invoice');
    expect(statements).toEqual([SQL.invoice(123)]);
    expect(statements[0]).toContain('WHERE id = 123');
  });

  it('serves products cache-aside: a miss queries and sets with the long TTL, a hit only reads', async () => {
    await redis.flushall();
    const [gets, sets] = [await redisCalls('get'), await redisCalls('set')];
    const miss = await sentBy('/api/products/7');
    const hit = await sentBy('/api/products/7');
    expect([miss.statements, hit.statements]).toEqual([[SQL.productById], []]);
    expect([(await redisCalls('get')) - gets, (await redisCalls('set')) - sets]).toEqual([2, 1]);
    expect(await redis.keys('*')).toEqual([CACHE.productKey(7)]);
    const ttl = await redis.ttl(CACHE.productKey(7));
    expect(ttl).toBeGreaterThan(PRODUCT_TTL_S - 60);
    expect(ttl).toBeLessThanOrEqual(PRODUCT_TTL_S);
  });

  it('caches quotes under quote:<code> with the short TTL', async () => {
    await redis.flushall();
    const miss = await sentBy('/api/quotes/QAB12');
    const hit = await sentBy('/api/quotes/QAB12');
    expect([miss.statements, hit.statements]).toEqual([[SQL.quotePrice], []]);
    expect(await redis.keys('*')).toEqual([CACHE.quoteKey('QAB12')]);
    const ttl = await redis.ttl(CACHE.quoteKey('QAB12'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(QUOTE_TTL_S);
  });
});

describe('demo app background job', () => {
  it('refreshes one customer digest per run, in turn: two queries, then a SET without expiry', async () => {
    await redis.flushall();
    const sets = await redisCalls('set');
    sent.length = 0;
    const stop = startDigestJob({ pool, redis, everyMs: 10 });
    const deadline = Date.now() + 10_000;
    while ((await redis.exists(CACHE.digestKey(3))) === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await stop();
    const keys = (await redis.keys('*')).sort();
    const runs = keys.length;
    expect(runs).toBeGreaterThanOrEqual(3);
    // Customers 1, 2, 3, … in turn, one key each, and nothing else.
    expect(keys).toEqual(Array.from({ length: runs }, (_, i) => CACHE.digestKey(i + 1)).sort());
    // The two queries of a run go out together (Promise.all): their order varies.
    expect([...sent].sort()).toEqual(
      Array.from({ length: runs }, () => [SQL.digestCustomer, SQL.digestTotals])
        .flat()
        .sort(),
    );
    expect(DIGEST_JOB.expect).toEqual({ queries: 2, cacheOps: 1 });
    expect((await redisCalls('set')) - sets).toBe(runs);
    // The seeded problem: no expiry.
    expect(await redis.ttl(CACHE.digestKey(1))).toBe(-1);
    const digest = JSON.parse((await redis.get(CACHE.digestKey(1))) ?? '{}');
    expect(digest.orders).toBeGreaterThan(0);
    expect(digest.name).toBe('Customer 1');
    // Stopped: no run after stop() resolved.
    await new Promise((r) => setTimeout(r, 100));
    expect(await redis.keys('*')).toHaveLength(runs);
  });

  it('reads one customer through indexes only: customers_pkey, orders_customer_created_idx', async () => {
    const client = new Client({ connectionString: stack.databaseUrl });
    await client.connect();
    try {
      const plans = [
        [SQL.digestCustomer, 'customers_pkey'],
        [SQL.digestTotals, 'orders_customer_created_idx'],
      ];
      for (const [statement, index] of plans) {
        const plan = await client.query(`EXPLAIN ${statement.replace('$1', '7')}`);
        const text = plan.rows.map((r) => r['QUERY PLAN']).join('\n');
        expect(text).toContain(index);
        expect(text).not.toContain('Seq Scan');
      }
    } finally {
      await client.end();
    }
  });
});

describe('demo database', () => {
  it('holds the declared row counts and scans every order to find one by reference', async () => {
    const client = new Client({ connectionString: stack.databaseUrl });
    await client.connect();
    try {
      const counts = await client.query(
        'SELECT (SELECT count(*) FROM orders)::int AS orders, (SELECT count(*) FROM order_items)::int AS items',
      );
      expect(counts.rows[0]).toEqual({
        orders: DATASET.ordersTotal,
        items: DATASET.ordersTotal * DATASET.itemsPerOrder,
      });
      expect(DATASET.ordersTotal).toBeGreaterThanOrEqual(100_000);
      const plan = await client.query(`EXPLAIN ${SQL.orderByReference.replace('$1', "'ORD-0000001'")}`);
      expect(plan.rows.map((r) => r['QUERY PLAN']).join('\n')).toMatch(/Seq Scan on orders/);
      const byId = await client.query(`EXPLAIN ${SQL.customerById.replace('$1', '1')}`);
      expect(byId.rows.map((r) => r['QUERY PLAN']).join('\n')).toMatch(/Index Scan/);
    } finally {
      await client.end();
    }
  });
});

describe('load driver', () => {
  it('drives the weighted mix and counts each answer under its route', async () => {
    const result = await runLoad(stack.appUrl, { durationMs: 1_500, concurrency: 4, seed: 7 });
    expect(result.requests).toBeGreaterThan(0);
    expect(result.errorSamples).toEqual([]);
    let total = 0;
    for (const [key, counts] of Object.entries(result.byRoute)) {
      expect(ROUTES.map((r) => r.key)).toContain(key);
      const statuses = Object.keys(counts.statuses).map(Number);
      const allowed = key === 'GET /api/orders/:id/invoice' ? [200, 500] : [200];
      expect(statuses.every((s) => allowed.includes(s))).toBe(true);
      total += counts.requests;
    }
    expect(total).toBe(result.requests);
    expect(result.errors).toBe(result.byRoute['GET /api/orders/:id/invoice']?.serverErrors ?? 0);
  });
});

function accepts(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((done) => {
    const socket = createConnection({ host: hostname, port: Number(port) });
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

// Last on purpose: it stops the stack the tests above share.
describe('stopping the demo stack', () => {
  it('stops the app, the sidecar, Redis and PostgreSQL and can be called twice', async () => {
    const urls = [
      stack.appUrl,
      stack.apiUrl ?? '',
      stack.receiverUrl ?? '',
      stack.redisUrl,
      stack.databaseUrl,
    ];
    expect(await Promise.all(urls.map(accepts))).toEqual([true, true, true, true, true]);
    await Promise.all([stack.stop(), stack.stop()]);
    await stack.stop();
    expect(await Promise.all(urls.map(accepts))).toEqual([false, false, false, false, false]);
  });
});
