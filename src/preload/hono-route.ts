/**
 * `http.route` for Hono 4 served on Node by `@hono/node-server`: the path of the route whose
 * handler answered, as Hono's own `routePath(c)` (`hono/route`) gives it and `@hono/otel` reports it —
 * sub-apps' and `basePath` prefixes included (`/api/users/:id`, `/files/*`).
 *
 * Hono keeps its dispatch private (`#dispatch`), its `fetch` is an arrow function each app gets as it is
 * built, and its routers replace their own `match` after the first call; what every request has is one
 * `Context`, built by the dispatch with the routes that matched it (`matchResult`, in registration
 * order, middleware included; before 4.4.13 the dispatch hands them over inside the `HonoRequest` it
 * builds first, which lists them as `matchedRoutes`) and `env` — `{ incoming, outgoing }` from
 * @hono/node-server, `incoming` being Node's request, which carries the RouteCapture (route-capture.ts).
 * So the class the dispatch builds is replaced by a subclass whose constructor reads them:
 *
 * - no route matched: MIDDLEWARE_ROUTE, so the 404 is the sidecar's `(unmatched)`;
 * - one (Hono calls it without composing): it answered, and its path is written now;
 * - more: the subclass is left as the capture's `pending`, asked once the response ends which one
 *   answered — the one Hono entered last (`c.req.routeIndex`, which its compose sets).
 *
 * What the answering route's path says: an app-wide middleware's (`*`, `/*`: `app.use(mw)`) is no
 * route — MIDDLEWARE_ROUTE, an auth check's 401 `(middleware)`; a scoped middleware's (`app.use`
 * registers method `ALL`, a path ending in `*`) names what it answered itself, but a 404 with it last is
 * Hono's not-found handler after it called `next()`, `(unmatched)`; any other route names the request,
 * its 404 included (a handler's `c.notFound()`).
 *
 * Where the class is taken: the CommonJS `hono-base.js` reads `Context` from `context.js`'s exports at
 * each request, so that file's exports are replaced (a copy when they are esbuild's getters, Hono up to
 * 4.12); the ES build imports it, and the module loader hook rebinds that import (esm-targets.ts).
 *
 * Cost: none outside a Hono app. In one, per request, a subclass constructor's call and a few reads; no
 * allocation. Never breaks the app: a failure leaves the request without a route.
 */
import {
  InstrumentationNodeModuleDefinition,
  InstrumentationNodeModuleFile,
} from '@opentelemetry/instrumentation';
import { MIDDLEWARE_ROUTE } from '../classify/route-template';
import { registerEsmPatch } from './esm-patches';
import { withExport } from './module-exports';
import { PreloadInstrumentation } from './module-hooks';
import { isPatched, markPatched } from './patch-mark';
import { captureOf, type PendingRoute, type RouteCapture, SETTLE_ROUTE } from './route-capture';

/**
 * Hono's versions whose dispatch builds `new Context(request, { matchResult, env, … })` (4.4.13+), or
 * `new Context(new HonoRequest(request, path, matchResult), { env, … })` before.
 */
const VERSIONS = ['>=4.0.0 <5'];
/** The id the ES build's rebound import asks the patch under (esm-targets.ts). */
export const HONO_CONTEXT_ESM_ID = 'hono/context';
/** The paths `app.use(mw)` and `app.use('*', mw)` register: every request's, no route. */
const APP_WIDE = new Set(['*', '/*']);

/** What Hono's router keeps per route (`matchedRoutes(c)`'s entries). */
export interface HonoRouteLike {
  path?: unknown;
  method?: unknown;
}

/** `matchResult[0]`: per matched handler, `[[handler, route], params]`. */
type MatchedHandler = readonly [(readonly [unknown, HonoRouteLike?])?, unknown?];
type MatchedHandlers = readonly MatchedHandler[];

interface ContextOptionsLike {
  env?: { incoming?: unknown } | null;
  matchResult?: readonly [MatchedHandlers?, unknown?];
}

type ContextClass = new (request: unknown, options?: ContextOptionsLike) => object;

export class HonoRouteInstrumentation extends PreloadInstrumentation {
  constructor() {
    super('spanstat-hono-route', '1.0.0');
  }

  protected init() {
    // The ES build's hono-base.js imports the class through the patch (esm-targets.ts).
    registerEsmPatch(HONO_CONTEXT_ESM_ID, (context) =>
      typeof context === 'function' ? routedContextClass(context as ContextClass) : undefined,
    );
    // Not unwrapped: hono-base.js holds the exports it was given.
    const contextFile = new InstrumentationNodeModuleFile(
      'hono/dist/cjs/context.js',
      VERSIONS,
      (exports: unknown) => withRoutedContext(exports),
      () => {},
    );
    return [new InstrumentationNodeModuleDefinition('hono', VERSIONS, undefined, undefined, [contextFile])];
  }
}

/** Exported for tests: `context.js`'s exports with its `Context` replaced (in place, or in a copy). */
export function withRoutedContext(exports: unknown): unknown {
  const holder = exports as { Context?: unknown } | null;
  const original = holder?.Context;
  if (typeof original !== 'function' || isPatched(original)) return exports;
  return withExport(holder as object, 'Context', routedContextClass(original as ContextClass));
}

/** Exported for tests: the subclass of Hono's `Context` that captures each request's route. */
export function routedContextClass(Context: ContextClass): ContextClass {
  if (isPatched(Context)) return Context;
  class Context$ extends Context implements PendingRoute {
    #handlers: MatchedHandlers | undefined;
    /** Before Hono 4.4.13: the request's `matchedRoutes`, read once. */
    #routes: readonly (HonoRouteLike | undefined)[] | undefined;

    constructor(request: unknown, options?: ContextOptionsLike) {
      super(request, options);
      try {
        const capture = captureOf(options?.env?.incoming);
        if (capture === undefined) return;
        const handlers = options?.matchResult?.[0];
        const routes = handlers === undefined ? routesOfRequest(request) : undefined;
        const count = handlers?.length ?? routes?.length;
        if (count === undefined) return;
        capture.pending = undefined;
        capture.route = undefined;
        capture.unrouted = MIDDLEWARE_ROUTE;
        if (count === 1) settleHonoRoute(capture, handlers ? handlers[0]?.[0]?.[1] : routes?.[0]);
        else if (count > 1) {
          this.#handlers = handlers;
          this.#routes = routes;
          capture.pending = this;
        }
      } catch {
        // The request keeps what it had.
      }
    }

    [SETTLE_ROUTE](capture: RouteCapture): void {
      // Composing sets the index of each handler it enters on the request (`c.req`), so it exists.
      const index = (this as { req?: { routeIndex?: unknown } }).req?.routeIndex;
      if (typeof index !== 'number') return;
      const handlers = this.#handlers;
      settleHonoRoute(capture, handlers ? handlers[index]?.[0]?.[1] : this.#routes?.[index]);
    }
  }
  // The name Hono's own stack traces and `c.constructor.name` show.
  Object.defineProperty(Context$, 'name', { value: Context.name });
  return markPatched(Context$);
}

/** The routes a HonoRequest (Hono before 4.4.13) lists as matched, if `request` is one. */
function routesOfRequest(request: unknown): readonly (HonoRouteLike | undefined)[] | undefined {
  const routes = (request as { matchedRoutes?: unknown } | null)?.matchedRoutes;
  return Array.isArray(routes) ? routes : undefined;
}

/** Exported for tests: writes what the route `answered` from says of the request (see above). */
export function settleHonoRoute(capture: RouteCapture, answered: HonoRouteLike | undefined): void {
  const path = answered?.path;
  if (typeof path !== 'string') return;
  if (APP_WIDE.has(path)) {
    capture.route = undefined;
    capture.unrouted = MIDDLEWARE_ROUTE;
  } else if (answered?.method === 'ALL' && path.endsWith('*')) {
    // A scoped middleware's answer keeps its path; a 404 is the not-found handler's after it.
    capture.route = undefined;
    capture.unrouted = path;
  } else capture.route = path;
}
