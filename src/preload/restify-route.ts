/**
 * `http.route` for Restify (7–12): the path of the route its router matched (`req.getRoute().path`,
 * `/users/:id`, `/files/*`), as @opentelemetry/instrumentation-restify reports it.
 *
 * Restify routes each request after its `pre` handlers and before its `use` handlers, in
 * `Router#lookup(req, res)` (`lib/router.js`), which sets `req.route` to the matched route's spec: the
 * method is wrapped to copy its path to the request's RouteCapture (route-capture.ts), so a `use`
 * handler's answer (an auth check's 401 there) is the route's, as Restify itself sees it. Each request
 * is marked MIDDLEWARE_ROUTE as it comes in (`Server#_onRequest`, `lib/server.js`, which every server
 * binds as its request listener when it is made): a `pre` handler's answer is `(middleware)`, the 404
 * and 405 no route took `(unmatched)` and `(middleware)` — never the path a client sent.
 *
 * Cost: none outside a Restify app; in one, per request, a call and a few reads and writes. Never breaks
 * the app: a failure leaves the request without a route.
 */
import { InstrumentationNodeModuleDefinition } from '@opentelemetry/instrumentation';
import { MIDDLEWARE_ROUTE } from '../classify/route-template';
import { PreloadInstrumentation } from './module-hooks';
import { captureOf } from './route-capture';

type Method = (this: unknown, ...args: unknown[]) => unknown;

/** Restify's versions with find-my-way routing in `lib/router.js` and `Server#_onRequest`. */
const VERSIONS = ['>=7.0.0 <13'];

interface RestifyRequestLike {
  route?: { path?: unknown };
}

export class RestifyRouteInstrumentation extends PreloadInstrumentation {
  constructor() {
    super('spanstat-restify-route', '1.0.0');
  }

  protected init() {
    // Each file exports its class.
    const classOf = (exports: unknown) =>
      typeof exports === 'function' ? (exports.prototype as object | undefined) : undefined;
    return [
      new InstrumentationNodeModuleDefinition('restify', VERSIONS, undefined, undefined, [
        this.prototypeMethodsFile('restify/lib/router.js', VERSIONS, classOf, { lookup: routedLookup }),
        this.prototypeMethodsFile('restify/lib/server.js', VERSIONS, classOf, {
          _onRequest: unroutedByDefault,
        }),
      ]),
    ];
  }
}

/** Exported for tests: `Router#lookup(req, res)` copying the matched route's path to the capture. */
export function routedLookup(original: Method): Method {
  return function lookup(this: unknown, req: unknown, res: unknown) {
    const handler = original.call(this, req, res);
    try {
      const path = (req as RestifyRequestLike | null)?.route?.path;
      if (handler !== undefined && typeof path === 'string') {
        const capture = captureOf(req);
        if (capture !== undefined) capture.route = path;
      }
    } catch {
      // The request keeps no route.
    }
    return handler;
  };
}

/** Exported for tests: `Server#_onRequest(req, res)` marking each request as in a Restify app. */
export function unroutedByDefault(original: Method): Method {
  return function _onRequest(this: unknown, req: unknown, res: unknown) {
    try {
      const capture = captureOf(req);
      if (capture !== undefined) capture.unrouted = MIDDLEWARE_ROUTE;
    } catch {
      // Named by its path, as before.
    }
    return original.call(this, req, res);
  };
}
