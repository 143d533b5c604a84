/**
 * `http.route` for Koa apps routed by `@koa/router` (or its predecessor `koa-router`). Koa itself has
 * no routes; the router sets `ctx._matchedRoute` to the matched route's path (its prefix and the
 * prefixes of nested routers included, as @opentelemetry/instrumentation-koa reports it) before it
 * runs the route's middleware, synchronously in its dispatch function. So:
 *
 * - `Router#routes()` / `middleware()` (aliases): the dispatch function it returns is wrapped to copy
 *   `ctx._matchedRoute` to the request's RouteCapture once the router has matched. One call and one
 *   load per router on the request's way.
 * - Koa's `Application#callback()`: each request is marked MIDDLEWARE_ROUTE on its way in, so one no
 *   route took (an auth middleware's 401, a rate limiter's 429, koa-static) is `(middleware)`, a 404
 *   `(unmatched)`, never its path.
 *
 * An ES module app importing @koa/router gets its ES build (its `import` export), which hands its Router
 * over as it loads (esm-targets.ts). Never breaks the app: a failure leaves the request without a route.
 */
import { InstrumentationNodeModuleDefinition } from '@opentelemetry/instrumentation';
import { MIDDLEWARE_ROUTE } from '../classify/route-template';
import { registerEsmPatch } from './esm-patches';
import { PreloadInstrumentation } from './module-hooks';
import { captureOf } from './route-capture';

type Method = (this: unknown, ...args: unknown[]) => unknown;
type Prototype = Record<string, unknown>;

interface KoaContextLike {
  req?: unknown;
  _matchedRoute?: unknown;
}

export class KoaRouteInstrumentation extends PreloadInstrumentation {
  constructor() {
    super('spanstat-koa-route', '1.0.0');
  }

  protected init() {
    const { patch: patchRouter, unpatch: unpatchRouter } = this.methodsPatch(routerPrototype, {
      routes: routedDispatch,
      middleware: routedDispatch,
    });
    const { patch: patchKoa, unpatch: unpatchKoa } = this.methodsPatch(koaPrototype, {
      callback: unroutedByDefault,
    });
    // @koa/router's ES build (an ES module app's import) hands its Router over as it loads (esm-targets.ts).
    registerEsmPatch('@koa/router', patchRouter);
    return [
      new InstrumentationNodeModuleDefinition('koa', ['>=2.0.0 <4'], patchKoa, unpatchKoa),
      new InstrumentationNodeModuleDefinition('@koa/router', ['>=8.0.0 <16'], patchRouter, unpatchRouter),
      new InstrumentationNodeModuleDefinition('koa-router', ['>=7.0.0 <13'], patchRouter, unpatchRouter),
    ];
  }
}

/** The prototype of the class `exports` is (CommonJS) or holds as `default`/`Router` that has `method`. */
function prototypeWith(exports: unknown, method: string): Prototype | undefined {
  const holder = exports as { default?: unknown; Router?: unknown } | undefined;
  for (const c of [exports, holder?.default, holder?.Router])
    if (typeof c === 'function' && typeof (c as { prototype?: Prototype }).prototype?.[method] === 'function')
      return (c as { prototype: Prototype }).prototype;
  return undefined;
}

const routerPrototype = (exports: unknown) => prototypeWith(exports, 'routes');
const koaPrototype = (exports: unknown) => prototypeWith(exports, 'callback');

/** Exported for tests: `routes()` whose dispatch copies the matched route to the request's capture. */
export function routedDispatch(original: Method): Method {
  return function routes(this: unknown, ...args: unknown[]) {
    const dispatch = original.apply(this, args);
    if (typeof dispatch !== 'function') return dispatch;
    const wrapped = function spanstatRoutedDispatch(this: unknown, ctx: KoaContextLike, next: unknown) {
      const result = (dispatch as Method).call(this, ctx, next);
      try {
        const route = ctx?._matchedRoute;
        if (typeof route === 'string') {
          const capture = captureOf(ctx.req);
          if (capture !== undefined) capture.route = route;
        }
      } catch {
        // The request keeps no route.
      }
      return result;
    };
    // Routers nest and compose by these properties (`router.use(other.routes())` reads `.router`).
    return Object.assign(wrapped, dispatch);
  };
}

/** Exported for tests: Koa's `callback()` whose handler marks each request as in a Koa app. */
export function unroutedByDefault(original: Method): Method {
  return function callback(this: unknown, ...args: unknown[]) {
    const handle = original.apply(this, args);
    if (typeof handle !== 'function') return handle;
    return function spanstatKoaRequest(this: unknown, req: unknown, res: unknown) {
      try {
        const capture = captureOf(req);
        if (capture !== undefined) capture.unrouted = MIDDLEWARE_ROUTE;
      } catch {
        // Named by its path, as before.
      }
      return (handle as Method).call(this, req, res);
    };
  };
}
