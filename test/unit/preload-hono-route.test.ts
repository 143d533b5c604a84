/**
 * Hono's route capture on real Hono apps (test/fixtures/routers' hono, its CommonJS build with the
 * `Context` its dispatch builds replaced as the preload's require hook replaces it), served through
 * `app.fetch` with the env @hono/node-server passes (`{ incoming, outgoing }`).
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { MIDDLEWARE_ROUTE } from '../../src/classify/route-template';
import { routedContextClass, settleHonoRoute, withRoutedContext } from '../../src/preload/hono-route';
import { capturedRoute, type RouteCapture, startRouteCapture } from '../../src/preload/route-capture';
import { installedPins, ROUTERS_DIR } from '../helpers/compat-fixture';

interface HonoApp {
  get(path: string, ...handlers: Handler[]): HonoApp;
  all(path: string, ...handlers: Handler[]): HonoApp;
  use(first: string | Handler, ...handlers: Handler[]): HonoApp;
  onError(handler: (err: Error, c: HonoContext) => Response): HonoApp;
  route(path: string, app: HonoApp): HonoApp;
  basePath(path: string): HonoApp;
  notFound(handler: Handler): HonoApp;
  fetch(request: Request, env?: unknown): Response | Promise<Response>;
}
interface HonoContext {
  req: { param(name: string): string; header(name: string): string | undefined };
  text(body: string, status?: number): Response;
  notFound(): Response;
}
type Handler = (c: HonoContext, next: () => Promise<void>) => unknown;
type HonoClass = new () => HonoApp;

let Hono: HonoClass;

beforeAll(() => {
  installedPins(ROUTERS_DIR);
  const load = createRequire(join(ROUTERS_DIR, 'package.json'));
  // As the require hook does before hono-base.js reads it.
  const contextFile = join(ROUTERS_DIR, 'node_modules', 'hono', 'dist', 'cjs', 'context.js');
  const exports = load(contextFile) as { Context: unknown };
  expect(withRoutedContext(exports)).toBe(exports); // rolldown's exports are plain properties
  Hono = (load('hono') as { Hono: HonoClass }).Hono;
});

/** The route the request is named by once `app` answered it, with the status it answered. */
async function routeOf(
  app: HonoApp,
  path: string,
  init?: RequestInit,
): Promise<[string | undefined, number]> {
  const incoming = {};
  const capture = startRouteCapture(incoming);
  const response = await app.fetch(new Request(`http://localhost${path}`, init), { incoming, outgoing: {} });
  return [capturedRoute(capture, response.status), response.status];
}

const ok: Handler = (c) => c.text('ok');

describe('Hono requests under the preload', () => {
  it("are named by the matched route's path, sub-apps' and basePath prefixes included", async () => {
    const app = new Hono();
    app.get('/users/:id', ok);
    app.get('/files/*', ok);
    const accounts = new Hono();
    accounts.get('/:account/orders/:order', ok);
    const api = new Hono().basePath('/api/v2');
    api.route('/accounts', accounts);
    app.route('/', api);
    const admin = new Hono();
    admin.get('/reports/:name', ok);
    app.route('/admin', admin);

    expect(await routeOf(app, '/users/zebediah')).toEqual(['/users/:id', 200]);
    expect(await routeOf(app, '/files/a/b.txt')).toEqual(['/files/*', 200]);
    expect(await routeOf(app, '/api/v2/accounts/acme/orders/7')).toEqual([
      '/api/v2/accounts/:account/orders/:order',
      200,
    ]);
    expect(await routeOf(app, '/admin/reports/quarterly')).toEqual(['/admin/reports/:name', 200]);
    expect(await routeOf(app, '/users/zebediah', { method: 'HEAD' })).toEqual(['/users/:id', 200]);
    // A basePath app served itself.
    const based = new Hono().basePath('/v1');
    based.get('/items/:id', ok);
    expect(await routeOf(based, '/v1/items/3')).toEqual(['/v1/items/:id', 200]);
  });

  it('are named by the handler that answered when middleware matched too', async () => {
    const app = new Hono();
    app.use(async (c, next) => {
      if (c.req.header('x-deny')) return c.text('no', 401);
      await next();
    });
    app.use('/admin/*', async (c, next) => {
      if (!c.req.header('authorization')) return c.text('no', 403);
      await next();
    });
    app.get('/admin/users/:id', ok);
    app.get('/users/:id', async (_c, next) => {
      await next(); // hands on to the next handler of the same path
    });
    app.get('/users/:id', ok);
    app.get('/missing/:id', (c) => c.notFound());
    app.get('/boom/:id', () => {
      throw new Error('boom');
    });
    app.onError((_err, c) => c.text('failed', 500));

    expect(await routeOf(app, '/users/zebediah')).toEqual(['/users/:id', 200]);
    expect(await routeOf(app, '/admin/users/7', { headers: { authorization: 'x' } })).toEqual([
      '/admin/users/:id',
      200,
    ]);
    // An app-wide middleware's answer is (middleware); a scoped one's is named by its path.
    expect(await routeOf(app, '/users/zebediah', { headers: { 'x-deny': '1' } })).toEqual([
      MIDDLEWARE_ROUTE,
      401,
    ]);
    expect(await routeOf(app, '/admin/users/7')).toEqual(['/admin/*', 403]);
    // A route's own 404 keeps it; the error handler's 500 is the failing route's.
    expect(await routeOf(app, '/missing/zebediah')).toEqual(['/missing/:id', 404]);
    expect(await routeOf(app, '/boom/zebediah')).toEqual(['/boom/:id', 500]);
    // No route took it: the not-found handler's 404, after the middleware that let it through.
    expect(await routeOf(app, '/nowhere/zebediah')).toEqual([undefined, 404]);
    expect(await routeOf(app, '/admin/nowhere', { headers: { authorization: 'x' } })).toEqual([
      undefined,
      404,
    ]);
  });

  it("that no route matched are left to the sidecar's (unmatched), and (middleware) when the not-found handler answers otherwise", async () => {
    const app = new Hono();
    app.get('/users/:id', ok);
    expect(await routeOf(app, '/nowhere/zebediah')).toEqual([undefined, 404]);
    const spa = new Hono();
    spa.get('/api/:id', ok);
    spa.notFound((c) => c.text('index.html'));
    expect(await routeOf(spa, '/some/page')).toEqual([MIDDLEWARE_ROUTE, 200]);
    // The only match a scoped middleware that lets it through (Hono calls it without composing).
    const scoped = new Hono();
    scoped.use('/static/*', async (_c, next) => {
      await next();
    });
    expect(await routeOf(scoped, '/static/zebediah.css')).toEqual([undefined, 404]);
  });

  it('leave requests of other servers and of app.request() alone', async () => {
    const app = new Hono();
    app.get('/users/:id', ok);
    expect((await app.fetch(new Request('http://localhost/users/1'))).status).toBe(200);
    expect((await app.fetch(new Request('http://localhost/users/1'), { incoming: {} })).status).toBe(200);
  });
});

describe("the Context Hono's dispatch builds", () => {
  it('is replaced in a copy of esbuild-style exports, whose getters cannot be redefined', () => {
    class Context {}
    const exports = {};
    Object.defineProperty(exports, 'Context', { get: () => Context, enumerable: true });
    Object.defineProperty(exports, 'TEXT_PLAIN', { get: () => 'text/plain', enumerable: true });
    const patched = withRoutedContext(exports) as { Context: typeof Context; TEXT_PLAIN: string };
    expect(patched).not.toBe(exports);
    expect(patched.TEXT_PLAIN).toBe('text/plain');
    expect(new patched.Context()).toBeInstanceOf(Context);
    expect(patched.Context.name).toBe('Context');
    // Once only.
    expect(withRoutedContext(patched)).toBe(patched);
    expect(routedContextClass(patched.Context)).toBe(patched.Context);
    expect(withRoutedContext(undefined)).toBeUndefined();
  });

  it('never throws into the dispatch for odd options', () => {
    class Context {}
    const Routed = routedContextClass(Context);
    const capture = startRouteCapture({});
    for (const options of [undefined, {}, { env: null }, { env: { incoming: 1 } }, { matchResult: [] }])
      expect(() => new Routed({}, options as never)).not.toThrow();
    expect(capture.route).toBeUndefined();
  });
});

describe('what the answering route says of the request', () => {
  const settled = (route: { path?: unknown; method?: unknown } | undefined, status: number) => {
    const capture: RouteCapture = startRouteCapture({});
    capture.unrouted = MIDDLEWARE_ROUTE;
    settleHonoRoute(capture, route);
    return capturedRoute(capture, status);
  };

  it('names it by a route, by a scoped middleware unless it is a 404, and app-wide middleware as (middleware)', () => {
    expect(settled({ path: '/users/:id', method: 'GET' }, 404)).toBe('/users/:id');
    expect(settled({ path: '/proxy', method: 'ALL' }, 200)).toBe('/proxy');
    expect(settled({ path: '/admin/*', method: 'ALL' }, 401)).toBe('/admin/*');
    expect(settled({ path: '/admin/*', method: 'ALL' }, 404)).toBeUndefined();
    expect(settled({ path: '/*', method: 'ALL' }, 401)).toBe(MIDDLEWARE_ROUTE);
    expect(settled({ path: '*', method: 'ALL' }, 404)).toBeUndefined();
    expect(settled({ path: 3 }, 200)).toBe(MIDDLEWARE_ROUTE);
    expect(settled(undefined, 200)).toBe(MIDDLEWARE_ROUTE);
  });
});
