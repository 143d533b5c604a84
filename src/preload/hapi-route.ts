/**
 * `http.route` for hapi (`@hapi/hapi` 17–21). Each server the app creates (`Hapi.server()` or
 * `new Hapi.Server()`, the same factory) gets one `onPreResponse` extension, added at creation so it
 * is the server's first: it runs for every request, after routing, whatever answered — the handler, a
 * failed auth or validation, an `onRequest` extension that took over — and writes the request's route
 * to its RouteCapture (route-capture.ts): `request.route.path` as hapi holds it, plugin prefixes
 * included (`/api/users/{id}`, `/files/{path*}`), as @opentelemetry/instrumentation-hapi reports it.
 *
 * A request no route took has hapi's special not-found route (method `_special`, path `/{p*}`): it is
 * marked MIDDLEWARE_ROUTE as its unrouted name, so its 404 is the sidecar's `(unmatched)` and an
 * `onRequest` extension's answer (an auth check's 401) `(middleware)` — never the path a client sent.
 *
 * hapi 21.4 publishes no diagnostics channel for servers (its `hapi.onServer` channel is unreleased),
 * so the factory is wrapped where it is defined, `lib/server.js`, whose export it is: the package's entry
 * requires that file for both of its names (`server`, `Server`), so an ES module app's `import Hapi from
 * '@hapi/hapi'` — which loads the entry without `require` — is covered too. Never breaks the app: a
 * failure leaves the request without a route.
 */
import {
  InstrumentationNodeModuleDefinition,
  InstrumentationNodeModuleFile,
} from '@opentelemetry/instrumentation';
import { MIDDLEWARE_ROUTE } from '../classify/route-template';
import { PreloadInstrumentation } from './module-hooks';
import { isPatched, markPatched } from './patch-mark';
import { captureOf } from './route-capture';

type Factory = (this: unknown, ...args: unknown[]) => unknown;

interface HapiRequestLike {
  raw?: { req?: unknown };
  route?: { method?: unknown; path?: unknown };
}

interface HapiToolkitLike {
  continue: unknown;
}

interface HapiServerLike {
  ext?: (event: string, method: typeof captureHapiRoute) => unknown;
}

/** hapi's versions with the factory as `lib/server.js`'s export. */
const VERSIONS = ['>=17.0.0 <22'];
/** The method hapi gives its not-found and bad-request routes. */
const SPECIAL_METHOD = '_special';

export class HapiRouteInstrumentation extends PreloadInstrumentation {
  constructor() {
    super('spanstat-hapi-route', '1.0.0');
  }

  protected init() {
    // The file's export is the factory itself: the wrapper replaces it in the module cache, and is not
    // unwrapped (the entry has taken it by then).
    const patch = (factory: unknown) =>
      typeof factory === 'function' && !isPatched(factory)
        ? markPatched(withRouteCapture(factory as Factory))
        : factory;
    const serverFile = new InstrumentationNodeModuleFile(
      '@hapi/hapi/lib/server.js',
      VERSIONS,
      patch,
      () => {},
    );
    return [
      new InstrumentationNodeModuleDefinition('@hapi/hapi', VERSIONS, undefined, undefined, [serverFile]),
    ];
  }
}

/** Exported for tests: the server factory whose servers capture each request's route. */
export function withRouteCapture(original: Factory): Factory {
  // A plain function, so `new Hapi.Server()` works as it does unwrapped: hapi's factory returns the server.
  return function server(this: unknown, ...args: unknown[]) {
    const created = original.apply(this, args) as HapiServerLike;
    try {
      created?.ext?.('onPreResponse', captureHapiRoute);
    } catch {
      // Requests are named by their path, as before.
    }
    return created;
  };
}

/** Exported for tests: the `onPreResponse` extension. */
export function captureHapiRoute(request: HapiRequestLike, h: HapiToolkitLike): unknown {
  try {
    const capture = captureOf(request.raw?.req);
    const route = request.route;
    if (capture !== undefined && route !== undefined) {
      if (route.method === SPECIAL_METHOD) capture.unrouted = MIDDLEWARE_ROUTE;
      else if (typeof route.path === 'string') capture.route = route.path;
    }
  } catch {
    // The request keeps no route.
  }
  return h.continue;
}
