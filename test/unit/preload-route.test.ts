import { describe, expect, it } from 'vitest';
import { mountTemplate, routeOf, wrapMounted } from '../../src/preload/express-route';
import { joinRoute, pathTemplate } from '../../src/preload/route-path';

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
    const router = (req: object, _res: unknown, next: () => void) => {
      seen.push(routeOf(req));
      next();
    };
    const req = {};
    wrapMounted(router as never, '/api')(req, {}, () => seen.push(routeOf(req)));
    expect(seen).toEqual(['/api', undefined]);
  });
});
