/**
 * `http.route` for Express without @opentelemetry/instrumentation-express. That package wraps every
 * middleware layer in a span and costs ~41% of throughput here (DESIGN.md); we only need the route
 * template, so this patch does its work at registration time:
 *
 * - `Router#use(path, …)` with a path: each new layer's handle is wrapped to append the mount
 *   template to the request's route prefix, restored when the layer calls `next` (it did not answer).
 *   Layers mounted without a path (the bulk of middleware) are left untouched.
 * - `Route#dispatch`: records `prefix + route.path`, so the template survives error paths that
 *   unwind the mount prefix.
 *
 * - `app.handle` (every Express app, mounted sub-apps too): marks the request as handled by Express,
 *   so one that no route and no path-mounted middleware answered is named MIDDLEWARE_ROUTE rather
 *   than by its raw path (where a username or a file name would be kept). One wrapper call, one
 *   load and one write per app on the request's way, not per router or layer: bench:preload-instructions
 *   could not tell it from noise (demo app, without compiler and GC, two at a time on a shared VM:
 *   683k and 750k instructions per request before, 750k, 784k and 804k after).
 * - `express.static` (serve-static) layers mounted without a path: STATIC_ROUTE while the layer runs,
 *   restored when it passes the request on (no such file).
 *
 * All write to the RouteCapture the HTTP server span attaches to the request (route-capture.ts).
 */
import {
  InstrumentationNodeModuleDefinition,
  InstrumentationNodeModuleFile,
} from '@opentelemetry/instrumentation';
import { MIDDLEWARE_ROUTE, STATIC_ROUTE } from '../classify/route-template';
import { PreloadInstrumentation } from './module-hooks';
import { captureOf, type RouteCapture } from './route-capture';
import { endsWithRegExp, joinRoute, pathTemplate } from './route-path';

type Handle = (...args: unknown[]) => unknown;
type Next = (arg?: unknown) => unknown;

interface LayerLike {
  handle: Handle;
}
interface RouterProto {
  stack?: LayerLike[];
  use: Handle;
  route: Handle;
}
interface AppProto {
  handle: Handle;
}
interface RouteProto {
  path: unknown;
  dispatch: Handle;
}

export class ExpressRouteInstrumentation extends PreloadInstrumentation {
  constructor() {
    super('spanstat-express-route', '1.0.0');
  }

  protected init() {
    // Express 4 binds `route.dispatch` when a route is registered, so its Route must be patched
    // when the file loads; Express 5 (package `router`) looks `dispatch` up per request.
    const express4Route = new InstrumentationNodeModuleFile(
      'express/lib/router/route.js',
      ['>=4.0.0 <5'],
      (Route: { prototype: RouteProto }) => {
        this.patchRoute(Route.prototype);
        return Route;
      },
      (Route?: { prototype: RouteProto }) => {
        this.unwrapOurs(Route?.prototype, 'dispatch');
      },
    );
    const patchExpress = (express: ExpressExports) => {
      const proto = routerProto(express);
      if (proto) this.patchRouter(proto);
      const app = appProto(express);
      if (app) this.patchApp(app);
      return express;
    };
    const unpatchExpress = (express?: ExpressExports) => {
      const app = express && appProto(express);
      this.unwrapOurs(app, 'handle');
      const proto = express && routerProto(express);
      this.unwrapOurs(proto, 'use');
      this.unwrapOurs(proto, 'route');
    };
    // lib/express.js too: an ES module app's `import express from 'express'` loads the package's
    // entry without `require`, so only the entry's own require of this file reaches the hook.
    const expressMain = new InstrumentationNodeModuleFile(
      'express/lib/express.js',
      ['>=4.0.0 <6'],
      patchExpress,
      unpatchExpress,
    );
    return new InstrumentationNodeModuleDefinition('express', ['>=4.0.0 <6'], patchExpress, unpatchExpress, [
      express4Route,
      expressMain,
    ]);
  }

  private patchRouter(proto: RouterProto): void {
    this.wrapOnce(
      proto,
      'use',
      (original: Handle) =>
        function use(this: RouterProto, ...args: unknown[]) {
          const before = Array.isArray(this.stack) ? this.stack.length : 0;
          const result = original.apply(this, args);
          try {
            const template = mountTemplate(args);
            if (template === '/' || template === '') wrapStaticLayers(this, before);
            else wrapMountedLayers(this, before, template);
          } catch {
            // Never let route bookkeeping break an app's setup.
          }
          return result;
        },
    );
    const instrumentation = this;
    this.wrapOnce(
      proto,
      'route',
      (original: Handle) =>
        function route(this: RouterProto, ...args: unknown[]) {
          const created = original.apply(this, args) as RouteProto | undefined;
          if (created && typeof created === 'object') {
            const routeProto = Object.getPrototypeOf(created) as RouteProto | null;
            if (routeProto && typeof routeProto.dispatch === 'function')
              instrumentation.patchRoute(routeProto);
          }
          return created;
        },
    );
  }

  /**
   * `app.handle`, which Express copies onto each app it creates (so patched before any app is): the
   * request is in an Express app from here on.
   */
  private patchApp(proto: AppProto): void {
    this.wrapOnce(
      proto,
      'handle',
      (original: Handle) =>
        function handle(this: unknown, req: unknown, res: unknown, callback: unknown) {
          const capture = captureOf(req);
          if (capture !== undefined && capture.unrouted === undefined) capture.unrouted = MIDDLEWARE_ROUTE;
          return original.call(this, req, res, callback);
        },
    );
  }

  private patchRoute(proto: RouteProto): void {
    this.wrapOnce(
      proto,
      'dispatch',
      (original: Handle) =>
        function dispatch(this: RouteProto, req: unknown, res: unknown, done: unknown) {
          const capture = captureOf(req);
          if (capture !== undefined) capture.route = routeTemplate(this as CachedRoute, capture.prefix ?? '');
          return original.call(this, req, res, done);
        },
    );
  }
}

const CACHED_PREFIX = Symbol('spanstat.cachedPrefix');
const CACHED_TEMPLATE = Symbol('spanstat.cachedTemplate');
interface CachedRoute extends RouteProto {
  [CACHED_PREFIX]?: string;
  [CACHED_TEMPLATE]?: string;
}

/** `prefix + route.path`, remembered per route for its last prefix (a route is nearly always reached one way). */
function routeTemplate(route: CachedRoute, prefix: string): string {
  if (route[CACHED_PREFIX] === prefix) return route[CACHED_TEMPLATE] as string;
  const template = joinRoute(prefix, pathTemplate(route.path), endsWithRegExp(route.path));
  route[CACHED_PREFIX] = prefix;
  route[CACHED_TEMPLATE] = template;
  return template;
}

interface ExpressExports {
  Router?: unknown;
  application?: unknown;
}

/** `express.application`, the prototype object every app's methods are copied from (4 and 5). */
function appProto(express: ExpressExports): AppProto | undefined {
  const app = express.application as Partial<AppProto> | undefined;
  return app !== null && typeof app === 'object' && typeof app.handle === 'function'
    ? (app as AppProto)
    : undefined;
}

/** `express.Router` is a class in Express 5 (methods on its prototype) and the prototype object itself in 4. */
function routerProto(express: ExpressExports): RouterProto | undefined {
  if (typeof express.Router !== 'function') return undefined;
  const Router = express.Router as unknown as { prototype?: Partial<RouterProto> } & Partial<RouterProto>;
  const proto = Router.prototype;
  if (proto && typeof proto.use === 'function' && typeof proto.route === 'function')
    return proto as RouterProto;
  if (typeof Router.use === 'function' && typeof Router.route === 'function') return Router as RouterProto;
  return undefined;
}

/** The mount path of a `use(...)` call, decided the way Express does; `/` when there is none. */
export function mountTemplate(args: readonly unknown[]): string {
  const first = args[0];
  if (typeof first === 'function') return '/';
  let arg = first;
  while (Array.isArray(arg) && arg.length !== 0) arg = arg[0];
  return typeof arg === 'function' ? '/' : pathTemplate(first);
}

function wrapMountedLayers(router: RouterProto, from: number, template: string): void {
  if (template === '/' || template === '' || !Array.isArray(router.stack)) return;
  for (let i = from; i < router.stack.length; i++) {
    const layer = router.stack[i];
    if (layer && typeof layer.handle === 'function') layer.handle = wrapMounted(layer.handle, template);
  }
}

/**
 * `express.static` layers among `router.stack[from…]` (serve-static names its middleware
 * `serveStatic`; Express's Layer has read the name already) wrapped to name what they serve.
 */
function wrapStaticLayers(router: RouterProto, from: number): void {
  if (!Array.isArray(router.stack)) return;
  for (let i = from; i < router.stack.length; i++) {
    const layer = router.stack[i];
    if (layer && typeof layer.handle === 'function' && layer.handle.name === 'serveStatic')
      layer.handle = wrapStatic(layer.handle);
  }
}

/** Exported for tests: a static middleware wrapped to set STATIC_ROUTE while it runs. */
export function wrapStatic(handle: Handle): Handle {
  return function serveStatic(this: unknown, req: unknown, res: unknown, next: unknown) {
    const capture = captureOf(req);
    if (capture === undefined) return handle.call(this, req, res, next);
    const prev = capture.unrouted;
    capture.unrouted = STATIC_ROUTE;
    if (typeof next !== 'function') return handle.call(this, req, res, next);
    return handle.call(this, req, res, (arg?: unknown) => {
      capture.unrouted = prev;
      return (next as Next)(arg);
    });
  };
}

/** Exported for tests: `handle` wrapped to add `template` to the request's route prefix. */
export function wrapMounted(handle: Handle, template: string): Handle {
  // The joined prefix for the last outer prefix seen: a mount is nearly always reached one way.
  let lastOuter: string | undefined;
  let lastJoined = '';
  const enter = (capture: RouteCapture): string | undefined => {
    const prev = capture.prefix;
    const outer = prev ?? '';
    if (outer !== lastOuter) {
      lastOuter = outer;
      lastJoined = joinRoute(outer, template);
    }
    capture.prefix = lastJoined;
    return prev;
  };
  // Express tells error middleware from normal middleware by arity: keep it.
  const wrapped: Handle =
    handle.length === 4
      ? function mountedError(this: unknown, err: unknown, req: unknown, res: unknown, next: unknown) {
          const capture = captureOf(req);
          if (capture === undefined) return handle.call(this, err, req, res, next);
          const prev = enter(capture);
          return handle.call(this, err, req, res, restoring(capture, prev, next));
        }
      : function mounted(this: unknown, req: unknown, res: unknown, next: unknown) {
          const capture = captureOf(req);
          if (capture === undefined) return handle.call(this, req, res, next);
          const prev = enter(capture);
          return handle.call(this, req, res, restoring(capture, prev, next));
        };
  // Reads of router internals (`layer.handle.stack`, used by route-listing tools) reach the original.
  // Not by Object.setPrototypeOf(wrapped, handle), as before: that made the router function a prototype
  // object on the request path (bench/preload-instructions.ts with only the HTTP span and route capture:
  // 1.345M → 1.124M instructions per request, one run each; no preload 1.069M).
  forwardOwnProperties(wrapped, handle);
  return wrapped;
}

/** Accessors on `wrapper` for the own enumerable properties `target` has now (stack, params, …). */
function forwardOwnProperties(wrapper: Handle, target: Handle): void {
  const fields = target as unknown as Record<string, unknown>;
  for (const key of Object.keys(target)) {
    if (Object.hasOwn(wrapper, key)) continue;
    Object.defineProperty(wrapper, key, {
      get: () => fields[key],
      set: (value: unknown) => {
        fields[key] = value;
      },
      enumerable: true,
      configurable: true,
    });
  }
}

function restoring(capture: RouteCapture, prev: string | undefined, next: unknown): unknown {
  if (typeof next !== 'function') return next;
  return (arg?: unknown) => {
    capture.prefix = prev;
    return (next as Next)(arg);
  };
}
