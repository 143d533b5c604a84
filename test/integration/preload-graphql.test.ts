/**
 * A GraphQL API (Apollo Server 5 and graphql-http over graphql 16, in one Express 5 app) under the
 * preload, exporting to the sidecar — and graphql-http over graphql 17 (test/fixtures/compat's, on
 * Node 22, which it needs), read from graphql 17's tracing channels: each request is named by the operation it executed —
 * `POST /graphql (query Orders)` — with its own percentiles, queries per request and N+1 advice; an
 * anonymous operation, a batch, and a request that executed nothing (a parse or validation error)
 * have stable names; a client sending a new operation name per request gets one `(other operation)`
 * row past the cap; neither the document nor its variables reach any output.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalServer, startPostgres, startRedis } from '../../scripts/lib/local-servers';
import { nodeBinary, TESTED_NODE_VERSIONS } from '../../scripts/lib/node-binary';
import type { EndpointRow } from '../../src/reports/types';
import type { RunningSidecar } from '../../src/sidecar/sidecar';
import { type AppRun, assertBuilt, startApp } from '../fixtures/preload-app/harness';
import { COMPAT_DIR, installedPins } from '../helpers/compat-fixture';
import { endpointRowsOf, routeFigures } from '../helpers/route-rows';
import { activeNPlusOne, startTestSidecar } from '../helpers/sidecar';
import { sidecarOutputs } from '../helpers/unrouted-paths';

const SERVICE = 'graphql-app';
const SDK_SERVICE = 'graphql-sdk-app';
const GRAPHQL17_SERVICE = 'graphql17-app';
const YOGA_ESM_SERVICE = 'graphql-yoga-esm-app';
const MERCURIUS_SERVICE = 'graphql-mercurius-app';
const NODE22 = TESTED_NODE_VERSIONS.find((v) => v.startsWith('22.')) as string;
/** Distinct operations per route with rows of their own (http.graphqlOperationsPerRoute). */
const CAP = 10;
const PROBES = 20;
/** Planted in variables and inline literals: no output may show them. */
const SECRETS = ['zebediah', 'marmalade'];

const ME = 'query Me { me { id name } }';
const ORDERS = 'query Orders { orders { id total customer { name } } }';
const TOUCH = 'mutation TouchOrder($id: ID!, $note: String) { touchOrder(id: $id, note: $note) }';

let pg: LocalServer;
let redis: LocalServer;
let sidecar: RunningSidecar;
let app: AppRun;
/** The same app traced by OpenTelemetry's stock SDK (instrumentation-graphql) instead of the preload. */
let sdkApp: AppRun;
/** graphql-http over test/fixtures/compat's graphql 17, on Node 22, under the preload. */
let graphql17App: AppRun;
/** GraphQL Yoga in an ES module app (graphql-yoga-app.mjs), under the preload. */
let yogaEsmApp: AppRun;
/** Mercurius with jit on (graphql-mercurius-app.js), under the preload. */
let mercuriusApp: AppRun;

beforeAll(async () => {
  assertBuilt();
  installedPins(COMPAT_DIR);
  [pg, redis, sidecar] = await Promise.all([
    startPostgres(),
    startRedis(),
    startTestSidecar({
      assembly: { idleMs: 3_000 },
      advisor: { intervalSeconds: 3600 },
      http: { graphqlOperationsPerRoute: CAP },
    }),
  ]);
  app = await startApp({
    script: 'graphql-app.js',
    env: {
      PG_URL: pg.url,
      REDIS_URL: redis.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: sidecar.receiverUrl,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_SERVICE_NAME: SERVICE,
    },
  });
  sdkApp = await startApp({
    script: 'graphql-app.js',
    preload: false,
    env: {
      PG_URL: pg.url,
      REDIS_URL: redis.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: sidecar.receiverUrl,
      OTEL_SERVICE_NAME: SDK_SERVICE,
      OWN_SDK: '1',
    },
  });
  graphql17App = await startApp({
    script: 'graphql-app.js',
    node: nodeBinary(NODE22),
    env: {
      PG_URL: pg.url,
      REDIS_URL: redis.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: sidecar.receiverUrl,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_SERVICE_NAME: GRAPHQL17_SERVICE,
      GRAPHQL_FROM: COMPAT_DIR,
    },
  });
  yogaEsmApp = await startApp({
    script: 'graphql-yoga-app.mjs',
    env: {
      PG_URL: pg.url,
      REDIS_URL: redis.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: sidecar.receiverUrl,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_SERVICE_NAME: YOGA_ESM_SERVICE,
    },
  });
  mercuriusApp = await startApp({
    script: 'graphql-mercurius-app.js',
    env: {
      PG_URL: pg.url,
      REDIS_URL: redis.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: sidecar.receiverUrl,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_SERVICE_NAME: MERCURIUS_SERVICE,
    },
  });
}, 120_000);

afterAll(async () => {
  await Promise.all([
    app?.stop(),
    sdkApp?.stop(),
    graphql17App?.stop(),
    yogaEsmApp?.stop(),
    mercuriusApp?.stop(),
  ]);
  await Promise.all([sidecar?.shutdown(), pg?.stop(), redis?.stop()]);
});

/** POSTs one GraphQL request (or a batch) as JSON; answers the status. */
async function post(path: string, body: unknown, port = app.port): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: JSON.stringify(body),
  });
  await res.arrayBuffer();
  return res.status;
}

/** POSTs each body in turn to `path`; answers the statuses. */
async function postAll(path: string, bodies: unknown[], port: number): Promise<number[]> {
  const statuses: number[] = [];
  for (const body of bodies) statuses.push(await post(path, body, port));
  return statuses;
}

/**
 * GETs /gql with the document and its variables (a secret) in the query string, which no span keeps;
 * answers the status.
 */
async function getWithVariables(port: number): Promise<number> {
  const query = new URLSearchParams({
    query: 'query MeByGet($note: String) { me { id } noteLength(note: $note) }',
    variables: JSON.stringify({ note: SECRETS[1] }),
  });
  const res = await fetch(`http://127.0.0.1:${port}/gql?${query}`, {
    headers: { accept: 'application/graphql-response+json' },
  });
  await res.arrayBuffer();
  return res.status;
}

/**
 * POSTs each `[body, status]` of `sent` to `path` (plus `extra` requests of the caller's) and checks the
 * service's rows, its N+1 advice and that no secret shows anywhere.
 */
async function expectOperationRows(options: {
  app: AppRun;
  service: string;
  path: string;
  sent: [unknown, number][];
  extra?: () => Promise<number>;
  rows: [string, number, number, number, number][];
  nPlusOneRoutes: string[];
}): Promise<void> {
  const { app: run, service, sent } = options;
  const statuses = await postAll(
    options.path,
    sent.map(([body]) => body),
    run.port,
  );
  expect(statuses).toEqual(sent.map(([, status]) => status));
  const extra = options.extra ? await options.extra() : 0;
  const rows = await endpointRowsOf(sidecar.apiUrl, service, sent.length + extra);
  expect(routeFigures(rows)).toEqual(options.rows.sort());
  const nPlusOne = await activeNPlusOne(sidecar, service);
  expect(nPlusOne.map((r) => r.target.route)).toEqual(options.nPlusOneRoutes);
  const everything = `${JSON.stringify(rows)}\n${await sidecarOutputs(sidecar.apiUrl)}`;
  for (const word of SECRETS) expect(everything).not.toContain(word);
  expect(run.stderr()).not.toContain('spanstat');
}

describe('a GraphQL API under the preload, sending to a sidecar', () => {
  it('gives each operation its own endpoint row, bounded, with its own figures and N+1 advice', async () => {
    const sent: [string, unknown, number][] = [
      ...Array.from({ length: 3 }, (): [string, unknown, number] => ['/graphql', { query: ME }, 200]),
      ...Array.from({ length: 3 }, (): [string, unknown, number] => ['/graphql', { query: ORDERS }, 200]),
      ['/graphql', { query: '{ me { id } }' }, 200],
      ['/graphql', { query: '{ me { name } }' }, 200],
      ['/graphql', { query: TOUCH, variables: { id: '4711', note: SECRETS[0] } }, 200],
      ['/graphql', { query: `mutation TouchOrder { touchOrder(id: "4712", note: "${SECRETS[1]}") }` }, 200],
      // operationName picks one of the document's operations.
      [
        '/graphql',
        { query: `query A { me { id } } query PickOrders { orders { id } }`, operationName: 'PickOrders' },
        200,
      ],
      // Apollo runs each operation of a batch: one request, two operations.
      ['/graphql', [{ query: ME }, { query: ORDERS }], 200],
      // Nothing executed: a syntax error and an unknown field.
      ['/graphql', { query: `query Broken { me { id }` }, 400],
      ['/graphql', { query: `query Bad${SECRETS[0]} { nope }` }, 400],
      // An id in the name is templated.
      ['/graphql', { query: 'query GetUser_4711 { me { id } }' }, 200],
      // Half the cap's rows are taken (Me, Orders, TouchOrder, PickOrders, GetUser_:id): a client
      // inventing a name per request gets none of the rest, all its requests (other operation) …
      ...Array.from({ length: PROBES }, (_, i): [string, unknown, number] => [
        '/graphql',
        { query: `query Probe${String.fromCharCode(97 + i)} { me { id } }` },
        200,
      ]),
      // … while an operation that repeats gets a row from its second request on.
      ['/graphql', { query: 'query Report { me { id } }' }, 200],
      ['/graphql', { query: 'query Report { me { id } }' }, 200],
      // graphql-http: the same operations on another route, with a budget of its own.
      ['/gql', { query: ME }, 200],
      ['/gql', { query: ME }, 200],
      ['/gql', { query: TOUCH, variables: { id: '4713', note: SECRETS[0] } }, 200],
      // GraphQL Yoga: its own executor (@graphql-tools/executor), batching on.
      ['/yoga', { query: ME }, 200],
      ...Array.from({ length: 3 }, (): [string, unknown, number] => ['/yoga', { query: ORDERS }, 200]),
      ['/yoga', { query: TOUCH, variables: { id: '4717', note: SECRETS[0] } }, 200],
      ['/yoga', [{ query: ME }, { query: ORDERS }], 200],
      ['/yoga', { query: 'query Broken { me { id }' }, 400],
    ];
    const statuses: number[] = [];
    for (const [path, body] of sent) statuses.push(await post(path, body));
    expect(statuses).toEqual(sent.map(([, , status]) => status));
    expect(await getWithVariables(app.port)).toBe(200);

    const rows = await endpointRowsOf(sidecar.apiUrl, SERVICE, sent.length + 1);
    // [endpoint, requests, 5xx, queries per request, cache calls per request]
    expect(routeFigures(rows)).toEqual(
      [
        ['POST /graphql (query Me)', 3, 0, 1, 1],
        ['POST /graphql (query Orders)', 3, 0, 7, 0],
        ['POST /graphql (anonymous query)', 2, 0, 1, 1],
        ['POST /graphql (mutation TouchOrder)', 2, 0, 0, 1],
        ['POST /graphql (query PickOrders)', 1, 0, 1, 0],
        ['POST /graphql (batch)', 1, 0, 8, 1],
        ['POST /graphql', 2, 0, 0, 0],
        ['POST /graphql (query GetUser_:id)', 1, 0, 1, 1],
        ['POST /graphql (query Report)', 1, 0, 1, 1],
        ['POST /graphql (other operation)', PROBES + 1, 0, 1, 1],
        ['POST /gql (query Me)', 2, 0, 1, 1],
        ['POST /gql (mutation TouchOrder)', 1, 0, 0, 1],
        ['GET /gql (query MeByGet)', 1, 0, 1, 1],
        ['POST /yoga (query Me)', 1, 0, 1, 1],
        ['POST /yoga (query Orders)', 3, 0, 7, 0],
        ['POST /yoga (mutation TouchOrder)', 1, 0, 0, 1],
        ['POST /yoga (batch)', 1, 0, 8, 1],
        ['POST /yoga', 1, 0, 0, 0],
      ].sort(),
    );

    // The N+1 of `Order.customer` is advised for the operation that has it.
    const nPlusOne = await activeNPlusOne(sidecar, SERVICE);
    expect(nPlusOne.map((r) => r.target.route).sort()).toEqual([
      'POST /graphql (query Orders)',
      'POST /yoga (query Orders)',
    ]);
    expect(nPlusOne.find((r) => r.target.route === 'POST /graphql (query Orders)')?.title).toBe(
      'N+1 in POST /graphql (query Orders): SELECT $1::int AS id, $2 AS name runs up to 6× per request',
    );

    // /metrics labels the route the same way, and holds no more routes than the rows.
    const metrics = await (await fetch(`${sidecar.apiUrl}/metrics`)).text();
    expect(metrics).toContain(
      `spanstat_http_server_request_db_queries_count{service="${SERVICE}",method="POST",route="/graphql (query Orders)"} 3`,
    );
    const routes = new Set(
      [...metrics.matchAll(/spanstat_http_server_request_db_queries_count\{[^}]*route="([^"]*)"/g)].map(
        (m) => m[1],
      ),
    );
    expect(routes.size).toBe((rows as EndpointRow[]).length);

    // Neither variables nor inline literals nor rejected documents show anywhere.
    const everything = `${JSON.stringify(rows)}\n${await sidecarOutputs(sidecar.apiUrl)}`;
    for (const word of SECRETS) expect(everything).not.toContain(word);
    expect(app.stderr()).not.toContain('spanstat');
  }, 60_000);

  it("names requests by the operation of instrumentation-graphql's graphql.execute span beneath them (stock SDK)", async () => {
    const sent: [unknown, number][] = [
      [{ query: ME }, 200],
      [{ query: ME }, 200],
      ...Array.from({ length: 3 }, (): [unknown, number] => [{ query: ORDERS }, 200]),
      [{ query: '{ me { id } }' }, 200],
      [[{ query: ME }, { query: ORDERS }], 200],
      [{ query: 'query Broken { me { id }' }, 400],
      // instrumentation-graphql sends the document (`graphql.source`): the sidecar never reads it.
      [{ query: `mutation TouchOrder { touchOrder(id: "4714", note: "${SECRETS[1]}") }` }, 200],
    ];
    const statuses: number[] = [];
    for (const [body] of sent) statuses.push(await post('/graphql', body, sdkApp.port));
    expect(statuses).toEqual(sent.map(([, status]) => status));

    const rows = await endpointRowsOf(sidecar.apiUrl, SDK_SERVICE, sent.length);
    expect(routeFigures(rows)).toEqual(
      [
        ['POST /graphql (query Me)', 2, 0, 1, 1],
        ['POST /graphql (query Orders)', 3, 0, 7, 0],
        ['POST /graphql (anonymous query)', 1, 0, 1, 1],
        ['POST /graphql (batch)', 1, 0, 8, 1],
        ['POST /graphql', 1, 0, 0, 0],
        ['POST /graphql (mutation TouchOrder)', 1, 0, 0, 1],
      ].sort(),
    );
    const everything = `${JSON.stringify(rows)}\n${await sidecarOutputs(sidecar.apiUrl)}`;
    for (const word of SECRETS) expect(everything).not.toContain(word);
    const nPlusOne = await activeNPlusOne(sidecar, SDK_SERVICE);
    expect(nPlusOne.map((r) => r.target.route)).toEqual(['POST /graphql (query Orders)']);
  }, 60_000);

  it(`names requests by graphql 17's operation, from its tracing channels (graphql-http, Node ${NODE22})`, async () => {
    const sent: [unknown, number][] = [
      [{ query: ME }, 200],
      [{ query: ME }, 200],
      ...Array.from({ length: 3 }, (): [unknown, number] => [{ query: ORDERS }, 200]),
      [{ query: '{ me { id } }' }, 200],
      [{ query: TOUCH, variables: { id: '4715', note: SECRETS[0] } }, 200],
      [{ query: `mutation TouchOrder { touchOrder(id: "4716", note: "${SECRETS[1]}") }` }, 200],
      [
        { query: `query A { me { id } } query PickOrders { orders { id } }`, operationName: 'PickOrders' },
        200,
      ],
      // Nothing executed: a syntax error and an unknown field.
      [{ query: 'query Broken { me { id }' }, 400],
      [{ query: `query Bad${SECRETS[0]} { nope }` }, 400],
    ];
    await expectOperationRows({
      app: graphql17App,
      service: GRAPHQL17_SERVICE,
      path: '/gql',
      sent,
      extra: async () => {
        expect(await getWithVariables(graphql17App.port)).toBe(200);
        return 1;
      },
      rows: [
        ['POST /gql (query Me)', 2, 0, 1, 1],
        ['POST /gql (query Orders)', 3, 0, 7, 0],
        ['POST /gql (anonymous query)', 1, 0, 1, 1],
        ['POST /gql (mutation TouchOrder)', 2, 0, 0, 1],
        ['POST /gql (query PickOrders)', 1, 0, 1, 0],
        ['POST /gql', 2, 0, 0, 0],
        ['GET /gql (query MeByGet)', 1, 0, 1, 1],
      ],
      nPlusOneRoutes: ['POST /gql (query Orders)'],
    });
  }, 60_000);

  it('names requests by the operation in an ES module app on GraphQL Yoga (its ES build, through the loader hook)', async () => {
    const sent: [unknown, number][] = [
      [{ query: ME }, 200],
      ...Array.from({ length: 3 }, (): [unknown, number] => [{ query: ORDERS }, 200]),
      [{ query: TOUCH, variables: { id: '4718', note: SECRETS[0] } }, 200],
      [[{ query: ME }, { query: ORDERS }], 200],
      [{ query: 'query Broken { me { id }' }, 400],
    ];
    await expectOperationRows({
      app: yogaEsmApp,
      service: YOGA_ESM_SERVICE,
      path: '/yoga',
      sent,
      rows: [
        ['POST /yoga (query Me)', 1, 0, 1, 1],
        ['POST /yoga (query Orders)', 3, 0, 7, 0],
        ['POST /yoga (mutation TouchOrder)', 1, 0, 0, 1],
        ['POST /yoga (batch)', 1, 0, 8, 1],
        ['POST /yoga', 1, 0, 0, 0],
      ],
      nPlusOneRoutes: ['POST /yoga (query Orders)'],
    });
  }, 60_000);

  it("names requests Mercurius runs through graphql-jit's compiled query (jit on) as those it executes", async () => {
    await expectOperationRows({
      app: mercuriusApp,
      service: MERCURIUS_SERVICE,
      path: '/graphql',
      // With jit: 1 a query's second request on runs compiled: all but the first of each here.
      sent: [
        ...Array.from({ length: 3 }, (): [unknown, number] => [{ query: ME }, 200]),
        ...Array.from({ length: 3 }, (): [unknown, number] => [{ query: ORDERS }, 200]),
        ...Array.from({ length: 2 }, (_, i): [unknown, number] => [
          { query: TOUCH, variables: { id: `472${i}`, note: SECRETS[0] } },
          200,
        ]),
        [{ query: 'query Broken { me { id }' }, 400],
      ],
      rows: [
        ['POST /graphql (query Me)', 3, 0, 1, 1],
        ['POST /graphql (query Orders)', 3, 0, 7, 0],
        ['POST /graphql (mutation TouchOrder)', 2, 0, 0, 1],
        ['POST /graphql', 1, 0, 0, 0],
      ],
      nPlusOneRoutes: ['POST /graphql (query Orders)'],
    });
  }, 60_000);
});
