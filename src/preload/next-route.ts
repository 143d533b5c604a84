import {
  InstrumentationNodeModuleDefinition,
  InstrumentationNodeModuleFile,
} from '@opentelemetry/instrumentation';
import { MIDDLEWARE_ROUTE, STATIC_ROUTE } from '../classify/route-template';
import { activeRequestSpan, type LeanSpan } from './lean-tracer';
import { withExportWrapped } from './module-exports';
import { PreloadInstrumentation } from './module-hooks';
import { isPatched, markPatched } from './patch-mark';
import { captureOf, type RouteCapture } from './route-capture';

type Method = (this: unknown, ...args: unknown[]) => unknown;
type Exports = Record<string, unknown>;

/** Next's versions whose server has these files (tested: 14.2, 15.5, 16.4). */
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
    const baseServerFile = this.prototypeMethodsFile(
      'next/dist/server/base-server.js',
      VERSIONS,
      defaultClass,
      {
        handleRequest: linkingCapture,
      },
    );
    // Next 14, whose tracer has no setRootSpanAttribute: the page a route resolved to, and a pages API route.
    const nextServerFile = this.prototypeMethodsFile(
      'next/dist/server/next-server.js',
      VERSIONS,
      defaultClass,
      {
        findPageComponents: notingFoundPage,
        runApi: notingApiRoute,
      },
    );
    // Its exports are getters (not writable): the hook hands out a copy with `serveStatic` wrapped.
    const serveStaticFile = new InstrumentationNodeModuleFile(
      'next/dist/server/serve-static.js',
      VERSIONS,
      (exports: Exports) => withStaticMark(exports),
      () => {},
    );
    // Next's router, which `next start` and a custom server's `getRequestHandler()` hand each request to.
    const routerServerFile = new InstrumentationNodeModuleFile(
      'next/dist/server/lib/router-server.js',
      VERSIONS,
      (exports: Exports) => withRouterHandlerTakingOver(exports),
      () => {},
    );
    // `next dev` only: the dev bundler's hot reloader, webpack's (a class; Rspack's extends it) and Turbopack's.
    const webpackHotReloaderFile = this.prototypeMethodsFile(
      'next/dist/server/dev/hot-reloader-webpack.js',
      VERSIONS,
      defaultClass,
      { run: markingDevAnswers },
    );
    const turbopackHotReloaderFile = new InstrumentationNodeModuleFile(
      'next/dist/server/dev/hot-reloader-turbopack.js',
      VERSIONS,
      (exports: Exports) => withDevAnswersMarked(exports),
      () => {},
    );
    return [
      new InstrumentationNodeModuleDefinition('next', VERSIONS, undefined, undefined, [
        tracerFile,
        baseServerFile,
        nextServerFile,
        serveStaticFile,
        routerServerFile,
        webpackHotReloaderFile,
        turbopackHotReloaderFile,
      ]),
    ];
  }
}

/** The prototype of the class a Next server file exports as its default. */
function defaultClass(exports: unknown): object | undefined {
  return ((exports as Exports | undefined)?.default as { prototype?: object } | undefined)?.prototype;
}

/**
 * Whether Next's tracer tells the route (`setRootSpanAttribute`, Next 15+). Next 14's sets `next.route`
 * only on the attributes of an OpenTelemetry root span, which it has only with an SDK registered: there the
 * route is read from the server's own calls (notingFoundPage, notingApiRoute).
 */
let tracerNotesRoutes = false;

/** Wraps `setRootSpanAttribute` on the tracer `getTracer()` returns (one per process). */
function patchTracer(exports: Exports): void {
  try {
    const tracer = (exports?.getTracer as (() => Exports) | undefined)?.();
    if (tracer && typeof tracer.setRootSpanAttribute === 'function') {
      tracerNotesRoutes = true;
      if (!isPatched(tracer.setRootSpanAttribute))
        tracer.setRootSpanAttribute = markPatched(notingRoute(tracer.setRootSpanAttribute as Method));
    }
  } catch {
    // Requests are named by their path, as before.
  }
}

/**
 * Exported for tests: Next 14's `NextNodeServer.findPageComponents({ page, isAppPath })`, noting `page` —
 * the route's template, an app path as Next names it (normalizeAppPath) — once it resolved to components
 * (the route renders). Next's own error pages are no routes (noteRoute).
 */
export function notingFoundPage(original: Method): Method {
  return function findPageComponents(this: unknown, params: unknown) {
    // biome-ignore lint/complexity/noArguments: passed through unchanged
    const result = original.apply(this, arguments as unknown as unknown[]);
    if (tracerNotesRoutes) return result;
    const { page, isAppPath } = (params ?? {}) as { page?: unknown; isAppPath?: unknown };
    if (typeof page !== 'string') return result;
    return Promise.resolve(result).then((found) => {
      if (found) noteRoute(isAppPath === true ? appRoute(page) : page);
      return found;
    });
  };
}

/** Exported for tests: Next 14's `NextNodeServer.runApi(req, res, query, match)`, noting a pages API route's template. */
export function notingApiRoute(original: Method): Method {
  return function runApi(this: unknown, _req: unknown, _res: unknown, _query: unknown, match: unknown) {
    if (!tracerNotesRoutes)
      noteRoute((match as { definition?: { pathname?: unknown } } | null)?.definition?.pathname);
    // biome-ignore lint/complexity/noArguments: passed through unchanged
    return original.apply(this, arguments as unknown as unknown[]);
  };
}

/** An app-router path as a route (Next's normalizeAppPath): no route groups, parallel slots or `page`/`route` leaf. */
export function appRoute(page: string): string {
  const segments = page.split('/');
  const kept = segments.filter(
    (segment, i) =>
      segment !== '' &&
      !(segment.startsWith('(') && segment.endsWith(')')) &&
      !segment.startsWith('@') &&
      !((segment === 'page' || segment === 'route') && i === segments.length - 1),
  );
  return `/${kept.join('/')}`;
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
    const span = activeRequestSpan();
    const capture = span && captures.get(span);
    if (capture === undefined) return;
    // Over a custom server's catch-all (Express's `app.all('*', handle)`): Next's template says more.
    capture.route = route;
    // The first template Next notes is the request's, as Next 16 keeps it. (Next 15 keeps the last: a
    // route handler's own `…/[id]/route`, its file's path, after the server's `/api/orders/[id]`.)
    captures.delete(span as LeanSpan);
  } catch {
    // The request keeps no route.
  }
}

/**
 * Next routes the request from here on: a route the custom server's framework captured on the way —
 * the catch-all that hands every request to Next (Express's `app.all('/{*path}', handle)`), or its
 * mount path — names nothing, so Next's static files, middleware answers and 404s read as Next's.
 */
function nextRoutes(capture: RouteCapture): void {
  capture.route = undefined;
  capture.prefix = undefined;
}

/**
 * Exported for tests: router-server.js's exports with `initialize(opts)` resolving to handlers whose
 * request handler (`[requestHandler, …]` in Next 14, `{ requestHandler, … }` from 15) lets Next route
 * each request from its start (nextRoutes) — what it answers itself, a missing `/_next/static/` file's
 * 404, never reaches handleRequest or serveStatic.
 */
export function withRouterHandlerTakingOver(exports: Exports): Exports {
  return withExportWrapped(exports, 'initialize', (original) =>
    markPatched(async function initialize(this: unknown) {
      // biome-ignore lint/complexity/noArguments: passed through unchanged
      const handlers = (await original.apply(this, arguments as unknown as unknown[])) as unknown;
      try {
        if (Array.isArray(handlers) && typeof handlers[0] === 'function')
          handlers[0] = takingOver(handlers[0] as Method);
        else {
          const named = handlers as { requestHandler?: unknown } | null;
          if (typeof named?.requestHandler === 'function')
            named.requestHandler = takingOver(named.requestHandler as Method);
        }
      } catch {
        // Requests are named as before.
      }
      return handlers;
    }),
  );
}

function takingOver(original: Method): Method {
  return function requestHandler(this: unknown, req: unknown) {
    const capture = captureOf(req);
    if (capture !== undefined) nextRoutes(capture);
    // biome-ignore lint/complexity/noArguments: passed through unchanged
    return original.apply(this, arguments as unknown as unknown[]);
  };
}

/** Exported for tests: `BaseServer.handleRequest(req, res, parsedUrl)` linking the request's span to its capture. */
export function linkingCapture(original: Method): Method {
  return function handleRequest(this: unknown, req: unknown) {
    try {
      // Next's NodeNextRequest, whose `_req` is Node's request (its `originalRequest` getter writes to it).
      const capture = captureOf((req as { _req?: unknown } | null)?._req) ?? captureOf(req);
      const span = capture && activeRequestSpan();
      if (span !== undefined) {
        captures.set(span, capture as RouteCapture);
        nextRoutes(capture as RouteCapture);
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
  return withExportWrapped(exports, 'serveStatic', (original) =>
    markPatched(function serveStatic(this: unknown, req: unknown) {
      const capture = captureOf(req);
      if (capture !== undefined) {
        nextRoutes(capture);
        capture.unrouted = STATIC_ROUTE;
      }
      // biome-ignore lint/complexity/noArguments: passed through unchanged
      return original.apply(this, arguments as unknown as unknown[]);
    }),
  );
}

/**
 * Exported for tests: hot-reloader-turbopack.js's exports with `createHotReloaderTurbopack(…)`
 * resolving to its hot reloader with `run` marking the requests it answers (markingDevAnswers).
 */
export function withDevAnswersMarked(exports: Exports): Exports {
  return withExportWrapped(exports, 'createHotReloaderTurbopack', (original) =>
    markPatched(async function createHotReloaderTurbopack(this: unknown) {
      // biome-ignore lint/complexity/noArguments: passed through unchanged
      const hotReloader = (await original.apply(this, arguments as unknown as unknown[])) as Exports;
      try {
        if (hotReloader && typeof hotReloader.run === 'function' && !isPatched(hotReloader.run))
          hotReloader.run = markPatched(markingDevAnswers(hotReloader.run as Method));
      } catch {
        // Dev requests are named as before.
      }
      return hotReloader;
    }),
  );
}

/**
 * Exported for tests: a hot reloader's `run(req, res, parsedUrl)` marking the request STATIC_ROUTE
 * while it runs, kept if it answered the request (`{ finished: true }`: the response may close before
 * `run`'s promise settles), else the request's mark before (it goes on to be routed).
 */
export function markingDevAnswers(original: Method): Method {
  return function run(this: unknown, req: unknown) {
    const capture = captureOf(req);
    const before = capture?.unrouted;
    if (capture !== undefined) {
      nextRoutes(capture);
      capture.unrouted = STATIC_ROUTE;
    }
    // biome-ignore lint/complexity/noArguments: passed through unchanged
    const result = original.apply(this, arguments as unknown as unknown[]);
    if (capture === undefined) return result;
    const restore = () => {
      if (capture.unrouted === STATIC_ROUTE) capture.unrouted = before;
    };
    return Promise.resolve(result).then(
      (outcome) => {
        if ((outcome as { finished?: unknown } | null)?.finished !== true) restore();
        return outcome;
      },
      (error: unknown) => {
        restore();
        throw error;
      },
    );
  };
}
