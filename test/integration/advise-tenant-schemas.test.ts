/**
 * Schema per tenant on a real PostgreSQL: one statement run in three tenant schemas is one report row with the
 * calls of all three (so it is judged slow on their sum), shown as `tenant_*.orders`; its index advice names
 * `tenant_*.orders` yet reads a real tenant's table; no tenant's id appears in a report, recommendation,
 * metric or log line.
 */
import { Writable } from 'node:stream';
import { Client } from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalServer, startPostgres } from '../../scripts/lib/local-servers';
import { EACH_TABLE_NOTE } from '../../src/advise/templated-finding';
import { loadConfig } from '../../src/config';
import { type RunningSidecar, startSidecar } from '../../src/sidecar/sidecar';
import { after, protobufBody, readableSpan, T0 } from '../fixtures/otlp/spans';
import { getJson, postTraces, waitFor } from '../helpers/sidecar';

/** Rows per tenant's orders table: different, so the statistics read tell which tenant was checked. */
const TENANT_ROWS = { tenant_1: 60_000, tenant_2: 90_000, tenant_3: 30_000 } as const;
const TENANTS = Object.keys(TENANT_ROWS) as (keyof typeof TENANT_ROWS)[];
/** Calls per tenant: under advisor.slowQuery.minCalls (10) alone, over it together. */
const CALLS_PER_TENANT = 5;
/** A Knex-style query: schema-qualified columns, which libpg-query's fingerprint keeps apart per schema. */
const byCustomer = (schema: string) =>
  `SELECT ${schema}.orders.id, ${schema}.orders.total FROM ${schema}.orders WHERE ${schema}.orders.customer_id = $1`;
const TEMPLATED = byCustomer('tenant_*');
/** A filter on a column with a number of its own: the column keeps it, the schema does not. */
const byAddress = (schema: string) => `SELECT id FROM ${schema}.customers WHERE address_line_1 = $1`;

let pg: LocalServer;
let sidecar: RunningSidecar;
const logLines: string[] = [];

function dbSpan(schema: string, n: number, text = byCustomer(schema)) {
  const traceId = (n + 1).toString(16).padStart(32, 'a');
  return readableSpan({
    name: 'pg.query:SELECT shop',
    kind: 2,
    traceId,
    spanId: (n + 1).toString(16).padStart(16, 'b'),
    start: T0,
    end: after(T0, 150_000_000),
    attributes: { 'db.system.name': 'postgresql', 'db.query.text': text },
  });
}

beforeAll(async () => {
  pg = await startPostgres();
  const admin = new Client({ connectionString: pg.url });
  await admin.connect();
  for (const [schema, rows] of Object.entries(TENANT_ROWS)) {
    await admin.query(`
      CREATE SCHEMA ${schema};
      CREATE TABLE ${schema}.orders (id serial PRIMARY KEY, customer_id int NOT NULL, total numeric(10,2) NOT NULL);
      INSERT INTO ${schema}.orders (customer_id, total)
        SELECT 1 + (i % 5000), (i % 997) / 10.0 FROM generate_series(1, ${rows}) AS i;
      ANALYZE ${schema}.orders;
      CREATE TABLE ${schema}.customers (id serial PRIMARY KEY, address_line_1 text NOT NULL, address_line_2 text);
      INSERT INTO ${schema}.customers (address_line_1) SELECT 'street ' || i FROM generate_series(1, 20000) AS i;
      ANALYZE ${schema}.customers;`);
  }
  await admin.end();
  const config = loadConfig({
    env: {},
    overrides: {
      receiver: { port: 0 },
      api: { port: 0 },
      assembly: { idleMs: 300 },
      advisor: { postgresUrl: pg.url, intervalSeconds: 3600 },
    },
  });
  const logs = new Writable({
    write(chunk, _encoding, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  sidecar = await startSidecar(config, pino({ level: 'debug' }, logs));
  const spans = TENANTS.flatMap((schema, t) => [
    ...Array.from({ length: CALLS_PER_TENANT }, (_, i) => dbSpan(schema, t * 100 + i)),
    ...Array.from({ length: CALLS_PER_TENANT }, (_, i) =>
      dbSpan(schema, t * 100 + 50 + i, byAddress(schema)),
    ),
  ]);
  expect(await postTraces(sidecar, protobufBody(spans))).toBe(200);
}, 120_000);

afterAll(async () => {
  await sidecar?.shutdown();
  await pg?.stop();
});

interface QueryReportRow {
  statement: string;
  table: string;
  calls: number;
  fingerprint: string;
}

async function queryRows(): Promise<QueryReportRow[]> {
  const report = await getJson<{ rows: QueryReportRow[] }>(
    `${sidecar.apiUrl}/api/v1/reports/queries?window=all`,
  );
  return report.rows.filter((r) => r.statement.includes('orders'));
}

describe('a statement run in each tenant schema', () => {
  it('is one row with every tenant’s calls, shown with the schema as tenant_*', async () => {
    const rows = await waitFor(async () => {
      const found = await queryRows();
      return found.reduce((sum, r) => sum + r.calls, 0) === TENANTS.length * CALLS_PER_TENANT
        ? found
        : undefined;
    });
    expect(rows).toHaveLength(1);
    expect(rows?.[0]).toMatchObject({
      statement: TEMPLATED,
      table: 'tenant_*.orders',
      calls: TENANTS.length * CALLS_PER_TENANT,
    });
  });

  it('gets index advice on tenant_*.orders from one real tenant table’s statistics', async () => {
    await sidecar.advisor?.evaluateNow();
    const { recommendations } = await getJson<{
      recommendations: { kind: string; action: string; evidence: Record<string, unknown> }[];
    }>(`${sidecar.apiUrl}/api/v1/recommendations`);
    const advice = recommendations.find((r) => r.kind === 'missing-index' && r.action.includes('orders'));
    expect(advice?.action).toContain(
      'CREATE INDEX CONCURRENTLY orders_customer_id_idx ON tenant_*.orders (customer_id);',
    );
    expect(advice?.action).toContain(EACH_TABLE_NOTE);
    // The table's size as pg_class has it for the one tenant the check read (the first seen: tenant_1).
    const rows = Number(advice?.evidence.tableRows);
    expect(Object.values(TENANT_ROWS)).toContain(rows);
    expect(rows).toBe(TENANT_ROWS.tenant_1);
    expect(recommendations.some((r) => r.kind === 'slow-query')).toBe(true);
  });

  it('keeps a numbered column as written in the row and the advice, with the schema as tenant_*', async () => {
    const row = (
      await getJson<{ rows: QueryReportRow[] }>(`${sidecar.apiUrl}/api/v1/reports/queries?window=all`)
    ).rows.find((r) => r.statement.includes('customers'));
    expect(row).toMatchObject({ statement: byAddress('tenant_*'), calls: TENANTS.length * CALLS_PER_TENANT });
    await sidecar.advisor?.evaluateNow();
    const { recommendations } = await getJson<{ recommendations: { kind: string; action: string }[] }>(
      `${sidecar.apiUrl}/api/v1/recommendations`,
    );
    const advice = recommendations.find((r) => r.kind === 'missing-index' && r.action.includes('customers'));
    expect(advice?.action).toContain(
      'CREATE INDEX CONCURRENTLY customers_address_line_1_idx ON tenant_*.customers (address_line_1);',
    );
  });

  it('names no tenant in a report, recommendation, metric, page or log line', async () => {
    await sidecar.advisor?.evaluateNow();
    const outputs = [
      await (await fetch(`${sidecar.apiUrl}/api/v1/reports/queries?window=all`)).text(),
      await (await fetch(`${sidecar.apiUrl}/api/v1/recommendations`)).text(),
      await (await fetch(`${sidecar.apiUrl}/metrics`)).text(),
      await (await fetch(`${sidecar.apiUrl}/`)).text(),
      logLines.join(''),
    ];
    expect(outputs[2]).toContain('tenant_*.orders');
    expect(logLines.join('')).toContain('tenant_*.orders');
    for (const text of outputs) for (const tenant of TENANTS) expect(text).not.toContain(tenant);
  });
});
