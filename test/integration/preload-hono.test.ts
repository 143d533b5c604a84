/**
 * A Hono app on @hono/node-server under the preload, exporting to the sidecar: its requests are named by
 * the path of the route Hono matched for the handler that answered (a sub-app's and a `basePath`
 * prefix included), one an app-wide middleware answered is (middleware), a 404 (unmatched) — never the
 * path a client sent; in a CommonJS and an ES module app. Hono is test/fixtures/routers' (pinned there).
 */
import { installedPins, ROUTERS_DIR } from '../helpers/compat-fixture';
import { routedAppSuite } from '../helpers/routed-app-suite';

installedPins(ROUTERS_DIR);

const HONO_ROUTES = {
  profile: '/profile/:username',
  files: '/files/*',
  boom: '/boom/:name',
  accounts: '/api/accounts/:account',
  private: '/private/:name',
};

routedAppSuite(
  'a Hono app on @hono/node-server under the preload, sending to a sidecar',
  'hono-app.js',
  'hono-app',
  HONO_ROUTES,
  ROUTERS_DIR,
);
// `import { Hono } from 'hono'` loads Hono's ES build, which no require hook sees.
routedAppSuite(
  'an ES module Hono app under the preload',
  'hono-app.mjs',
  'hono-esm-app',
  HONO_ROUTES,
  ROUTERS_DIR,
);
