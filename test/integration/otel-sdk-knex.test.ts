/**
 * A knex app traced by the stock OpenTelemetry setup (NodeSDK + auto-instrumentations-node, whose
 * defaults include both instrumentation-knex and instrumentation-pg) exporting to the sidecar: each
 * knex query is a knex span with pg's span of the same query beneath it. The sidecar must count each
 * query once (it counted 8 queries per request for 4), under the driver's numbered text (knex's own
 * has `?` placeholders, which are not PostgreSQL).
 */
import { join } from 'node:path';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalServer, startPostgres } from '../../scripts/lib/local-servers';
import type { EndpointRow, QueryRow, Report } from '../../src/reports/types';
import type { RunningSidecar } from '../../src/sidecar/sidecar';
import { type AppRun, assertBuilt, REPO_ROOT, startApp } from '../fixtures/preload-app/harness';
import { getJson, startTestSidecar, waitFor } from '../helpers/sidecar';

const ORDERS = 6;
const TOUCHES = 3;

let pg: LocalServer;
let sidecar: RunningSidecar;
let app: AppRun;

beforeAll(async () => {
  assertBuilt();
  // The stock SDK exports in batches: under load a request's spans can arrive over 300 ms apart.
  [pg, sidecar] = await Promise.all([startPostgres(), startTestSidecar({ assembly: { idleMs: 1500 } })]);
  const db = new Client({ connectionString: pg.url });
  await db.connect();
  await db.query(`
    CREATE TABLE orders (id int PRIMARY KEY, total int);
    CREATE TABLE items (id serial PRIMARY KEY, order_id int, pos int, sku text);
    INSERT INTO orders SELECT g, g FROM generate_series(1, ${ORDERS}) g;
    INSERT INTO items (order_id, pos, sku) SELECT 1 + g % ${ORDERS}, g % 3, 'sku-' || g FROM generate_series(1, 60) g`);
  await db.end();
  app = await startApp({
    script: 'knex-app.js',
    preload: false,
    nodeArgs: ['--require', join(REPO_ROOT, 'bench', 'stock-otel-preload.js')],
    env: {
      PG_URL: pg.url,
      OTEL_SERVICE_NAME: 'knex-shop',
      OTEL_EXPORTER_OTLP_ENDPOINT: sidecar.receiverUrl,
      OTEL_BSP_SCHEDULE_DELAY: '100',
    },
  });
}, 60_000);

afterAll(async () => {
  await app?.stop();
  await Promise.all([sidecar?.shutdown(), pg?.stop()]);
});

async function rows<T>(report: string): Promise<T[]> {
  const body = await getJson<Report<T>>(
    `${sidecar.apiUrl}/api/v1/reports/${report}?service=knex-shop&limit=100`,
  );
  return body.rows;
}

describe('knex under the stock OpenTelemetry SDK', () => {
  it('counts each query once, under the statement pg ran', async () => {
    for (let id = 1; id <= ORDERS; id++) expect(await app.get(`/orders/${id}`)).toBe(200);
    for (let id = 1; id <= TOUCHES; id++) {
      const res = await fetch(`http://127.0.0.1:${app.port}/orders/${id}/touch`, { method: 'POST' });
      expect(res.status).toBe(200);
    }
    const endpoints = await waitFor(async () => {
      const found = await rows<EndpointRow>('endpoints');
      return found.reduce((n, r) => n + r.requests, 0) >= ORDERS + TOUCHES ? found : undefined;
    });
    const byRoute = (endpoints ?? [])
      .map((r) => [`${r.method} ${r.route}`, r.requests, r.queriesPerRequest])
      .sort();
    expect(byRoute).toEqual([
      ['GET /orders/:id', ORDERS, 4],
      ['POST /orders/:id/touch', TOUCHES, 4],
    ]);

    const queries = await rows<QueryRow>('queries');
    const calls = Object.fromEntries(queries.map((q) => [q.statement, q.calls]));
    expect(calls).toMatchObject({
      'select * from "orders" where "id" = $1 limit $2': ORDERS,
      'select "id", "sku" from "items" where "order_id" = $1 and "pos" = $2': 3 * ORDERS,
      'update "orders" set "total" = $1 where "id" = $2': TOUCHES,
      'insert into "items" ("order_id", "pos", "sku") values ($1, $2, $3)': TOUCHES,
      'BEGIN;': TOUCHES,
      'COMMIT;': TOUCHES,
    });
    // No row in knex's own placeholder syntax: every knex span counted as the pg query beneath it.
    expect(queries.filter((q) => /\?/.test(q.statement))).toEqual([]);
  }, 60_000);
});
