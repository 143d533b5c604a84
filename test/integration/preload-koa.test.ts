/**
 * A Koa app routed by @koa/router under the preload, exporting to the sidecar: its requests are
 * named by the router's matched route (nested routers' prefixes included), one an auth middleware
 * answered before routing is (middleware), a 404 (unmatched) — never the path a client sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalServer, startPostgres, startRedis } from '../../scripts/lib/local-servers';
import type { RunningSidecar } from '../../src/sidecar/sidecar';
import { type AppRun, assertBuilt, startApp } from '../fixtures/preload-app/harness';
import { endpointRowsOf, routeFigures, type SentRequest, sendAll } from '../helpers/route-rows';
import { startTestSidecar } from '../helpers/sidecar';
import { sidecarOutputs } from '../helpers/unrouted-paths';

const WORDS = ['zebediah', 'marmalade', 'quillon', 'confidential', 'quarterly', 'nowhere'];

let pg: LocalServer;
let redis: LocalServer;
let sidecar: RunningSidecar;
let app: AppRun;

beforeAll(async () => {
  assertBuilt();
  [pg, redis, sidecar] = await Promise.all([
    startPostgres(),
    startRedis(),
    startTestSidecar({ assembly: { idleMs: 3_000 } }),
  ]);
  app = await startApp({
    script: 'koa-app.js',
    env: {
      PG_URL: pg.url,
      REDIS_URL: redis.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: sidecar.receiverUrl,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_SERVICE_NAME: 'koa-app',
    },
  });
}, 60_000);

afterAll(async () => {
  await app?.stop();
  await Promise.all([sidecar?.shutdown(), pg?.stop(), redis?.stop()]);
});

describe('a Koa app with @koa/router under the preload, sending to a sidecar', () => {
  it('names each request by its matched route, (middleware) before routing, (unmatched) for a 404', async () => {
    const sent: SentRequest[] = [
      ['/profile/zebediah', 200],
      ['/profile/marmalade', 200],
      ['/profile/quillon', 200],
      ['/files/quarterly/confidential.txt', 200],
      ['/boom/zebediah', 500],
      ['/api/accounts/marmalade', 200],
      ['/private/zebediah', 401],
      ['/private/marmalade', 200, { authorization: 'Bearer x' }],
      ['/nowhere/zebediah', 404],
    ];
    expect(await sendAll(app.port, sent)).toEqual(sent.map(([path, status]) => [path, status]));

    const rows = await endpointRowsOf(sidecar.apiUrl, 'koa-app', sent.length);
    expect(routeFigures(rows)).toEqual(
      [
        ['GET /profile/:username', 3, 0, 1, 1],
        ['GET /files/*path', 1, 0, 1, 1],
        ['GET /boom/:name', 1, 1, 1, 1],
        ['GET /api/accounts/:account', 1, 0, 1, 1],
        ['GET /private/:name', 1, 0, 1, 1],
        ['GET (middleware)', 1, 0, 0, 0],
        ['GET (unmatched)', 1, 0, 0, 0],
      ].sort(),
    );
    const everything = `${JSON.stringify(rows)}\n${await sidecarOutputs(sidecar.apiUrl)}`;
    for (const word of WORDS) expect(everything).not.toContain(word);
    expect(app.stderr()).not.toContain('spanstat');
  }, 60_000);
});
