'use strict';
/**
 * A small shop API with the problems spanstat should find: an N+1 route, a filter on an unindexed
 * column, a cache with a good and one with a poor hit rate, a route that fails a fixed share, and a
 * background job (digest-job.js) that writes per-customer keys without an expiry.
 *
 *   PORT=3000 DATABASE_URL=postgres://… REDIS_URL=redis://… node --require spanstat/preload app.js
 *
 * Env: PORT (0 = ephemeral; default 3000), DATABASE_URL, REDIS_URL, PG_POOL_MAX (default 10),
 * DIGEST_EVERY_MS (the refresh-digest job's period; default 300, 0 = no job).
 * Once listening it prints exactly one line `listening on <port>` to stdout.
 */
const express = require('express');
const { Pool } = require('pg');
const { Redis } = require('ioredis');
const { startDigestJob } = require('./digest-job');
const {
  CACHE,
  DIGEST_EVERY_MS_DEFAULT,
  FAIL_EVERY,
  POOL_MAX_DEFAULT,
  PRODUCT_TTL_S,
  QUOTE_TTL_S,
  quoteCustomer,
  SQL,
} = require('./routes');

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function positiveInt(value) {
  const n = Number(value);
  if (!/^\d{1,9}$/.test(value) || n < 1) throw new HttpError(400, 'id must be a positive integer');
  return n;
}

async function one(pool, text, values) {
  const { rows } = await pool.query(text, values);
  if (rows.length === 0) throw new HttpError(404, 'not found');
  return rows[0];
}

function customersRouter(pool) {
  const router = express.Router();
  router.get('/:id', async (req, res) => {
    res.json(await one(pool, SQL.customerById, [positiveInt(req.params.id)]));
  });
  // N+1: one query for the list, then one per order, awaited in turn.
  router.get('/:id/recent-orders', async (req, res) => {
    const { rows: orders } = await pool.query(SQL.recentOrders, [positiveInt(req.params.id)]);
    if (orders.length === 0) throw new HttpError(404, 'no orders');
    for (const order of orders) {
      order.items = (await pool.query(SQL.itemsOfOrder, [order.id])).rows;
    }
    res.json(orders);
  });
  return router;
}

function apiRouter(pool, redis) {
  const api = express.Router();
  api.use('/customers', customersRouter(pool));

  api.get('/orders/by-reference/:ref', async (req, res) => {
    if (!/^ORD-\d{7}$/.test(req.params.ref)) throw new HttpError(400, 'reference looks like ORD-0000001');
    res.json(await one(pool, SQL.orderByReference, [req.params.ref]));
  });

  api.get('/orders/:id/invoice', async (req, res) => {
    const id = positiveInt(req.params.id);
    const order = await one(pool, SQL.invoice(id));
    // Stand-in for a flaky downstream (payment provider): deterministic so tests know the counts.
    if (id % FAIL_EVERY === 0)
      throw Object.assign(new HttpError(500, 'payment provider timed out'), { quiet: true });
    res.json({ invoice: `INV-${order.id}`, total: order.total, status: order.status });
  });

  // Cache-aside over a small id set with a long TTL: nearly every read hits.
  api.get('/products/:id', async (req, res) => {
    const id = positiveInt(req.params.id);
    const key = CACHE.productKey(id);
    const cached = await redis.get(key);
    if (cached !== null) return res.type('json').send(cached);
    const body = JSON.stringify(await one(pool, SQL.productById, [id]));
    await redis.set(key, body, 'EX', PRODUCT_TTL_S);
    res.type('json').send(body);
  });

  // Cache-aside over many codes with a short TTL: most reads miss.
  api.get('/quotes/:code', async (req, res) => {
    const code = req.params.code;
    if (!/^[A-Z0-9]{1,12}$/.test(code)) throw new HttpError(400, 'code is 1-12 of A-Z0-9');
    const key = CACHE.quoteKey(code);
    const cached = await redis.get(key);
    if (cached !== null) return res.type('json').send(cached);
    const { rows } = await pool.query(SQL.quotePrice, [quoteCustomer(code)]);
    const body = JSON.stringify({ code, price: rows[0].price, basedOnOrders: Number(rows[0].orders) });
    await redis.set(key, body, 'EX', QUOTE_TTL_S);
    res.type('json').send(body);
  });
  return api;
}

/** The express app over a pg Pool and an ioredis client the caller owns. */
function createApp({ pool, redis }) {
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => res.json({ ok: true }));
  app.use('/api', apiRouter(pool, redis));
  app.use((_req, res) => res.status(404).json({ error: 'no such route' }));
  app.use((err, _req, res, _next) => {
    const status = err instanceof HttpError ? err.status : 500;
    // Log codes only: messages from pg can quote parameter values.
    if (status >= 500 && !err.quiet) console.error(`request failed: ${err.code ?? err.name}`);
    res.status(status).json({ error: err instanceof HttpError ? err.message : 'internal error' });
  });
  return app;
}

function main() {
  const { DATABASE_URL, REDIS_URL } = process.env;
  if (!DATABASE_URL || !REDIS_URL) {
    console.error('demo-app: DATABASE_URL and REDIS_URL must be set');
    process.exit(2);
  }
  const pool = new Pool({
    connectionString: DATABASE_URL,
    max: Number(process.env.PG_POOL_MAX ?? POOL_MAX_DEFAULT),
  });
  pool.on('error', (err) => console.error(`pg pool error: ${err.code ?? err.name}`));
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  redis.on('error', (err) => console.error(`redis error: ${err.code ?? err.name}`));

  const server = createApp({ pool, redis }).listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
    console.log(`listening on ${server.address().port}`);
  });
  server.on('error', (err) => {
    console.error(`demo-app: cannot listen: ${err.message}`);
    process.exit(1);
  });

  const digestEveryMs = Number(process.env.DIGEST_EVERY_MS ?? DIGEST_EVERY_MS_DEFAULT);
  const stopDigestJob =
    digestEveryMs > 0 ? startDigestJob({ pool, redis, everyMs: digestEveryMs }) : async () => {};

  // Close everything and let the loop drain, so the preload's beforeExit flush still runs.
  let closing = false;
  const shutdown = () => {
    if (closing) return;
    closing = true;
    server.close();
    server.closeAllConnections();
    // The job's run in progress still needs its clients: end them after it.
    void stopDigestJob().then(() => Promise.allSettled([pool.end(), redis.quit()]));
    setTimeout(() => process.exit(0), 5_000).unref();
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

module.exports = { createApp };

if (require.main === module) main();
