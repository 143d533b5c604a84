/**
 * A Koa app routed by @koa/router under the preload, exporting to the sidecar: its requests are
 * named by the router's matched route (nested routers' prefixes included), one an auth middleware
 * answered before routing is (middleware), a 404 (unmatched) — never the path a client sent.
 */
import { routedAppSuite } from '../helpers/routed-app-suite';

routedAppSuite(
  'a Koa app with @koa/router under the preload, sending to a sidecar',
  'koa-app.js',
  'koa-app',
  {
    profile: '/profile/:username',
    files: '/files/*path',
    boom: '/boom/:name',
    accounts: '/api/accounts/:account',
    private: '/private/:name',
  },
);
