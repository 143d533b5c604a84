/**
 * The route test a framework's fixture app runs under the preload (preload-koa, preload-hapi,
 * preload-hono, preload-restify): the app
 * serves the same paths (a profile per username, files by path, a failing route, a nested or prefixed
 * accounts route, /private/* behind an auth check that answers before routing), each routed request runs
 * one query and one cache read, and the sidecar must name every request by the framework's route
 * template — (middleware) for the auth check's 401, (unmatched) for a 404 — never by the path sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalServer, startPostgres, startRedis } from '../../scripts/lib/local-servers';
import type { RunningSidecar } from '../../src/sidecar/sidecar';
import { type AppOptions, type AppRun, assertBuilt, startApp } from '../fixtures/preload-app/harness';
import { endpointRowsOf, routeFigures, type SentRequest, sendAll } from './route-rows';
import { startTestSidecar } from './sidecar';
import { sidecarOutputs } from './unrouted-paths';

/** Words in the paths sent, none of which may reach an output. */
const WORDS = ['zebediah', 'marmalade', 'quillon', 'confidential', 'quarterly', 'nowhere'];

/** The framework's template for each of the fixture app's routes. */
export interface RouteTemplates {
  profile: string;
  files: string;
  boom: string;
  accounts: string;
  private: string;
}

export function routedAppSuite(
  title: string,
  script: AppOptions['script'],
  service: string,
  routes: RouteTemplates,
  /** The fixture directory the script and its libraries are in (default: test/fixtures/preload-app). */
  dir?: string,
  /**
   * The Node binary to run the app with (default: the tests'; asked for when the suite starts, as it may
   * be fetched), and environment of its own.
   */
  runWith: { node?: () => string; env?: Record<string, string> } = {},
): void {
  describe(title, () => {
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
        script,
        dir,
        node: runWith.node?.(),
        env: {
          PG_URL: pg.url,
          REDIS_URL: redis.url,
          OTEL_EXPORTER_OTLP_ENDPOINT: sidecar.receiverUrl,
          OTEL_BSP_SCHEDULE_DELAY: '100',
          OTEL_SERVICE_NAME: service,
          ...runWith.env,
        },
      });
    }, 60_000);

    afterAll(async () => {
      await app?.stop();
      await Promise.all([sidecar?.shutdown(), pg?.stop(), redis?.stop()]);
    });

    it('names each request by its route template, (middleware) before routing, (unmatched) for a 404', async () => {
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

      const rows = await endpointRowsOf(sidecar.apiUrl, service, sent.length);
      expect(routeFigures(rows)).toEqual(
        [
          [`GET ${routes.profile}`, 3, 0, 1, 1],
          [`GET ${routes.files}`, 1, 0, 1, 1],
          [`GET ${routes.boom}`, 1, 1, 1, 1],
          [`GET ${routes.accounts}`, 1, 0, 1, 1],
          [`GET ${routes.private}`, 1, 0, 1, 1],
          ['GET (middleware)', 1, 0, 0, 0],
          ['GET (unmatched)', 1, 0, 0, 0],
        ].sort(),
      );
      const everything = `${JSON.stringify(rows)}\n${await sidecarOutputs(sidecar.apiUrl)}`;
      for (const word of WORDS) expect(everything).not.toContain(word);
      expect(app.stderr()).not.toContain('spanstat');
    }, 60_000);
  });
}
