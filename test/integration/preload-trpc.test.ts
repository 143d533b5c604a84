/**
 * A tRPC 11 API under the preload, exporting to the sidecar: each request is named by the procedure it
 * called — `GET /trpc (query orders.list)` — with its own percentiles, queries per request, errors and
 * N+1 advice; a batch of distinct procedures is named by them, a path the router does not have keeps the
 * plain route, a cap bounds the rows; neither the input nor a made-up path reaches any output. Through
 * the Express adapter and the fetch adapter in a CommonJS app (trpc-app.js), and the standalone
 * server, with no framework, in an ES module app (trpc-app.mjs), its Fastify plugin
 * (trpc-fastify-app.js); and tRPC 10 (test/fixtures/compat's)
 * through the CommonJS app.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalServer, startPostgres, startRedis } from '../../scripts/lib/local-servers';
import type { RunningSidecar } from '../../src/sidecar/sidecar';
import { type AppRun, assertBuilt, startApp } from '../fixtures/preload-app/harness';
import { COMPAT_DIR, installedPins } from '../helpers/compat-fixture';
import { endpointRowsOf, routeFigures } from '../helpers/route-rows';
import { activeNPlusOne, startTestSidecar } from '../helpers/sidecar';
import { sidecarOutputs } from '../helpers/unrouted-paths';

const SERVICE = 'trpc-app';
const ESM_SERVICE = 'trpc-esm-app';
const TRPC10_SERVICE = 'trpc10-app';
const FASTIFY_SERVICE = 'trpc-fastify-app';
/** Distinct procedures per route with rows of their own (http.trpcProceduresPerRoute). */
const CAP = 4;
/** Planted in inputs and made-up paths: no output may show them. */
const SECRETS = ['zebediah', 'marmalade'];

let pg: LocalServer;
let redis: LocalServer;
let sidecar: RunningSidecar;
let app: AppRun;
let esmApp: AppRun;
/** trpc-app.js on test/fixtures/compat's tRPC 10. */
let trpc10App: AppRun;
/** tRPC's Fastify plugin (trpc-fastify-app.js). */
let fastifyApp: AppRun;

beforeAll(async () => {
  assertBuilt();
  installedPins(COMPAT_DIR);
  [pg, redis, sidecar] = await Promise.all([
    startPostgres(),
    startRedis(),
    startTestSidecar({
      assembly: { idleMs: 3_000 },
      advisor: { intervalSeconds: 3600 },
      http: { trpcProceduresPerRoute: CAP },
    }),
  ]);
  const env = (service: string) => ({
    PG_URL: pg.url,
    REDIS_URL: redis.url,
    OTEL_EXPORTER_OTLP_ENDPOINT: sidecar.receiverUrl,
    OTEL_BSP_SCHEDULE_DELAY: '100',
    OTEL_SERVICE_NAME: service,
  });
  [app, esmApp, trpc10App, fastifyApp] = await Promise.all([
    startApp({ script: 'trpc-app.js', env: env(SERVICE) }),
    startApp({ script: 'trpc-app.mjs', env: env(ESM_SERVICE) }),
    startApp({ script: 'trpc-app.js', env: { ...env(TRPC10_SERVICE), TRPC_FROM: COMPAT_DIR } }),
    startApp({ script: 'trpc-fastify-app.js', env: env(FASTIFY_SERVICE) }),
  ]);
}, 120_000);

afterAll(async () => {
  await Promise.all([app?.stop(), esmApp?.stop(), trpc10App?.stop(), fastifyApp?.stop()]);
  await Promise.all([sidecar?.shutdown(), pg?.stop(), redis?.stop()]);
});

/** A request: method, path (with the query string), JSON body, expected status. */
type Call = [method: 'GET' | 'POST', path: string, body: unknown, status: number];

/** `GET <endpoint>/<procedure>?input=…` with a JSON input in the query string, as tRPC's client sends a query. */
function query(endpoint: string, procedure: string, input?: unknown, status = 200): Call {
  const search = input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`;
  return ['GET', `${endpoint}/${procedure}${search}`, undefined, status];
}

/** A batch of queries (`a,b?batch=1&input={"0":…}`), as httpBatchLink sends them. */
function batch(endpoint: string, procedures: string[]): Call {
  const input = encodeURIComponent(JSON.stringify({}));
  return ['GET', `${endpoint}/${procedures.join(',')}?batch=1&input=${input}`, undefined, 200];
}

/**
 * The calls each test sends to `endpoint`, with the statuses tRPC answers. With the cap at 4, a route's
 * first two procedures take rows as they come (GET: me, orders.list); `fail`'s first request, and the
 * batch's, find only the rows for names seen twice left and share `(other operation)`; their second
 * requests get rows.
 */
function callsTo(endpoint: string): Call[] {
  return [
    query(endpoint, 'me'),
    query(endpoint, 'me', { note: SECRETS[1] }),
    query(endpoint, 'me'),
    ...Array.from({ length: 3 }, () => query(endpoint, 'orders.list')),
    ['POST', `${endpoint}/orders.touch`, { id: '4711', note: SECRETS[0] }, 200],
    ['POST', `${endpoint}/orders.touch`, { id: '4712', note: SECRETS[0] }, 200],
    // A bad input: the procedure was called, and answered 400.
    ['POST', `${endpoint}/orders.touch`, { note: SECRETS[1] }, 400],
    query(endpoint, 'fail', undefined, 500),
    query(endpoint, 'fail', undefined, 500),
    // A batch is named by its procedures, a row under the cap like a procedure's: its first request
    // finds only rows for names seen twice left, its second gets one.
    batch(endpoint, ['orders.list', 'me']),
    batch(endpoint, ['me', 'orders.list']),
    // The same procedure twice is one procedure.
    batch(endpoint, ['me', 'me']),
    // Paths the router does not have: tRPC answers 404, the request keeps its route.
    query(endpoint, SECRETS[0], undefined, 404),
    query(endpoint, `orders.${SECRETS[1]}`, undefined, 404),
  ];
}

/** The rows callsTo(endpoint) makes on `route`: [endpoint, requests, 5xx, queries and cache calls per request]. */
function rowsOf(route: string): (string | number)[][] {
  return [
    [`GET ${route} (query me)`, 4, 0, 1.25, 1.25],
    [`GET ${route} (query orders.list)`, 3, 0, 7, 0],
    [`POST ${route} (mutation orders.touch)`, 3, 0, 0, 0.6667],
    [`GET ${route} (other operation)`, 2, 1, 4, 0.5],
    [`GET ${route} (query fail)`, 1, 1, 0, 0],
    [`GET ${route} (batch: me, orders.list)`, 1, 0, 8, 1],
    [`GET ${route}`, 2, 0, 0, 0],
  ];
}

async function send(port: number, calls: Call[]): Promise<number[]> {
  const statuses: number[] = [];
  for (const [method, path, body] of calls) {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    await res.arrayBuffer();
    statuses.push(res.status);
  }
  return statuses;
}

/**
 * Sends `calls` to the app and checks the service's rows (sorted), its N+1 advice (its routes, sorted)
 * and that no secret shows anywhere; answers the rows and the N+1 recommendations for further checks.
 */
async function expectProcedureRows(
  run: AppRun,
  service: string,
  calls: Call[],
  rows: (string | number)[][],
  nPlusOneRoutes: string[],
) {
  const statuses = await send(run.port, calls);
  expect(statuses).toEqual(calls.map(([, , , status]) => status));
  const found = await endpointRowsOf(sidecar.apiUrl, service, calls.length);
  expect(routeFigures(found)).toEqual(rows.sort());
  const nPlusOne = await activeNPlusOne(sidecar, service);
  expect(nPlusOne.map((r) => r.target.route).sort()).toEqual(nPlusOneRoutes);
  const everything = `${JSON.stringify(found)}\n${await sidecarOutputs(sidecar.apiUrl)}`;
  for (const word of SECRETS) expect(everything).not.toContain(word);
  expect(run.stderr()).not.toContain('spanstat');
  return nPlusOne;
}

describe('a tRPC API under the preload, sending to a sidecar', () => {
  it('gives each procedure its own row through the Express and fetch adapters, with its figures and N+1 advice', async () => {
    const nPlusOne = await expectProcedureRows(
      app,
      SERVICE,
      [...callsTo('/trpc'), ...callsTo('/api/trpc')],
      // The fetch adapter runs in an Express route of its own, whose template names its rows.
      [...rowsOf('/trpc'), ...rowsOf('/api/trpc/*procedure')],
      // The N+1 of orders.list is advised for the procedure that has it.
      ['GET /api/trpc/*procedure (query orders.list)', 'GET /trpc (query orders.list)'],
    );
    expect(nPlusOne.find((r) => r.target.route === 'GET /trpc (query orders.list)')?.title).toBe(
      'N+1 in GET /trpc (query orders.list): SELECT $1::int AS id, $2 AS name runs up to 6× per request',
    );

    // /metrics labels the route the same way.
    const metrics = await (await fetch(`${sidecar.apiUrl}/metrics`)).text();
    expect(metrics).toContain(
      `spanstat_http_server_request_db_queries_count{service="${SERVICE}",method="GET",route="/trpc (query orders.list)"} 3`,
    );
  }, 60_000);

  it("names the standalone server's requests by tRPC's endpoint and the procedure in an ES module app", async () => {
    await expectProcedureRows(
      esmApp,
      ESM_SERVICE,
      callsTo('/rpc'),
      // No framework routes them: tRPC's endpoint is the route of the requests it ran a procedure for;
      // the two 404s keep theirs (the sidecar's `(unmatched)`), never the path.
      [...rowsOf('/rpc').filter(([endpoint]) => endpoint !== 'GET /rpc'), ['GET (unmatched)', 2, 0, 0, 0]],
      ['GET /rpc (query orders.list)'],
    );
  }, 60_000);

  it("names tRPC 10's requests the same way, its paths checked against the router's procedures", async () => {
    await expectProcedureRows(
      trpc10App,
      TRPC10_SERVICE,
      [...callsTo('/trpc'), ...callsTo('/api/trpc')],
      [...rowsOf('/trpc'), ...rowsOf('/api/trpc/*procedure')],
      ['GET /api/trpc/*procedure (query orders.list)', 'GET /trpc (query orders.list)'],
    );
  }, 60_000);

  it("names the requests of tRPC's Fastify plugin by the plugin's route and the procedure", async () => {
    await expectProcedureRows(fastifyApp, FASTIFY_SERVICE, callsTo('/trpc'), rowsOf('/trpc/:path'), [
      'GET /trpc/:path (query orders.list)',
    ]);
  }, 60_000);
});
