'use strict';
/**
 * The demo app's background job: every few hundred milliseconds `refresh-digest` recomputes one
 * customer's account digest (name, order count, amount spent, last order: two queries) and stores it under `digest:<customerId>` for the dashboard to read. Customers are taken in turn.
 *
 * Its problem: the digest is written with a plain SET, no expiry. Digests of customers who stopped
 * ordering (or were deleted) stay in Redis for good, one key per customer — spanstat's
 * cache-no-expiry advice. Each run is a unit of work (`runJob`), so the endpoint report shows
 * `JOB refresh-digest` beside the routes; without the preload runJob just calls the function.
 */
const { runJob } = require('spanstat/job');
const { CACHE, DATASET, DIGEST_JOB, SQL } = require('./routes');

async function refreshDigest(pool, redis, customerId) {
  const [customer, totals] = await Promise.all([
    pool.query(SQL.digestCustomer, [customerId]),
    pool.query(SQL.digestTotals, [customerId]),
  ]);
  const { orders, spent, last_order_at: lastOrderAt } = totals.rows[0];
  const digest = { name: customer.rows[0]?.name, orders: Number(orders), spent, lastOrderAt };
  await redis.set(CACHE.digestKey(customerId), JSON.stringify(digest));
}

/**
 * Runs refresh-digest every `everyMs` (after the previous run ends: runs never overlap) until the
 * returned function is called; that resolves once the run in progress, if any, has ended.
 */
function startDigestJob({ pool, redis, everyMs }) {
  let next = 1;
  let stopped = false;
  let running = Promise.resolve();
  let timer;
  const tick = () => {
    const customerId = next;
    next = (next % DATASET.customers) + 1;
    running = runJob(DIGEST_JOB.name, () => refreshDigest(pool, redis, customerId))
      // Codes only: pg's messages can quote parameter values.
      .catch((err) => console.error(`${DIGEST_JOB.name} failed: ${err.code ?? err.name}`))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, everyMs);
      });
  };
  timer = setTimeout(tick, everyMs);
  return () => {
    stopped = true;
    clearTimeout(timer);
    return running;
  };
}

module.exports = { startDigestJob };
