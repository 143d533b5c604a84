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
 * Both write to a RouteCapture the HTTP server span attaches to the request before Express sees it
 * (`startRouteCapture`), and read it back when the response ends. Not to properties of the request
 * itself, as before: Express gives every request object a map of its own (`setPrototypeOf` per
 * request), so each property added there built a new hidden class per request and every access
 * missed V8's caches; the capture object keeps one shape.
 */
import {
  InstrumentationNodeModuleDefinition,
  InstrumentationNodeModuleFile,
} from '@opentelemetry/instrumentation';
import { PreloadInstrumentation } from './module-hooks';
import { isPatched, markPatched } from './patch-mark';
import { endsWithRegExp, joinRoute, pathTemplate } from './route-path';

const CAPTURE = Symbol('spanstat.routeCapture');

type Handle = (...args: unknown[]) => unknown;
type Next = (arg?: unknown) => unknown;

/** One request's route template as Express routes it. */
export interface RouteCapture {
  /** Joined mount templates of the routers the request is in now. */
  prefix: string | undefined;
  /** `prefix + route.path` of the last route that dispatched the request. */
  route: string | undefined;
}

interface CapturingRequest {
  [CAPTURE]?: RouteCapture;
}
interface LayerLike {
  handle: Handle;
}
interface RouterProto {
  stack?: LayerLike[];
  use: Handle;
  route: Handle;
}
interface RouteProto {
  path: unknown;
  dispatch: Handle;
}

/** Attaches a capture to `req`; call it before Express first sees the request, while its shape is Node's. */
export function startRouteCapture(req: object): RouteCapture {
  const capture: RouteCapture = { prefix: undefined, route: undefined };
  (req as CapturingRequest)[CAPTURE] = capture;
  return capture;
}

/** The Express route template captured, or undefined (no route matched: 404 etc.). */
export function capturedRoute(capture: RouteCapture): string | undefined {
  return capture.route ?? (capture.prefix || undefined);
}

function captureOf(req: unknown): RouteCapture | undefined {
  return req !== null && typeof req === 'object' ? (req as CapturingRequest)[CAPTURE] : undefined;
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
        if (Route && isPatched(Route.prototype.dispatch)) this._unwrap(Route.prototype, 'dispatch');
      },
    );
    const patchExpress = (express: { Router?: unknown }) => {
      const proto = routerProto(express);
      if (proto) this.patchRouter(proto);
      return express;
    };
    const unpatchExpress = (express?: { Router?: unknown }) => {
      const proto = express && routerProto(express);
      if (!proto) return;
      if (isPatched(proto.use)) this._unwrap(proto, 'use');
      if (isPatched(proto.route)) this._unwrap(proto, 'route');
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
    if (!isPatched(proto.use)) {
      this._wrap(proto, 'use', (original: Handle) =>
        markPatched(function use(this: RouterProto, ...args: unknown[]) {
          const before = Array.isArray(this.stack) ? this.stack.length : 0;
          const result = original.apply(this, args);
          try {
            wrapMountedLayers(this, before, mountTemplate(args));
          } catch {
            // Never let route bookkeeping break an app's setup.
          }
          return result;
        }),
      );
    }
    if (!isPatched(proto.route)) {
      const instrumentation = this;
      this._wrap(proto, 'route', (original: Handle) =>
        markPatched(function route(this: RouterProto, ...args: unknown[]) {
          const created = original.apply(this, args) as RouteProto | undefined;
          if (created && typeof created === 'object') {
            const routeProto = Object.getPrototypeOf(created) as RouteProto | null;
            if (routeProto && typeof routeProto.dispatch === 'function')
              instrumentation.patchRoute(routeProto);
          }
          return created;
        }),
      );
    }
  }

  private patchRoute(proto: RouteProto): void {
    if (isPatched(proto.dispatch)) return;
    this._wrap(proto, 'dispatch', (original: Handle) =>
      markPatched(function dispatch(this: RouteProto, req: unknown, res: unknown, done: unknown) {
        const capture = captureOf(req);
        if (capture !== undefined) capture.route = routeTemplate(this as CachedRoute, capture.prefix ?? '');
        return original.call(this, req, res, done);
      }),
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

/** `express.Router` is a class in Express 5 (methods on its prototype) and the prototype object itself in 4. */
function routerProto(express: { Router?: unknown }): RouterProto | undefined {
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
