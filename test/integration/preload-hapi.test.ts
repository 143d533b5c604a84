/**
 * A hapi app under the preload, exporting to the sidecar: its requests are named by hapi's route path
 * (a plugin's prefix included), one an `onRequest` extension answered before routing is (middleware),
 * a 404 (unmatched) — never the path a client sent.
 */
import { routedAppSuite } from '../helpers/routed-app-suite';

routedAppSuite('a hapi app under the preload, sending to a sidecar', 'hapi-app.js', 'hapi-app', {
  profile: '/profile/{username}',
  files: '/files/{path*}',
  boom: '/boom/{name}',
  accounts: '/api/accounts/{account}',
  private: '/private/{name}',
});
