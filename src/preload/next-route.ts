/**
 * `http.route` for Next.js (`next start`, a standalone `server.js`, a custom server calling Next's
 * handler): Next's own route template (`/users/[username]`, `/api/orders/[id]`), which Next itself
 * puts on its root span as `next.route` and `http.route` when OpenTelemetry is on.
 *
 * Next traces itself through `next/dist/server/lib/trace/tracer.js`, one module every part of the
 * server shares: `next-server.js` and the precompiled app-page, app-route, pages and pages-api runtimes
 * the built app loads all `require` it (it is external to them). Once a route has taken the request,
 * the route module calls that tracer's `setRootSpanAttribute('next.route', template)` — whether or
 * not any OpenTelemetry SDK is registered (without one Next drops the value). The preload wraps that
 * method on the tracer's one instance and writes the first template of a request to its
 * RouteCapture (route-capture.ts), as Next keeps the first too — over the route a custom server's
 * framework captured (Express's catch-all `*` that hands every request to Next). Registering a tracer provider with the
 * OpenTelemetry API to be told the route would take the API's global away from an app's own SDK
 * (`@vercel/otel`…), so none is registered.
 *
 * The method has no request: `BaseServer.prototype.handleRequest(req, res)` (wrapped in
 * `next/dist/server/base-server.js`; `req` is Next's NodeNextRequest around Node's) links the request's
 * SERVER span, found in the preload's context, to the request's capture, and marks the request MIDDLEWARE_ROUTE until a route takes it (Next's
 * middleware answering, a redirect from next.config). Next's own pages for a request no route took
 * (`/_not-found`, `/404`, `/500`, `/_error`) are not routes: a 404 is the sidecar's `(unmatched)`.
 * Static files — `/_next/static/…` and `public/` — are answered by `serveStatic` in
 * `next/dist/server/serve-static.js` (wrapped) without reaching handleRequest: STATIC_ROUTE, one row,
 * not one per file.
 *
 * Cost: none outside a Next app (three require hooks on Next's files). In one, per request, a WeakMap
 * set and look-up and a context read. Never breaks the app: a failure leaves the request without a
 * route.
 */
import { SpanKind, trace } from '@opentelemetry/api';
import {
  InstrumentationNodeModuleDefinition,
  InstrumentationNodeModuleFile,
} from '@opentelemetry/instrumentation';
import { MIDDLEWARE_ROUTE, STATIC_ROUTE } from '../classify/route-template';
import { LeanSpan } from './lean-tracer';
import { PreloadInstrumentation } from './module-hooks';
import { isPatched, markPatched } from './patch-mark';
import { preloadContext } from './preload-context';
import { captureOf, type RouteCapture } from './route-capture';

type Method = (this: unknown, ...args: unknown[]) => unknown;
type Exports = Record<string, unknown>;

/** Next's versions whose server has these three files (tested: 16.4). */
const VERSIONS = ['>=14.0.0 <17'];
/** The root span attribute Next writes its route template to. */
const ROUTE_KEY = 'next.route';
/** Next's pages for requests no route took; never a route of the app. */
const NOT_ROUTES = new Set(['/_not-found', '/404', '/500', '/_error']);

/** The capture of each request Next is handling, by its SERVER span (gone with the span). */
const captures = new WeakMap<LeanSpan, RouteCapture>();

export class NextRouteInstrumentation extends PreloadInstrumentation {
  constructor() {
    super('spanstat-next-route', '1.0.0');
  }

  protected init() {
    const tracerFile = new InstrumentationNodeModuleFile(
      'next/dist/server/lib/trace/tracer.js',
      VERSIONS,
      (exports: Exports) => {
        patchTracer(exports);
        return exports;
      },
      () => {},
    );
    const baseServerFile = new InstrumentationNodeModuleFile(
      'next/dist/server/base-server.js',
      VERSIONS,
      (exports: Exports) => {
        const proto = (exports?.default as { prototype?: Exports } | undefined)?.prototype;
        if (proto && typeof proto.handleRequest === 'function' && !isPatched(proto.handleRequest))
          this._wrap(proto, 'handleRequest', (original: Method) => markPatched(linkingCapture(original)));
        return exports;
      },
      (exports?: Exports) => {
        const proto = (exports?.default as { prototype?: Exports } | undefined)?.prototype;
        if (proto && isPatched(proto.handleRequest)) this._unwrap(proto, 'handleRequest');
      },
    );
    // Its exports are getters (not writable): the hook hands out a copy with `serveStatic` wrapped.
    const serveStaticFile = new InstrumentationNodeModuleFile(
      'next/dist/server/serve-static.js',
      VERSIONS,
      (exports: Exports) => withStaticMark(exports),
      () => {},
    );
    return [
      new InstrumentationNodeModuleDefinition('next', VERSIONS, undefined, undefined, [
        tracerFile,
        baseServerFile,
        serveStaticFile,
      ]),
    ];
  }
}

/** Wraps `setRootSpanAttribute` on the tracer `getTracer()` returns (one per process). */
function patchTracer(exports: Exports): void {
  try {
    const tracer = (exports?.getTracer as (() => Exports) | undefined)?.();
    if (
      tracer &&
      typeof tracer.setRootSpanAttribute === 'function' &&
      !isPatched(tracer.setRootSpanAttribute)
    )
      tracer.setRootSpanAttribute = markPatched(notingRoute(tracer.setRootSpanAttribute as Method));
  } catch {
    // Requests are named by their path, as before.
  }
}

/** Exported for tests: `setRootSpanAttribute(key, value)` also writing `next.route` to the request's capture. */
export function notingRoute(original: Method): Method {
  return function setRootSpanAttribute(this: unknown, key: unknown, value: unknown) {
    if (key === ROUTE_KEY) noteRoute(value);
    // biome-ignore lint/complexity/noArguments: passed through unchanged
    return original.apply(this, arguments as unknown as unknown[]);
  };
}

/** Exported for tests: writes the request's first route template; Next's own error pages are none. */
export function noteRoute(route: unknown): void {
  try {
    if (typeof route !== 'string' || route === '' || NOT_ROUTES.has(route)) return;
    const span = requestSpan();
    const capture = span && captures.get(span);
    if (capture === undefined) return;
    // Over a custom server's catch-all (Express's `app.all('*', handle)`): Next's template says more.
    capture.route = route;
    // The first template Next notes is the request's, as Next keeps it.
    captures.delete(span as LeanSpan);
  } catch {
    // The request keeps no route.
  }
}

/** Exported for tests: `BaseServer.handleRequest(req, res, parsedUrl)` linking the request's span to its capture. */
export function linkingCapture(original: Method): Method {
  return function handleRequest(this: unknown, req: unknown) {
    try {
      // Next's NodeNextRequest, whose `_req` is Node's request (its `originalRequest` getter writes to it).
      const capture = captureOf((req as { _req?: unknown } | null)?._req) ?? captureOf(req);
      const span = capture && requestSpan();
      if (span !== undefined) {
        captures.set(span, capture as RouteCapture);
        (capture as RouteCapture).unrouted ??= MIDDLEWARE_ROUTE;
      }
    } catch {
      // The request keeps no route.
    }
    // biome-ignore lint/complexity/noArguments: passed through unchanged
    return original.apply(this, arguments as unknown as unknown[]);
  };
}

/** Exported for tests: serve-static.js's exports with `serveStatic(req, …)` marking its request STATIC_ROUTE. */
export function withStaticMark(exports: Exports): Exports {
  try {
    const original = exports?.serveStatic;
    if (typeof original !== 'function' || isPatched(original)) return exports;
    const serveStatic = markPatched(function serveStatic(this: unknown, req: unknown) {
      const capture = captureOf(req);
      if (capture !== undefined && capture.route === undefined) capture.unrouted = STATIC_ROUTE;
      // biome-ignore lint/complexity/noArguments: passed through unchanged
      return (original as Method).apply(this, arguments as unknown as unknown[]);
    });
    const copy: Exports = Object.create(Object.getPrototypeOf(exports));
    for (const name of Object.getOwnPropertyNames(exports)) {
      if (name !== 'serveStatic') copy[name] = exports[name];
    }
    copy.serveStatic = serveStatic;
    return copy;
  } catch {
    return exports;
  }
}

/** The SERVER span of the preload's context now, if it is one of ours and still open. */
function requestSpan(): LeanSpan | undefined {
  const active = trace.getSpan(preloadContext.active());
  if (!(active instanceof LeanSpan)) return undefined;
  const root = active.unitRoot ? active : active.localRoot;
  return root !== null && root.kind === SpanKind.SERVER && !root.ended ? root : undefined;
}
