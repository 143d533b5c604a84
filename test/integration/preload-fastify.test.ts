import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalServer, startPostgres, startRedis } from '../../scripts/lib/local-servers';
import type { EndpointQueryRow, Report } from '../../src/reports/types';
import type { RunningSidecar } from '../../src/sidecar/sidecar';
import { type AppRun, assertBuilt, startApp } from '../fixtures/preload-app/harness';
import { COMPAT_LEGACY_DIR, installedPins } from '../helpers/compat-fixture';
import { endpointRowsOf, routeFigures, type SentRequest, sendAll } from '../helpers/route-rows';
import { getJson, startTestSidecar } from '../helpers/sidecar';

// A Fastify app with pg and ioredis under the built preload, exporting to an in-process sidecar: its
// endpoints are its route templates, whatever the paths clients sent. On Fastify 5 (the repo's
// devDependency) and Fastify 4 (pinned in test/fixtures/compat-legacy; 4.0.0 passed by hand with
// FASTIFY_DIR=<a directory with node_modules/fastify>, the older routerPath fallback).
const FASTIFIES: { label: string; dir: string | undefined; version: RegExp }[] = [
  { label: '5', dir: undefined, version: /^5\./ },
  { label: '4.29.1', dir: COMPAT_LEGACY_DIR, version: /^4\.29\.1$/ },
];

/** Words that are data (usernames, file names, references): never in a report, a metric or the page. */
const USERNAMES = ['zebediah', 'marmalade', 'quillon', 'brunhilde', 'octavian', 'persimmon'];
const WORDS = [...USERNAMES, 'confidential', 'quarterly', 'nowhere', 'hijacked', 'legacyword', 'skuword'];

describe.each(FASTIFIES)(
  'a Fastify $label app under the preload, sending to a sidecar',
  ({ dir, version }) => {
    let pg: LocalServer;
    let redis: LocalServer;
    let sidecar: RunningSidecar;
    let app: AppRun;

    beforeAll(async () => {
      assertBuilt();
      if (dir !== undefined) installedPins(dir);
      // Per-request query and cache counts need a request's spans within assembly.idleMs of each other: the
      // helper's 300 ms split a query from its request once in three runs beside another test on 2 cores.
      [pg, redis, sidecar] = await Promise.all([
        startPostgres(),
        startRedis(),
        startTestSidecar({ assembly: { idleMs: 3_000 } }),
      ]);
      app = await startApp({
        script: 'fastify-app.js',
        env: {
          PG_URL: pg.url,
          REDIS_URL: redis.url,
          OTEL_EXPORTER_OTLP_ENDPOINT: sidecar.receiverUrl,
          OTEL_BSP_SCHEDULE_DELAY: '100',
          OTEL_SERVICE_NAME: 'fastify-app',
          ...(dir === undefined ? {} : { FASTIFY_DIR: dir }),
        },
      });
    });

    afterAll(async () => {
      await app?.stop();
      await Promise.all([sidecar?.shutdown(), pg?.stop(), redis?.stop()]);
    });

    it('runs the pinned Fastify', () => {
      expect(/fastify (\S+)/.exec(app.stdout())?.[1]).toMatch(version);
    });

    it('names each request by its route template: parameters, wildcards, plugin prefixes, errors, hijacked replies, 404s, not-found handlers', async () => {
      const sent: SentRequest[] = [
        ...USERNAMES.map((name): [string, number] => [`/profile/${name}`, 200]),
        ['/users/1', 200],
        ['/users/2', 200],
        ['/legacy/legacyword', 200],
        ['/files/confidential-q3.pdf', 200],
        ['/files/quarterly/confidential.txt', 200],
        ['/reports/quarterly/fail', 500],
        ['/orders/confidential', 404],
        ['/raw/hijacked', 200],
        // The app's own onRequest auth hook answers before the handler: still the route's.
        ['/private/zebediah', 401],
        ['/private/marmalade', 200, { authorization: 'Bearer x' }],
        ['/api/accounts/zebediah', 200],
        ['/api/v2/items/skuword', 200],
        // Fastify's not-found handler, at the top and under a plugin's prefix.
        ['/nowhere/zebediah', 404],
        ['/api/marmalade', 404],
        // A not-found handler that answers 200 (a single-page app's index): no route, never the path.
        ['/app/zebediah/settings', 200],
      ];
      expect(await sendAll(app.port, sent)).toEqual(sent.map(([path, status]) => [path, status]));

      const rows = await endpointRowsOf(sidecar.apiUrl, 'fastify-app', sent.length);
      // Every routed request ran one query and one cache read but the 401 (the hook answered first)
      // and the requests no route answered.
      expect(routeFigures(rows)).toEqual(
        [
          ['GET /profile/:username', USERNAMES.length, 0, 1, 1],
          ['GET /users/:id', 2, 0, 1, 1],
          ['GET /legacy/:name', 1, 0, 1, 1],
          ['GET /files/*', 2, 0, 1, 1],
          ['GET /reports/:name/fail', 1, 1, 1, 1],
          ['GET /orders/:ref', 1, 0, 1, 1],
          ['GET /raw/:name', 1, 0, 1, 1],
          ['GET /private/:name', 2, 0, 0.5, 0.5],
          ['GET /api/accounts/:account', 1, 0, 1, 1],
          ['GET /api/v2/items/:sku', 1, 0, 1, 1],
          ['GET (unmatched)', 2, 0, 0, 0],
          ['GET (middleware)', 1, 0, 0, 0],
        ].sort(),
      );

      // Privacy: no path word in the reports, the recommendations, the metrics or the page.
      const queries = await getJson<Report<EndpointQueryRow>>(
        `${sidecar.apiUrl}/api/v1/reports/endpoint-queries?window=all&limit=1000`,
      );
      expect(queries.rows.length).toBeGreaterThan(0);
      const everything = [
        JSON.stringify(rows),
        JSON.stringify(queries),
        JSON.stringify(await getJson(`${sidecar.apiUrl}/api/v1/reports/endpoints?window=all`)),
        JSON.stringify(await getJson(`${sidecar.apiUrl}/api/v1/recommendations`)),
        await (await fetch(`${sidecar.apiUrl}/metrics`)).text(),
        await (await fetch(`${sidecar.apiUrl}/`)).text(),
      ].join('\n');
      for (const word of WORDS) expect(everything).not.toContain(word);
      expect(app.stdout()).not.toContain('UNHANDLED_REJECTION');
      // No preload diagnostics, no Fastify deprecation or hook warnings.
      expect(app.stderr()).toBe('');
    });
  },
);
