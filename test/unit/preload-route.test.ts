import { describe, expect, it } from 'vitest';
import { mountTemplate, wrapMounted, wrapStatic } from '../../src/preload/express-route';
import { capturedRoute, startRouteCapture } from '../../src/preload/route-capture';
import { endsWithRegExp, joinRoute, pathTemplate } from '../../src/preload/route-path';

describe('route templates joined from mount paths', () => {
  it('joins nested mount paths and the route path with single slashes', () => {
    expect(joinRoute(joinRoute('/api', '/users'), '/:id')).toBe('/api/users/:id');
    expect(joinRoute('/api/', '/users')).toBe('/api/users');
    expect(joinRoute('/api', 'users')).toBe('/api/users');
  });

  it('keeps a route path alone when nothing is mounted', () => {
    expect(joinRoute('', '/users/:id')).toBe('/users/:id');
    expect(joinRoute('/', '/users/:id')).toBe('/users/:id');
  });

  it('drops the trailing slash of a router root route', () => {
    expect(joinRoute('/users', '/')).toBe('/users');
    expect(joinRoute('/users/', '')).toBe('/users');
  });

  it('keeps the root route as a single slash', () => {
    expect(joinRoute('', '/')).toBe('/');
    expect(joinRoute('', '')).toBe('/');
  });

  it('writes regular expressions and path lists as text', () => {
    expect(pathTemplate(/^\/v\d+/)).toBe('/^\\/v\\d+/');
    expect(pathTemplate(['/a', '/b'])).toBe('/a,/b');
    expect(pathTemplate(undefined)).toBe('');
  });

  it("keeps a regular expression's closing slash when it ends the route", () => {
    const re = /^\/re\/(\d+)$/;
    expect(joinRoute('', pathTemplate(re), endsWithRegExp(re))).toBe('/^\\/re\\/(\\d+)$/');
    expect(joinRoute('/api', pathTemplate(re), endsWithRegExp(re))).toBe('/api/^\\/re\\/(\\d+)$/');
    expect(endsWithRegExp(['/a', re])).toBe(true);
    expect(endsWithRegExp(['/a/'])).toBe(false);
    expect(joinRoute('/users', '/', endsWithRegExp('/'))).toBe('/users');
  });
});

describe('mount paths of use() calls', () => {
  const handler = () => undefined;

  it('reads the path given before the handlers', () => {
    expect(mountTemplate(['/api', handler])).toBe('/api');
    expect(mountTemplate([['/a', '/b'], handler])).toBe('/a,/b');
  });

  it('is the root when use() gets handlers only', () => {
    expect(mountTemplate([handler])).toBe('/');
    expect(mountTemplate([[handler, handler]])).toBe('/');
  });
});

describe('a mounted router wrapped for its route prefix', () => {
  it('keeps the arity Express reads and exposes the router internals route-listing tools read', () => {
    const router = Object.assign((_req: unknown, _res: unknown, _next: unknown) => undefined, {
      stack: [{ name: 'layer' }],
      params: {},
    });
    const wrapped = wrapMounted(router, '/api') as unknown as typeof router;
    expect(wrapped.length).toBe(3);
    expect(wrapped.stack).toBe(router.stack);
    router.stack = [];
    expect(wrapped.stack).toBe(router.stack);
    expect(Object.getPrototypeOf(wrapped)).toBe(Function.prototype);
  });

  it('sets the prefix while the router runs and restores it when the router passes the request on', () => {
    const seen: unknown[] = [];
    const req = {};
    const capture = startRouteCapture(req);
    const router = (_req: object, _res: unknown, next: () => void) => {
      seen.push(capturedRoute(capture, 200));
      next();
    };
    wrapMounted(router as never, '/api')(req, {}, () => seen.push(capturedRoute(capture, 200)));
    expect(seen).toEqual(['/api', undefined]);
  });

  it('nests mount templates and leaves requests without a capture alone', () => {
    const seen: unknown[] = [];
    const req = {};
    const capture = startRouteCapture(req);
    const inner = wrapMounted(
      ((_r: unknown, _s: unknown, next: () => void) => {
        seen.push(capturedRoute(capture, 200));
        next();
      }) as never,
      '/customers/:id',
    );
    const outer = wrapMounted(
      ((r: unknown, s: unknown, next: () => void) => inner(r, s, next)) as never,
      '/api',
    );
    outer(req, {}, () => seen.push(capture.prefix));
    expect(seen).toEqual(['/api/customers/:id', undefined]);
    let called = 0;
    const next = () => {};
    wrapMounted(
      ((_r: unknown, _s: unknown, n: unknown) => {
        called++;
        expect(n).toBe(next);
      }) as never,
      '/api',
    )({}, {}, next);
    expect(called).toBe(1);
  });
});

describe('the route of a request no Express route answered', () => {
  const captureWith = (fields: Partial<ReturnType<typeof startRouteCapture>>) =>
    Object.assign(startRouteCapture({}), fields);

  it('is the route template when a route dispatched it, whatever the status', () => {
    const capture = captureWith({ route: '/users/:id', prefix: '/api', unrouted: '(middleware)' });
    expect(capturedRoute(capture, 200)).toBe('/users/:id');
    expect(capturedRoute(capture, 404)).toBe('/users/:id');
  });

  it('is the mount path of the path-mounted middleware that answered', () => {
    expect(capturedRoute(captureWith({ prefix: '/assets', unrouted: '(static)' }), 200)).toBe('/assets');
    expect(capturedRoute(captureWith({ prefix: '/api', unrouted: '(middleware)' }), 401)).toBe('/api');
  });

  it('is a fixed name, never the path, for pathless middleware in an Express app that answered', () => {
    for (const status of [200, 204, 304, 400, 401, 403, 413, 429, 500])
      expect(capturedRoute(captureWith({ unrouted: '(middleware)' }), status)).toBe('(middleware)');
    expect(capturedRoute(captureWith({ unrouted: '(static)' }), 200)).toBe('(static)');
  });

  it('is left to the sidecar for a 404 and outside Express', () => {
    expect(capturedRoute(captureWith({ unrouted: '(middleware)' }), 404)).toBeUndefined();
    expect(capturedRoute(startRouteCapture({}), 200)).toBeUndefined();
    expect(capturedRoute(startRouteCapture({}), 401)).toBeUndefined();
  });
});

describe('a pathless express.static wrapped to name what it serves', () => {
  it('names the request (static) while it runs and restores the name when it passes the request on', () => {
    const req = {};
    const capture = startRouteCapture(req);
    capture.unrouted = '(middleware)';
    const seen: unknown[] = [];
    const serveStatic = (_req: unknown, _res: unknown, next: () => void) => {
      seen.push(capturedRoute(capture, 200));
      next();
    };
    const wrapped = wrapStatic(serveStatic as never);
    expect(wrapped.name).toBe('serveStatic');
    expect(wrapped.length).toBe(3);
    wrapped(req, {}, () => seen.push(capturedRoute(capture, 401)));
    expect(seen).toEqual(['(static)', '(middleware)']);
  });

  it('keeps (static) for a file it answered, and leaves requests without a capture alone', () => {
    const req = {};
    const capture = startRouteCapture(req);
    capture.unrouted = '(middleware)';
    wrapStatic((() => undefined) as never)(req, {}, () => undefined);
    expect(capturedRoute(capture, 200)).toBe('(static)');
    const next = () => undefined;
    let passed: unknown;
    wrapStatic(((_r: unknown, _s: unknown, n: unknown) => {
      passed = n;
    }) as never)({}, {}, next);
    expect(passed).toBe(next);
  });
});
