import { describe, expect, it } from 'vitest';
import { MIDDLEWARE_ROUTE } from '../../src/classify/route-template';
import { routedLookup, unroutedByDefault } from '../../src/preload/restify-route';
import { capturedRoute, startRouteCapture } from '../../src/preload/route-capture';

/** Restify's `Router#lookup`: sets `req.route` and returns the route's chain, or undefined for none. */
function lookup(this: unknown, ...args: unknown[]): unknown {
  const req = args[0] as { url: string; route?: unknown };
  if (req.url.startsWith('/users/')) {
    req.route = { path: '/users/:id', method: 'GET', name: 'getusersid' };
    return () => undefined;
  }
  return undefined;
}

describe('Restify requests under the preload', () => {
  const onRequest = unroutedByDefault(function _onRequest(this: unknown, ...args: unknown[]) {
    return routedLookup(lookup).call(this, ...args);
  });

  const routeOf = (url: string, status: number) => {
    const req = { url };
    const capture = startRouteCapture(req);
    onRequest.call({}, req, {});
    return capturedRoute(capture, status);
  };

  it("are named by the path of the route Restify's router matched", () => {
    expect(routeOf('/users/zebediah', 200)).toBe('/users/:id');
    // A `use` handler's answer after routing is the route's.
    expect(routeOf('/users/zebediah', 401)).toBe('/users/:id');
  });

  it('are (middleware) when answered before routing or refused by method, (unmatched) as a 404', () => {
    expect(routeOf('/nowhere/zebediah', 401)).toBe(MIDDLEWARE_ROUTE);
    expect(routeOf('/nowhere/zebediah', 405)).toBe(MIDDLEWARE_ROUTE);
    expect(routeOf('/nowhere/zebediah', 404)).toBeUndefined();
  });

  it('keep what the router returns and leave requests without a capture or with an odd route alone', () => {
    const chain = () => undefined;
    const odd = routedLookup((req) => {
      (req as { route?: unknown }).route = { path: /x/ };
      return chain;
    });
    const req = {};
    const capture = startRouteCapture(req);
    expect(odd.call({}, req, {})).toBe(chain);
    expect(capture.route).toBeUndefined();
    expect(routedLookup(lookup).call({}, { url: '/users/1' }, {})).toBeTypeOf('function');
    expect(() => routedLookup(lookup).call({}, null, {})).toThrow(); // Restify's own TypeError, as unwrapped
    expect(() => unroutedByDefault(() => 'handled').call({}, null, {})).not.toThrow();
  });
});
