'use strict';
/**
 * The demo app's contract in one place: dataset sizes, the SQL it runs, its cache keys and TTLs,
 * and per route the path generator the load driver uses plus what one request is expected to do
 * (queries, cache commands, status). The app, the seed, the load driver and the tests all read this.
 */

const DATASET = Object.freeze({
  customers: 1_000,
  /** orders.customer_id = 1 + (id % customers): every customer has ordersTotal / customers orders. */
  ordersTotal: 150_000,
  itemsPerOrder: 2,
  products: 50,
});

/** The N+1 route lists exactly this many orders, then runs one item query per order. */
const RECENT_ORDERS = 10;
/** GET /api/orders/:id/invoice answers 500 for every id divisible by this. */
const FAIL_EVERY = 5;
const PRODUCT_TTL_S = 3_600;
const QUOTE_TTL_S = 5;
/** Distinct quote codes the load driver draws from (large → low hit rate). */
const QUOTE_CODES = 5_000;
const POOL_MAX_DEFAULT = 10;
/** The refresh-digest job runs this often (ms) in the app process; DIGEST_EVERY_MS overrides, 0 turns it off. */
const DIGEST_EVERY_MS_DEFAULT = 300;

const SQL = Object.freeze({
  customerById: 'SELECT id, name, email, created_at FROM customers WHERE id = $1',
  // Constant literal on purpose: the report shows it replaced by a placeholder.
  recentOrders:
    "SELECT id, status, total, created_at FROM orders WHERE customer_id = $1 AND status <> 'cancelled' " +
    `ORDER BY created_at DESC LIMIT ${RECENT_ORDERS}`,
  itemsOfOrder: 'SELECT product_id, quantity, unit_price FROM order_items WHERE order_id = $1',
  // orders.reference has no index: a sequential scan over every order.
  orderByReference: 'SELECT id, customer_id, status, total FROM orders WHERE reference = $1',
  productById: 'SELECT id, name, price_cents FROM products WHERE id = $1',
  quotePrice: 'SELECT round(avg(total), 2) AS price, count(*) AS orders FROM orders WHERE customer_id = $1',
  /** Legacy style: the (validated) id is inlined as a literal, so every id is a different raw text. */
  invoice: (id) => `SELECT id, customer_id, total, status, created_at FROM orders WHERE id = ${Number(id)}`,
  // The refresh-digest job, per customer: a primary-key look-up, and totals read through
  // orders_customer_created_idx (~150 rows).
  digestCustomer: 'SELECT name, email FROM customers WHERE id = $1',
  digestTotals:
    'SELECT count(*) AS orders, coalesce(sum(total), 0) AS spent, max(created_at) AS last_order_at ' +
    "FROM orders WHERE customer_id = $1 AND status <> 'cancelled'",
});

const CACHE = Object.freeze({
  productKey: (id) => `product:${id}`,
  quoteKey: (code) => `quote:${code}`,
  /** Written by the refresh-digest job with a plain SET: no expiry. */
  digestKey: (customerId) => `digest:${customerId}`,
});

/** The background job the app runs besides its routes; the endpoint report shows it as `JOB <name>`. */
const DIGEST_JOB = Object.freeze({
  name: 'refresh-digest',
  key: 'JOB refresh-digest',
  /** Per run: one customer, these queries and cache commands. */
  expect: { queries: 2, cacheOps: 1 },
});

function intIn(rng, min, max) {
  return min + Math.floor(rng() * (max - min + 1));
}

function quoteCode(n) {
  return `Q${n.toString(36).toUpperCase().padStart(4, '0')}`;
}

function orderReference(orderId) {
  return `ORD-${String(orderId).padStart(7, '0')}`;
}

/** Customer a quote code prices against (stable hash, so a code always maps to the same row). */
function quoteCustomer(code) {
  let h = 0;
  for (let i = 0; i < code.length; i++) h = (h * 31 + code.charCodeAt(i)) >>> 0;
  return 1 + (h % DATASET.customers);
}

/**
 * Demo routes. `key` is `METHOD route` as the endpoint report prints it. `expect` gives, per request:
 * `queries` and `cacheOps` (for cache-aside routes: on a miss), `queriesOnHit`/`cacheOpsOnHit` on a hit,
 * and `status(path)` for paths the load driver generates.
 */
const ROUTES = Object.freeze([
  {
    name: 'customer',
    key: 'GET /api/customers/:id',
    weight: 25,
    path: (rng) => `/api/customers/${intIn(rng, 1, DATASET.customers)}`,
    expect: { queries: 1, cacheOps: 0, status: () => 200 },
  },
  {
    name: 'recent-orders',
    key: 'GET /api/customers/:id/recent-orders',
    weight: 10,
    path: (rng) => `/api/customers/${intIn(rng, 1, DATASET.customers)}/recent-orders`,
    expect: { queries: 1 + RECENT_ORDERS, cacheOps: 0, status: () => 200 },
  },
  {
    name: 'order-by-reference',
    key: 'GET /api/orders/by-reference/:ref',
    weight: 5,
    path: (rng) => `/api/orders/by-reference/${orderReference(intIn(rng, 1, DATASET.ordersTotal))}`,
    expect: { queries: 1, cacheOps: 0, status: () => 200 },
  },
  {
    name: 'product',
    key: 'GET /api/products/:id',
    weight: 30,
    path: (rng) => `/api/products/${intIn(rng, 1, DATASET.products)}`,
    expect: { queries: 1, cacheOps: 2, queriesOnHit: 0, cacheOpsOnHit: 1, status: () => 200 },
  },
  {
    name: 'quote',
    key: 'GET /api/quotes/:code',
    weight: 15,
    path: (rng) => `/api/quotes/${quoteCode(intIn(rng, 0, QUOTE_CODES - 1))}`,
    expect: { queries: 1, cacheOps: 2, queriesOnHit: 0, cacheOpsOnHit: 1, status: () => 200 },
  },
  {
    name: 'invoice',
    key: 'GET /api/orders/:id/invoice',
    weight: 15,
    path: (rng) => `/api/orders/${intIn(rng, 1, DATASET.ordersTotal)}/invoice`,
    expect: {
      queries: 1,
      cacheOps: 0,
      status: (path) => (Number(path.split('/')[3]) % FAIL_EVERY === 0 ? 500 : 200),
    },
  },
]);

const HEALTH_ROUTE = Object.freeze({ name: 'healthz', key: 'GET /healthz', path: () => '/healthz' });

module.exports = {
  DATASET,
  RECENT_ORDERS,
  FAIL_EVERY,
  PRODUCT_TTL_S,
  QUOTE_TTL_S,
  QUOTE_CODES,
  POOL_MAX_DEFAULT,
  DIGEST_EVERY_MS_DEFAULT,
  SQL,
  CACHE,
  DIGEST_JOB,
  ROUTES,
  HEALTH_ROUTE,
  quoteCode,
  quoteCustomer,
  orderReference,
};
