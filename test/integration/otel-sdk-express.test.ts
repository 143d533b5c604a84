/**
 * The preload fixture's Express app traced by the stock OpenTelemetry setup (NodeSDK +
 * auto-instrumentations-node: instrumentation-express sets `http.route` on the requests it routes)
 * exporting to the sidecar. Requests its middleware answered before routing (an auth 401, a CORS
 * preflight, a body parser's 413, express.static) carry no `http.route`: they were named by their
 * paths, usernames and file names in reports and Prometheus labels. Once the service has sent a
 * routed request, such requests are `(middleware)`, a 404 `(unmatched)`.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalServer, startPostgres, startRedis } from '../../scripts/lib/local-servers';
import type { EndpointRow, QueryRow, Report } from '../../src/reports/types';
import type { RunningSidecar } from '../../src/sidecar/sidecar';
import { type AppRun, assertBuilt, REPO_ROOT, startApp } from '../fixtures/preload-app/harness';
import { getJson, startTestSidecar, waitFor } from '../helpers/sidecar';
import { PLANTED_PATH_WORDS, sidecarOutputs, UNROUTED_REQUESTS } from '../helpers/unrouted-paths';

const SERVICE = 'stock-express';

let pg: LocalServer;
let redis: LocalServer;
let sidecar: RunningSidecar;
let app: AppRun;

beforeAll(async () => {
  assertBuilt();
  [pg, redis, sidecar] = await Promise.all([startPostgres(), startRedis(), startTestSidecar()]);
  app = await startApp({
    preload: false,
    nodeArgs: ['--require', join(REPO_ROOT, 'bench', 'stock-otel-preload.js')],
    env: {
      PG_URL: pg.url,
      REDIS_URL: redis.url,
      OTEL_SERVICE_NAME: SERVICE,
      OTEL_EXPORTER_OTLP_ENDPOINT: sidecar.receiverUrl,
      OTEL_BSP_SCHEDULE_DELAY: '100',
    },
  });
}, 60_000);

afterAll(async () => {
  await app?.stop();
  await Promise.all([sidecar?.shutdown(), pg?.stop(), redis?.stop()]);
});

async function endpointRows(): Promise<EndpointRow[]> {
  const url = `${sidecar.apiUrl}/api/v1/reports/endpoints?service=${SERVICE}&window=all&limit=1000`;
  return (await getJson<Report<EndpointRow>>(url)).rows;
}

async function send(path: string, init: RequestInit = {}): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${app.port}${path}`, init);
  await res.arrayBuffer();
  return res.status;
}

describe('an Express app under the stock OpenTelemetry SDK', () => {
  it('names requests answered before routing (middleware), never by the path the client sent', async () => {
    // A routed request first: the sidecar learns this service's framework names its routes.
    expect(await send('/api/users/5')).toBe(200);
    expect(await waitFor(async () => (await endpointRows()).length > 0)).toBe(true);

    const u = UNROUTED_REQUESTS;
    const sent = [u.auth401, u.auth401Nested, u.preflight, u.tooLarge, u.staticFile, u.staticMiss];
    sent.push(['/api/users/6', {}, 200]);
    for (const [path, init, status] of sent) expect([path, await send(path, init)]).toEqual([path, status]);

    const rows = await waitFor(async () => {
      const found = await endpointRows();
      return found.reduce((n, r) => n + r.requests, 0) >= sent.length + 1 ? found : undefined;
    });
    expect((rows ?? []).map((r) => [`${r.method} ${r.route}`, r.requests]).sort()).toEqual(
      [
        ['GET (middleware)', 3],
        ['OPTIONS (middleware)', 1],
        ['POST (middleware)', 1],
        ['GET (unmatched)', 1],
        ['GET /api/users/:id', 2],
      ].sort(),
    );

    const everything = `${JSON.stringify(rows)}\n${await sidecarOutputs(sidecar.apiUrl)}`;
    for (const word of PLANTED_PATH_WORDS) expect(everything).not.toContain(word);
  }, 60_000);

  it("counts no query for instrumentation-pg's pg.connect (a connection the pool opened)", async () => {
    // pg-pool destroys a client released with an error: each failing request after the first opens a
    // connection (a pg.connect span under the checkout), and so does the checkout after them.
    for (let id = 1; id <= 3; id++) expect(await send(`/api/users/${id}/fail`)).toBe(500);
    expect(await send('/pool-checkout')).toBe(200);
    const rows = await waitFor(async () => {
      const found = await endpointRows();
      const fail = found.find((r) => r.route === '/api/users/:id/fail');
      const checkout = found.find((r) => r.route === '/pool-checkout');
      return fail?.requests === 3 && checkout?.requests === 1 ? [fail, checkout] : undefined;
    });
    expect(rows?.map((r) => [r.route, r.queriesPerRequest])).toEqual([
      ['/api/users/:id/fail', 1],
      ['/pool-checkout', 1],
    ]);
    const queries = await getJson<Report<QueryRow>>(
      `${sidecar.apiUrl}/api/v1/reports/queries?service=${SERVICE}&window=all&limit=1000`,
    );
    expect(queries.rows.map((q) => q.statement).filter((s) => s.includes('connect'))).toEqual([]);
  }, 60_000);
});
