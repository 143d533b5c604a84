/**
 * A Koa app routed by @koa/router under the preload, exporting to the sidecar: its requests are
 * named by the router's matched route (nested routers' prefixes included), one an auth middleware
 * answered before routing is (middleware), a 404 (unmatched) — never the path a client sent; in a
 * CommonJS and an ES module app.
 */
import { routedAppSuite } from '../helpers/routed-app-suite';

const KOA_ROUTES = {
  profile: '/profile/:username',
  files: '/files/*path',
  boom: '/boom/:name',
  accounts: '/api/accounts/:account',
  private: '/private/:name',
};

routedAppSuite(
  'a Koa app with @koa/router under the preload, sending to a sidecar',
  'koa-app.js',
  'koa-app',
  KOA_ROUTES,
);
// `import Router from '@koa/router'` loads the router's ES build, which no require hook sees.
routedAppSuite('an ES module Koa app under the preload', 'koa-app.mjs', 'koa-esm-app', KOA_ROUTES);
