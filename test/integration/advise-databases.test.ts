/**
 * A collector serving two services on two databases of a real PostgreSQL (`advisor.databases`): the
 * same statement gets a missing index where its service's database lacks one and nothing where it has
 * it; a table only the second database holds gets its CREATE INDEX; a lock wait in the second
 * database is sampled there and advised for its service; the status names each database without its
 * credentials, and no literal shows.
 */
import { resourceFromAttributes } from '@opentelemetry/resources';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalServer, startPostgres } from '../../scripts/lib/local-servers';
import type { Recommendation } from '../../src/advise/types';
import type { RunningSidecar } from '../../src/sidecar/sidecar';
import { after, protobufBody, readableSpan, T0 } from '../fixtures/otlp/spans';
import { getJson, postTraces, startTestSidecar, waitFor } from '../helpers/sidecar';

const SHOP = 'shop-api';
const BILLING = 'billing-api';
/** One statement both services run: orders has no index on customer_id in shop's database, one in billing's. */
const BY_CUSTOMER = 'SELECT id, total FROM orders WHERE customer_id = $1';
/** A table only billing's database has. */
const BY_ACCOUNT = 'SELECT id, amount FROM invoices WHERE account_id = $1';
const HOLDER_SQL = 'UPDATE ledgers SET balance = balance + 1 WHERE id = 42';
const WAITER_SQL = 'UPDATE ledgers SET balance = balance - $1 WHERE id = $2';
/** The billing role's password: no status, recommendation or log line may show it. */
const PASSWORD = 'hunter2-billing';

let pg: LocalServer;
/** billing's database as the advisor reads it (its own role), and as the test's superuser does. */
let billingUrl: string;
let billingAdminUrl: string;
let sidecar: RunningSidecar;
const logLines: string[] = [];
const clients: Client[] = [];

async function connect(url: string): Promise<Client> {
  const c = new Client({ connectionString: url });
  await c.connect();
  clients.push(c);
  return c;
}

function dbSpan(service: string, n: number, text: string) {
  return readableSpan({
    name: 'pg.query:SELECT',
    kind: 2,
    traceId: (n + 1).toString(16).padStart(32, 'c'),
    spanId: (n + 1).toString(16).padStart(16, 'd'),
    start: T0,
    end: after(T0, 150_000_000),
    attributes: { 'db.system.name': 'postgresql', 'db.query.text': text },
    resource: resourceFromAttributes({ 'service.name': service, 'host.name': 'box-1' }),
  });
}

beforeAll(async () => {
  pg = await startPostgres();
  const admin = await connect(pg.url);
  await admin.query(`
    CREATE TABLE orders (id serial PRIMARY KEY, customer_id int NOT NULL, total numeric(10,2) NOT NULL);
    INSERT INTO orders (customer_id, total) SELECT 1 + (i % 5000), i % 997 FROM generate_series(1, 60000) AS i;
    ANALYZE orders;
    CREATE ROLE billing_ro LOGIN PASSWORD '${PASSWORD}';`);
  // Alone: CREATE DATABASE cannot run in the implicit transaction of a multi-statement query.
  await admin.query('CREATE DATABASE billing');
  const url = new URL(pg.url);
  url.pathname = '/billing';
  billingAdminUrl = url.toString();
  const billingAdmin = await connect(billingAdminUrl);
  await billingAdmin.query(`
    CREATE TABLE orders (id serial PRIMARY KEY, customer_id int NOT NULL, total numeric(10,2) NOT NULL);
    INSERT INTO orders (customer_id, total) SELECT 1 + (i % 5000), i % 997 FROM generate_series(1, 60000) AS i;
    CREATE INDEX orders_customer_id_idx ON orders (customer_id);
    ANALYZE orders;
    CREATE TABLE invoices (id serial PRIMARY KEY, account_id int NOT NULL, amount numeric(10,2) NOT NULL);
    INSERT INTO invoices (account_id, amount) SELECT 1 + (i % 4000), i % 991 FROM generate_series(1, 80000) AS i;
    ANALYZE invoices;
    CREATE TABLE ledgers (id int PRIMARY KEY, balance numeric(12,2) NOT NULL);
    INSERT INTO ledgers SELECT i, 1000 FROM generate_series(1, 100) AS i;
    GRANT pg_monitor TO billing_ro;`);
  url.username = 'billing_ro';
  url.password = PASSWORD;
  url.pathname = '/billing';
  billingUrl = url.toString();
  sidecar = await startTestSidecar(
    {
      advisor: {
        postgresUrl: pg.url,
        databases: [{ url: billingUrl, services: [BILLING] }],
        intervalSeconds: 3600,
        lockSampleMs: 100,
      },
    },
    (line) => logLines.push(JSON.stringify(line)),
  );
  const spans = [
    ...Array.from({ length: 12 }, (_, i) => dbSpan(SHOP, i, BY_CUSTOMER)),
    ...Array.from({ length: 12 }, (_, i) => dbSpan(BILLING, 100 + i, BY_CUSTOMER)),
    ...Array.from({ length: 12 }, (_, i) => dbSpan(BILLING, 200 + i, BY_ACCOUNT)),
  ];
  expect(await postTraces(sidecar, protobufBody(spans))).toBe(200);
}, 120_000);

afterAll(async () => {
  await sidecar?.shutdown();
  for (const c of clients) await c.end().catch(() => undefined);
  await pg?.stop();
});

async function evaluated(): Promise<Recommendation[]> {
  const advisor = sidecar.advisor;
  if (advisor === undefined) throw new Error('the sidecar has no advisor');
  await waitFor(async () => {
    const body = await getJson<{ rows: { calls: number }[] }>(
      `${sidecar.apiUrl}/api/v1/reports/queries?window=all`,
    );
    return body.rows.reduce((n, r) => n + r.calls, 0) === 36 ? true : undefined;
  });
  await advisor.evaluateNow();
  return advisor.list({ state: 'active' });
}

describe('a collector whose services run on two databases', () => {
  it("checks each service's statements on its own database", async () => {
    const recs = await evaluated();
    const missing = recs
      .filter((r) => r.kind === 'missing-index')
      .map((r) => [r.service, r.action.match(/CREATE INDEX[^;]*;/)?.[0]]);
    expect(missing.sort()).toEqual([
      [BILLING, 'CREATE INDEX CONCURRENTLY invoices_account_id_idx ON invoices (account_id);'],
      [SHOP, 'CREATE INDEX CONCURRENTLY orders_customer_id_idx ON orders (customer_id);'],
    ]);
    // billing's orders has the index: its slow-query advice says the index is there, read from its database.
    const billingOrders = recs.find(
      (r) =>
        r.kind === 'slow-query' &&
        r.service === BILLING &&
        String(r.evidence.statement ?? r.title).includes('orders'),
    );
    expect(billingOrders?.evidence).toMatchObject({ indexChecked: true });
    expect(JSON.stringify(billingOrders)).toContain('orders_customer_id_idx');
    const invoices = recs.find((r) => r.kind === 'missing-index' && r.service === BILLING);
    expect(invoices?.evidence).toMatchObject({ table: 'invoices', tableRows: expect.any(Number) });
    expect(Number(invoices?.evidence.tableRows)).toBeGreaterThan(70_000);
  });

  it("samples each database's locks, and names the databases without credentials", async () => {
    type Status = {
      advisor: {
        lockSampling: { samples: number } | null;
        databases: {
          database: string;
          services: string[] | null;
          lockSampling: { samples: number } | null;
        }[];
      };
    };
    const url = `${sidecar.apiUrl}/api/v1/recommendations`;
    const status = await waitFor(async () => {
      const body = await getJson<Status>(url);
      return body.advisor.databases.every((d) => (d.lockSampling?.samples ?? 0) >= 2) ? body : undefined;
    });
    if (status === undefined) throw new Error('a database was not sampled twice in 15 s');
    expect(status.advisor.databases.map((d) => [d.database, d.services])).toEqual([
      [expect.stringMatching(/^billing@127\.0\.0\.1:\d+$/), [BILLING]],
      [expect.stringMatching(/^postgres@127\.0\.0\.1:\d+$/), null],
    ]);
    // A row lock held idle in transaction in billing's database, and an UPDATE waiting on it.
    const holder = await connect(billingAdminUrl);
    const waiter = await connect(billingAdminUrl);
    await holder.query("SET idle_in_transaction_session_timeout = '60s'");
    await waiter.query("SET statement_timeout = '30s'");
    await holder.query('BEGIN');
    await holder.query(HOLDER_SQL);
    const waiting = waiter.query(WAITER_SQL, [7319, 42]);
    waiting.catch(() => undefined);
    try {
      const summary = await waitFor(async () => {
        const advisor = sidecar.advisor;
        await advisor?.evaluateNow();
        const idle = advisor?.list({ kind: 'idle-in-transaction', state: 'active' }) ?? [];
        return idle.length > 0 ? idle : undefined;
      });
      expect(JSON.stringify(summary)).toContain('UPDATE ledgers SET balance = balance + $1 WHERE id = $2');
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await waiting.catch(() => undefined);
    }
    const everything = JSON.stringify(await getJson(url)) + logLines.join('');
    expect(everything).not.toContain(PASSWORD);
    expect(everything).not.toMatch(/(?<!\d)7319(?!\d)/);
  });
});
