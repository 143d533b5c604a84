/**
 * A NestJS app (Express adapter) under the preload, exporting to the sidecar: Nest registers its
 * controllers' routes on Express's router, so requests are named by the controller's path and the
 * handler's route, one a middleware answered before routing is (middleware), a 404 (unmatched) —
 * never the path a client sent.
 */
import { routedAppSuite } from '../helpers/routed-app-suite';

routedAppSuite('a NestJS app under the preload, sending to a sidecar', 'nest-app.js', 'nest-app', {
  profile: '/profile/:username',
  files: '/files/*path',
  boom: '/boom/:name',
  accounts: '/api/accounts/:account',
  private: '/private/:name',
});
