import { describe, expect, it } from 'vitest';
import {
  capturedRoute,
  mountTemplate,
  startRouteCapture,
  wrapMounted,
} from '../../src/preload/express-route';
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
      seen.push(capturedRoute(capture));
      next();
    };
    wrapMounted(router as never, '/api')(req, {}, () => seen.push(capturedRoute(capture)));
    expect(seen).toEqual(['/api', undefined]);
  });

  it('nests mount templates and leaves requests without a capture alone', () => {
    const seen: unknown[] = [];
    const req = {};
    const capture = startRouteCapture(req);
    const inner = wrapMounted(
      ((_r: unknown, _s: unknown, next: () => void) => {
        seen.push(capturedRoute(capture));
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
