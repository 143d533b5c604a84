/**
 * A hapi app under the preload, exporting to the sidecar: its requests are named by hapi's route path
 * (a plugin's prefix included), one an `onRequest` extension answered before routing is (middleware),
 * a 404 (unmatched) — never the path a client sent; in a CommonJS and an ES module app.
 */
import { routedAppSuite } from '../helpers/routed-app-suite';

const HAPI_ROUTES = {
  profile: '/profile/{username}',
  files: '/files/{path*}',
  boom: '/boom/{name}',
  accounts: '/api/accounts/{account}',
  private: '/private/{name}',
};

routedAppSuite('a hapi app under the preload, sending to a sidecar', 'hapi-app.js', 'hapi-app', HAPI_ROUTES);
// `import Hapi from '@hapi/hapi'` reads the package's entry without `require`.
routedAppSuite('an ES module hapi app under the preload', 'hapi-app.mjs', 'hapi-esm-app', HAPI_ROUTES);
