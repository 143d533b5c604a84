/**
 * A Hono app on @hono/node-server under the preload, exporting to the sidecar: its requests are named by
 * the path of the route Hono matched for the handler that answered (a sub-app's and a `basePath`
 * prefix included), one an app-wide middleware answered is (middleware), a 404 (unmatched) — never the
 * path a client sent; in a CommonJS and an ES module app. Hono 4.13 is test/fixtures/routers', Hono 4.4
 * (whose dispatch hands the Context its routes through the request) test/fixtures/compat-legacy's.
 */
import { COMPAT_LEGACY_DIR, installedPins, ROUTERS_DIR } from '../helpers/compat-fixture';
import { routedAppSuite } from '../helpers/routed-app-suite';

installedPins(ROUTERS_DIR);
installedPins(COMPAT_LEGACY_DIR);

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
routedAppSuite(
  'a Hono 4.4 app on @hono/node-server under the preload',
  'hono-app.js',
  'hono44-app',
  HONO_ROUTES,
  COMPAT_LEGACY_DIR,
);
routedAppSuite(
  'an ES module Hono 4.4 app under the preload',
  'hono-app.mjs',
  'hono44-esm-app',
  HONO_ROUTES,
  COMPAT_LEGACY_DIR,
);
