/**
 * `http.route` for Fastify 4 and 5. Fastify publishes each root instance it creates on the
 * `fastify.initialization` diagnostics channel (every 4.x and 5.x), for CommonJS and ES module apps
 * alike, so no require hook is needed: on it we add one `onRequest` hook. Added in the factory, it is
 * the instance's first (an app's own auth hook runs after it, so its 401 keeps the route), and plugins
 * inherit it, their prefixes included.
 *
 * The hook runs once Fastify has routed the request, and writes the route's url to the request's
 * RouteCapture (route-capture.ts): the template with every plugin prefix, as `request.routeOptions.url`
 * gives it and @fastify/otel reports it (`/api/users/:id`, `/files/*`). The route is kept whatever the
 * handler does next: throws (a 500), answers 404 itself, hijacks the reply. Fastify's not-found handler
 * has no route url: the hook writes MIDDLEWARE_ROUTE as the request's unrouted name, so its 404 is left
 * to the sidecar's `(unmatched)` and a not-found handler answering otherwise (an SPA's index page) is
 * `(middleware)` — never the path the client sent.
 *
 * Per request: one hook call, five property loads, one write. The url is read from the route context
 * Fastify keeps on each request under its `kRouteContext` symbol (found once per instance by the
 * symbol's description), because `request.routeOptions` builds a 12-field object and asks the router
 * about version constraints on every read: on a routed Fastify 5 request, in a loop of 5M calls (3 runs,
 * a shared 2-core VM), the whole hook took 7–25 ns a call and `request.routeOptions.url` alone 74–89 ns.
 * End to end (a one-route Fastify 5 app under the preload, app CPU per request over 30k requests, hook on
 * and off alternated, 5 rounds) it could not be told from the VM's noise: 52/47, 46/78, 75/79, 82/78,
 * 81/79 µs.
 * Fastify 4 before 4.10 has no such symbol; there `request.routerPath` reads the same field.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { MIDDLEWARE_ROUTE } from '../classify/route-template';
import { captureOf } from './route-capture';

/** Where Fastify publishes `{ fastify }` for each root instance it creates. */
export const FASTIFY_INIT_CHANNEL = 'fastify.initialization';

/** The description of Fastify's `kRouteContext` symbol (lib/symbols.js). */
const ROUTE_CONTEXT = 'fastify.context';

interface RouteContext {
  config?: { url?: unknown };
}

interface FastifyRequestLike {
  raw?: unknown;
  routeOptions?: { url?: unknown };
  routerPath?: unknown;
}

type Done = (err?: unknown) => void;
export type RouteHook = (request: FastifyRequestLike, reply: unknown, done: Done) => void;

interface FastifyLike {
  addHook?: (name: string, hook: RouteHook) => unknown;
}

export class FastifyRouteInstrumentation {
  private enabled = false;

  private readonly onInit = (message: unknown): void => hookInstance(message);

  /** Hooks every Fastify instance created from now on; a second call does nothing. */
  enable(): void {
    if (this.enabled) return;
    subscribe(FASTIFY_INIT_CHANNEL, this.onInit);
    this.enabled = true;
  }

  /**
   * Stops hooking new instances (tests; apps never need it). Fastify has no way to remove a hook:
   * instances hooked already keep theirs, which does nothing once the HTTP server patch is off.
   */
  disable(): void {
    if (!this.enabled) return;
    unsubscribe(FASTIFY_INIT_CHANNEL, this.onInit);
    this.enabled = false;
  }
}

/**
 * Exported for tests: adds the route hook to the instance of a `fastify.initialization` message. Never
 * throws: an error thrown by a subscriber reaches the app as an uncaught exception.
 */
export function hookInstance(message: unknown): void {
  try {
    const fastify = (message as { fastify?: FastifyLike } | null)?.fastify;
    if (typeof fastify?.addHook === 'function') fastify.addHook('onRequest', createRouteHook());
  } catch {
    // Never let route bookkeeping break an app's setup.
  }
}

/** Exported for tests: the `onRequest` hook for one Fastify instance. */
export function createRouteHook(): RouteHook {
  let routeUrl: ((request: FastifyRequestLike) => unknown) | undefined;
  return function spanstatRoute(request, _reply, done) {
    try {
      const capture = captureOf(request.raw);
      if (capture !== undefined) {
        routeUrl ??= routeUrlReader(request);
        const url = routeUrl(request);
        if (typeof url === 'string') capture.route = url;
        else capture.unrouted = MIDDLEWARE_ROUTE;
      }
    } catch {
      // Never into the app: the request keeps no route.
    }
    done();
  };
}

/** How to read a request's route url in the Fastify that made `request`: its route context, else `routerPath`. */
export function routeUrlReader(request: object): (request: FastifyRequestLike) => unknown {
  const key = Object.getOwnPropertySymbols(request).find((symbol) => symbol.description === ROUTE_CONTEXT);
  if (key !== undefined)
    return (r) =>
      ((r as Record<symbol, RouteContext | undefined>)[key] as RouteContext | undefined)?.config?.url;
  return (r) => (r.routeOptions !== undefined ? r.routeOptions.url : r.routerPath);
}
