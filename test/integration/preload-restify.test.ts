/**
 * A Restify app under the preload, exporting to the sidecar: its requests are named by the path of the
 * route Restify's router matched, one a `pre` handler answered before routing is (middleware), a 404
 * (unmatched) — never the path a client sent. Restify 11 is test/fixtures/routers' (pinned there);
 * Restify 12, which needs Node 22, is test/fixtures/compat's, run on the Node 22 the suite tests with.
 */
import { join } from 'node:path';
import { nodeBinary, TESTED_NODE_VERSIONS } from '../../scripts/lib/node-binary';
import { COMPAT_DIR, installedPins, ROUTERS_DIR } from '../helpers/compat-fixture';
import { routedAppSuite } from '../helpers/routed-app-suite';

installedPins(ROUTERS_DIR);
installedPins(COMPAT_DIR);

const RESTIFY_ROUTES = {
  profile: '/profile/:username',
  files: '/files/*',
  boom: '/boom/:name',
  accounts: '/api/accounts/:account',
  private: '/private/:name',
};

routedAppSuite(
  'a Restify 11 app under the preload, sending to a sidecar',
  'restify-app.js',
  'restify-app',
  RESTIFY_ROUTES,
  ROUTERS_DIR,
);
const node22 = TESTED_NODE_VERSIONS.find((v) => v.startsWith('22.')) as string;
routedAppSuite(
  `a Restify 12 app under the preload on Node ${node22}`,
  'restify-app.js',
  'restify12-app',
  RESTIFY_ROUTES,
  ROUTERS_DIR,
  { node: () => nodeBinary(node22), env: { RESTIFY_PACKAGE: join(COMPAT_DIR, 'node_modules', 'restify') } },
);
