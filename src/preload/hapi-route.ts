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
 * so the package's `server`/`Server` exports are wrapped by a require hook; an ES module app's
 * `import Hapi from '@hapi/hapi'` loads the same CommonJS file. Never breaks the app: a failure leaves
 * the request without a route.
 */
import { InstrumentationNodeModuleDefinition } from '@opentelemetry/instrumentation';
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

/** The package's two names for its one server factory. */
const FACTORIES = ['server', 'Server'];
/** The method hapi gives its not-found and bad-request routes. */
const SPECIAL_METHOD = '_special';

export class HapiRouteInstrumentation extends PreloadInstrumentation {
  constructor() {
    super('spanstat-hapi-route', '1.0.0');
  }

  protected init() {
    const patch = (exports: unknown) => {
      const target = exports as Record<string, unknown> | undefined;
      if (target)
        for (const name of FACTORIES)
          if (typeof target[name] === 'function' && !isPatched(target[name]))
            this._wrap(target, name, (original: Factory) => markPatched(withRouteCapture(original)));
      return exports;
    };
    const unpatch = (exports?: unknown) => {
      const target = exports as Record<string, unknown> | undefined;
      if (target) for (const name of FACTORIES) if (isPatched(target[name])) this._unwrap(target, name);
    };
    return [new InstrumentationNodeModuleDefinition('@hapi/hapi', ['>=17.0.0 <22'], patch, unpatch)];
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
