/**
 * A Restify app under the preload, exporting to the sidecar: its requests are named by the path of the
 * route Restify's router matched, one a `pre` handler answered before routing is (middleware), a 404
 * (unmatched) — never the path a client sent. Restify is test/fixtures/routers' (pinned there).
 */
import { installedPins, ROUTERS_DIR } from '../helpers/compat-fixture';
import { routedAppSuite } from '../helpers/routed-app-suite';

installedPins(ROUTERS_DIR);

routedAppSuite(
  'a Restify app under the preload, sending to a sidecar',
  'restify-app.js',
  'restify-app',
  {
    profile: '/profile/:username',
    files: '/files/*',
    boom: '/boom/:name',
    accounts: '/api/accounts/:account',
    private: '/private/:name',
  },
  ROUTERS_DIR,
);
