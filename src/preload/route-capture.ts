/**
 * One request's route as the web framework routed it: the HTTP server span attaches a RouteCapture
 * to each request before the app sees it (`startRouteCapture`), the framework patches write to it
 * (express-route.ts, fastify-route.ts…), and the span reads it back when the response ends
 * (`capturedRoute`). A framework that knows which of its handlers answered only once it has (Hono)
 * leaves its request state as `pending`, asked once, then.
 *
 * An object of its own, not properties of the request: Express gives every request object a map of
 * its own (`setPrototypeOf` per request), so each property added there built a new hidden class per
 * request and every access missed V8's caches; the capture object keeps one shape.
 */

const CAPTURE = Symbol('spanstat.routeCapture');

/** The method a `pending` request state settles its route with. */
export const SETTLE_ROUTE = Symbol('spanstat.settleRoute');

/** A framework's request state that writes the request's route to `capture` once the request is answered. */
export interface PendingRoute {
  [SETTLE_ROUTE](capture: RouteCapture): void;
}

export interface RouteCapture {
  /** Joined mount templates of the Express routers the request is in now. */
  prefix: string | undefined;
  /** The route template that took the request (Express: `prefix + route.path`; Fastify: its route's url). */
  route: string | undefined;
  /**
   * The name for a request answered before any route matched: MIDDLEWARE_ROUTE once an Express app
   * handles it or Fastify's not-found handler has it, STATIC_ROUTE while a pathless `express.static`
   * runs, the path of the scoped Hono middleware that answered (`/admin/*`); undefined outside those.
   * Never names a 404.
   */
  unrouted: string | undefined;
  /** Asked to settle the fields above once the response ends (hono-route.ts), then dropped. */
  pending: PendingRoute | undefined;
}

interface CapturingRequest {
  [CAPTURE]?: RouteCapture;
}

/** Attaches a capture to `req`; call it before the framework first sees the request, while its shape is Node's. */
export function startRouteCapture(req: object): RouteCapture {
  const capture: RouteCapture = {
    prefix: undefined,
    route: undefined,
    unrouted: undefined,
    pending: undefined,
  };
  (req as CapturingRequest)[CAPTURE] = capture;
  return capture;
}

/** The capture `startRouteCapture` attached to `req`, if any. */
export function captureOf(req: unknown): RouteCapture | undefined {
  return req !== null && typeof req === 'object' ? (req as CapturingRequest)[CAPTURE] : undefined;
}

/**
 * The request's route once answered with `status`: the route template that took it, else the
 * mount path of the middleware that answered, else (in an Express or Fastify app) STATIC_ROUTE or
 * MIDDLEWARE_ROUTE. Undefined outside those and for a 404 no route answered, which the sidecar
 * names `(unmatched)`.
 */
export function capturedRoute(capture: RouteCapture, status: number): string | undefined {
  const pending = capture.pending;
  if (pending !== undefined) {
    capture.pending = undefined;
    try {
      pending[SETTLE_ROUTE](capture);
    } catch {
      // Whatever it wrote before failing stands.
    }
  }
  if (capture.route !== undefined) return capture.route;
  if (capture.prefix) return capture.prefix;
  return status === 404 ? undefined : capture.unrouted;
}
