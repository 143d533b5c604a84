import { Client } from 'pg';

/** Planted in the orders data: no report, metric, page, recommendation or state file may show them. */
export const SECRET_REFERENCE = 'ORD-7731-SECRET';
export const SECRET_CUSTOMER = 'customer-4242';
/** Items per order: the N+1 release of test/fixtures/deploy-app runs one query per item. */
export const ITEMS = 10;

/** The tables test/fixtures/deploy-app/orders-app.js reads: five orders of ITEMS items each. */
export async function seedOrders(url: string): Promise<void> {
  const db = new Client({ connectionString: url });
  await db.connect();
  try {
    await db.query(
      'CREATE TABLE orders (id int PRIMARY KEY, reference text NOT NULL, customer text NOT NULL)',
    );
    await db.query(
      'CREATE TABLE order_items (id serial PRIMARY KEY, order_id int NOT NULL, sku text, qty int)',
    );
    await db.query(`INSERT INTO orders SELECT g, $1 || g, $2 FROM generate_series(1, 5) g`, [
      SECRET_REFERENCE,
      SECRET_CUSTOMER,
    ]);
    await db.query(
      `INSERT INTO order_items (order_id, sku, qty) SELECT o, 'sku-' || i, i FROM generate_series(1, 5) o, generate_series(1, ${ITEMS}) i`,
    );
  } finally {
    await db.end();
  }
}
