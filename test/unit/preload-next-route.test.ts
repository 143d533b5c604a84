/**
 * The Next.js route seams (next-route.ts) without Next: a request's SERVER span in the preload's
 * context, BaseServer's handleRequest given Next's NodeNextRequest, the tracer's setRootSpanAttribute.
 */
import { ROOT_CONTEXT, SpanKind } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIDDLEWARE_ROUTE, STATIC_ROUTE } from '../../src/classify/route-template';
import { setSpan } from '../../src/preload/context-frame';
import { LeanTracerProvider } from '../../src/preload/lean-tracer';
import {
  appRoute,
  linkingCapture,
  markingDevAnswers,
  notingApiRoute,
  notingFoundPage,
  notingRoute,
  withDevAnswersMarked,
  withRouterHandlerTakingOver,
  withStaticMark,
} from '../../src/preload/next-route';
import { preloadContext } from '../../src/preload/preload-context';
import { type RouteCapture, startRouteCapture } from '../../src/preload/route-capture';

const tracer = new LeanTracerProvider(resourceFromAttributes({ 'service.name': 'next-test' }), {
  onEnd: () => {},
}).getTracer('test');

beforeAll(() => preloadContext.enable());
afterAll(() => preloadContext.disable());

const handleRequest = linkingCapture(async () => {});
const noted: unknown[][] = [];
const setRootSpanAttribute = notingRoute((...args: unknown[]) => noted.push(args));

/** A request through handleRequest (as Next's NodeNextRequest), then the route keys Next would note. */
async function request(...routes: string[]): Promise<RouteCapture> {
  return requestFrom(undefined, ...routes);
}

/** The same, through a custom server whose framework captured `outerRoute` first. */
async function requestFrom(outerRoute: string | undefined, ...routes: string[]): Promise<RouteCapture> {
  const req = {};
  const capture = startRouteCapture(req);
  capture.route = outerRoute;
  const span = tracer.startSpan('GET', { kind: SpanKind.SERVER });
  await preloadContext.with(setSpan(ROOT_CONTEXT, span), async () => {
    await handleRequest({ _req: req });
    await Promise.resolve();
    for (const route of routes) setRootSpanAttribute('next.route', route);
  });
  span.end();
  return capture;
}

describe("Next.js's route on the request's capture", () => {
  it('keeps the first template Next notes, as Next 16 does, and passes every call through', async () => {
    noted.length = 0;
    expect((await request('/users/[username]', '/_error')).route).toBe('/users/[username]');
    expect(noted).toEqual([
      ['next.route', '/users/[username]'],
      ['next.route', '/_error'],
    ]);
  });

  it("replaces a custom server's catch-all route (Express's app.all('*', handle)) with Next's template", async () => {
    expect((await requestFrom('*', '/api/orders/[id]')).route).toBe('/api/orders/[id]');
    // Next took the request: its own not-found page is no route, the catch-all names nothing either.
    const notFound = await requestFrom('*', '/_not-found');
    expect(notFound.route).toBeUndefined();
    expect(notFound.unrouted).toBe(MIDDLEWARE_ROUTE);
  });

  it("takes Next's own not-found and error pages for no route: (middleware) until a route, a 404 (unmatched)", async () => {
    for (const page of ['/_not-found', '/404', '/500', '/_error']) {
      const capture = await request(page);
      expect(capture.route).toBeUndefined();
      expect(capture.unrouted).toBe(MIDDLEWARE_ROUTE);
    }
  });

  it('leaves requests outside a SERVER span alone, and ignores other attributes', async () => {
    const req = {};
    const capture = startRouteCapture(req);
    await handleRequest({ _req: req });
    setRootSpanAttribute('next.route', '/users/[username]');
    expect(capture).toEqual({ prefix: undefined, route: undefined, unrouted: undefined });
    expect((await request()).route).toBeUndefined();
  });

  it("marks serveStatic's requests (static), keeping serve-static.js's other exports", () => {
    const served: unknown[] = [];
    const exports = {};
    Object.defineProperty(exports, '__esModule', { value: true });
    for (const [name, value] of Object.entries({
      getContentType: () => 'text/plain',
      serveStatic: (...args: unknown[]) => served.push(args),
    }))
      Object.defineProperty(exports, name, { enumerable: true, get: () => value });
    const patched = withStaticMark(exports) as Record<string, (...args: unknown[]) => unknown>;
    const req = {};
    const capture = startRouteCapture(req);
    patched.serveStatic(req, 'res', '/chunks/a.js');
    expect(capture.unrouted).toBe(STATIC_ROUTE);
    expect(served).toEqual([[req, 'res', '/chunks/a.js']]);
    // Through a custom server's catch-all (Express's app.all): Next's static file all the same.
    const routedReq = {};
    const routed = startRouteCapture(routedReq);
    routed.route = '/{*path}';
    patched.serveStatic(routedReq, 'res', '/chunks/b.js');
    expect([routed.route, routed.unrouted]).toEqual([undefined, STATIC_ROUTE]);
    expect(patched.getContentType()).toBe('text/plain');
    expect(withStaticMark(patched)).toBe(patched);
  });

  it("lets Next's router take each request from a custom server's catch-all (Next 14's handler list and 15's object)", async () => {
    const handled: unknown[] = [];
    const requestHandler = async (req: unknown) => {
      handled.push(req);
    };
    for (const shape of [
      (h: typeof requestHandler) => [h, 'upgrade', 'app'],
      (h: typeof requestHandler) => ({ requestHandler: h, upgradeHandler: 'upgrade' }),
    ]) {
      const exports = {};
      Object.defineProperty(exports, 'initialize', {
        enumerable: true,
        get: () => async () => shape(requestHandler),
      });
      const patched = withRouterHandlerTakingOver(exports) as { initialize: () => Promise<unknown> };
      const handlers = (await patched.initialize()) as
        | [typeof requestHandler]
        | { requestHandler: typeof requestHandler };
      const handler = Array.isArray(handlers) ? handlers[0] : handlers.requestHandler;
      const req = {};
      const capture = startRouteCapture(req);
      capture.route = '*';
      capture.prefix = '/app';
      capture.unrouted = MIDDLEWARE_ROUTE;
      await handler(req);
      expect([capture.route, capture.prefix, capture.unrouted]).toEqual([
        undefined,
        undefined,
        MIDDLEWARE_ROUTE,
      ]);
      expect(handled.at(-1)).toBe(req);
      expect(withRouterHandlerTakingOver(patched)).toBe(patched);
    }
  });

  it("marks what next dev's hot reloader answers (static), and hands the rest on unmarked", async () => {
    let during: string | undefined;
    const run = markingDevAnswers(async (req: unknown) => {
      during = (req as { capture: RouteCapture }).capture.unrouted;
      return (req as { answer: unknown }).answer;
    });
    const devRequest = (answer: unknown) => {
      const req: { capture?: RouteCapture; answer: unknown } = { answer };
      req.capture = startRouteCapture(req);
      return req as { capture: RouteCapture; answer: unknown };
    };
    const answered = devRequest({ finished: true });
    expect(await run(answered)).toEqual({ finished: true });
    expect(answered.capture.unrouted).toBe(STATIC_ROUTE);
    // Handed on to be routed: marked only while the hot reloader had it (the response was not closed).
    for (const answer of [{ finished: undefined }, {}, undefined]) {
      const handedOn = devRequest(answer);
      expect(await run(handedOn)).toEqual(answer);
      expect(during).toBe(STATIC_ROUTE);
      expect(handedOn.capture.unrouted).toBeUndefined();
    }
    // A custom server's catch-all gives way: Next answered it; a failure is passed on, the mark undone.
    const routed = devRequest({ finished: true });
    routed.capture.route = '*';
    routed.capture.prefix = '/app';
    await run(routed);
    expect([routed.capture.route, routed.capture.prefix, routed.capture.unrouted]).toEqual([
      undefined,
      undefined,
      STATIC_ROUTE,
    ]);
    const failing = markingDevAnswers(async () => {
      throw new Error('compile failed');
    });
    const failed = devRequest(undefined);
    await expect(failing(failed)).rejects.toThrow('compile failed');
    expect(failed.capture.unrouted).toBeUndefined();
    // A request without a capture (the preload's HTTP span off) passes straight through.
    expect(await run({ answer: { finished: true }, capture: { unrouted: undefined } })).toEqual({
      finished: true,
    });
  });

  it("wraps the run of the hot reloader Turbopack's factory resolves to, keeping its other exports", async () => {
    const exports = {};
    const reloader = { run: async () => ({ finished: true }), onHMR: () => 'hmr' };
    for (const [name, value] of Object.entries({
      createHotReloaderTurbopack: async (...args: unknown[]) => (args[0] === 'opts' ? reloader : null),
      other: () => 'other',
    }))
      Object.defineProperty(exports, name, { enumerable: true, get: () => value });
    const patched = withDevAnswersMarked(exports) as Record<string, (...args: unknown[]) => unknown>;
    const hotReloader = (await patched.createHotReloaderTurbopack('opts')) as typeof reloader;
    expect(hotReloader).toBe(reloader);
    const req = {};
    const capture = startRouteCapture(req);
    await (hotReloader.run as (req: unknown) => Promise<unknown>)(req);
    expect(capture.unrouted).toBe(STATIC_ROUTE);
    expect(hotReloader.onHMR()).toBe('hmr');
    expect(patched.other()).toBe('other');
    expect(withDevAnswersMarked(patched)).toBe(patched);
    expect(await patched.createHotReloaderTurbopack('something else')).toBeNull();
  });
});

/** A request through handleRequest, then `next` inside it (as Next 14's server would call on). */
async function inRequest(next: () => unknown): Promise<RouteCapture> {
  const req = {};
  const capture = startRouteCapture(req);
  const span = tracer.startSpan('GET', { kind: SpanKind.SERVER });
  await preloadContext.with(setSpan(ROOT_CONTEXT, span), async () => {
    await handleRequest({ _req: req });
    await next();
  });
  span.end();
  return capture;
}

describe("Next.js 14's route, from its server's own calls (its tracer has no setRootSpanAttribute)", () => {
  const findPageComponents = notingFoundPage(async (params: unknown) =>
    (params as { page: string }).page.includes('missing') ? null : { components: true },
  );
  const runApi = notingApiRoute(async () => true);

  it('notes the page a route resolved to, an app path as Next names it, and not a page that did not resolve', async () => {
    const page =
      (p: string, isAppPath = false) =>
      () =>
        findPageComponents({ page: p, isAppPath });
    expect((await inRequest(page('/users/[username]/page', true))).route).toBe('/users/[username]');
    expect((await inRequest(page('/(shop)/api/orders/[id]/route', true))).route).toBe('/api/orders/[id]');
    expect((await inRequest(page('/blog/[slug]'))).route).toBe('/blog/[slug]');
    const missing = await inRequest(page('/missing/[id]'));
    expect([missing.route, missing.unrouted]).toEqual([undefined, MIDDLEWARE_ROUTE]);
    // Next's own error pages are no routes.
    expect((await inRequest(page('/_error'))).route).toBeUndefined();
    expect(await findPageComponents({ page: '/users/[username]' })).toEqual({ components: true });
  });

  it('notes a pages API route from the match Next runs it for', async () => {
    const match = { definition: { pathname: '/api/teams/[team]' }, params: { team: 'quarterly' } };
    expect((await inRequest(() => runApi.call(undefined, {}, {}, {}, match))).route).toBe(
      '/api/teams/[team]',
    );
  });

  it("reads app paths as Next's normalizeAppPath does", () => {
    expect(
      ['/page', '/(group)/users/[id]/page', '/@modal/(.)photo/[id]/page', '/api/x/route', '/a/route/b'].map(
        appRoute,
      ),
    ).toEqual(['/', '/users/[id]', '/(.)photo/[id]', '/api/x', '/a/route/b']);
  });
});
