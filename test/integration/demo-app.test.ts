import type { Server } from 'node:http';
import { Redis } from 'ioredis';
import { Client, Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../examples/demo-app/app';
import {
  CACHE,
  DATASET,
  FAIL_EVERY,
  PRODUCT_TTL_S,
  QUOTE_TTL_S,
  RECENT_ORDERS,
  ROUTES,
  SQL,
} from '../../examples/demo-app/routes';
import { type DemoStack, httpStatus, startDemoStack } from '../../scripts/lib/demo-stack';
import { runLoad, runScript, seededRandom } from '../../scripts/lib/load-driver';

// The app as `npm run demo` runs it (child process, seeded database), without the preload or sidecar.
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
  stack = await startDemoStack({ sidecar: false });
  pool = new Pool({ connectionString: stack.databaseUrl, max: 2, Client: RecordingClient });
  redis = new Redis(stack.redisUrl);
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
