/**
 * HTTP SERVER spans without @opentelemetry/instrumentation-http. Its per-request work (a `new URL()`
 * per request, req/res listeners rebound to the context, a dozen attributes, outgoing-request
 * machinery) was the largest part of the preload's cost; the sidecar reads four attributes.
 *
 * One wrapper on `Server.prototype.emit` (http and https): for 'request' it starts a SERVER span
 * (continuing an incoming W3C `traceparent` unless OTEL_PROPAGATORS=none), runs the app's listeners
 * inside the span's context with one `context.with` (one AsyncLocalStorage run, no rebinding), and
 * ends the span when the response closes with `http.request.method`, `url.path` (no query string),
 * `http.response.status_code` and `http.route` (express-route.ts), plus the spans this process has
 * lost so far once there are any (`lostSpans`). 5xx and aborted responses (closed before the app
 * ended them) get an error status. Outgoing requests are not traced, so the exporter's own requests
 * never are.
 *
 * What the end needs (span, method, route capture) travels in the `close` listener's closure, not in
 * properties of `res`/`req`: Express gives each request and response object a hidden class of its
 * own, so every such property read at the end missed V8's inline caches (`--log-ic`: four to six
 * misses per request, each a runtime look-up).
 * Measured with bench/lib/preload-cpu-probe.ts (demo pg+redis route, app CPU per request, medians
 * of 3 interleaved rounds, same run): no preload 730 µs; preload with instrumentation-http 1206 µs
 * (+65%); with this patch 1003 µs (+37%). An earlier, noisier run: 425 / 689 (+62%) / 612 (+44%).
 */
import {
  type Context,
  defaultTextMapGetter,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
} from '@opentelemetry/api';
import { setSpan } from './context-frame';
import { type LostSpans, markLostSpans } from './lost-spans';
import { preloadContext, traceContextPropagator } from './preload-context';
import { capturedRoute, type RouteCapture, startRouteCapture } from './route-capture';

type Emit = (this: unknown, event: string | symbol, ...args: unknown[]) => boolean;

interface ServerProto {
  emit: Emit;
}

interface Wrapper extends Emit {
  __wrapped?: boolean;
  __original?: Emit;
}

interface RequestLike {
  method?: string;
  url?: string;
  headers: Record<string, string | string[] | undefined>;
}

interface ResponseLike {
  statusCode: number;
  writableEnded?: boolean;
  on(event: 'close', listener: () => void): unknown;
}

export interface HttpServerOptions {
  /** Continue incoming `traceparent` headers (OTEL_PROPAGATORS includes tracecontext). */
  propagate: boolean;
  /** Attach an Express route capture to each request (only when the Express route instrumentation runs). */
  captureRoutes: boolean;
  /**
   * Spans this process has lost so far, and its random id: once the count is not zero, every SERVER
   * span carries both (SPANSTAT_ATTR.lostSpans), so the sidecar can say how much its reports miss.
   */
  lostSpans?: LostSpans;
}

export class HttpServerInstrumentation {
  private tracer: Tracer | undefined;
  private readonly patched: ServerProto[] = [];

  constructor(private readonly options: HttpServerOptions) {}

  setTracer(tracer: Tracer): void {
    this.tracer = tracer;
  }

  /** Patches http.Server and https.Server once; a second call does nothing. */
  enable(): void {
    if (this.patched.length > 0) return;
    // https is loaded here only to reach its Server; both are in every Node process anyway.
    for (const mod of [require('node:http'), require('node:https')] as {
      Server: { prototype: ServerProto };
    }[]) {
      const proto = mod.Server.prototype;
      if (Object.hasOwn(proto, 'emit') && (proto.emit as Wrapper).__wrapped) continue;
      const original = proto.emit;
      const wrapper = this.wrap(original) as Wrapper;
      // The shimmer convention (`__wrapped`, `__original`): other tools see it as a wrapper.
      wrapper.__wrapped = true;
      wrapper.__original = original;
      proto.emit = wrapper;
      this.patched.push(proto);
    }
  }

  disable(): void {
    for (const proto of this.patched.splice(0)) {
      const wrapper = proto.emit as Wrapper;
      // Someone wrapped over us: leave the chain alone rather than drop their wrapper.
      if (wrapper.__wrapped && wrapper.__original) proto.emit = wrapper.__original;
    }
  }

  private wrap(original: Emit): Emit {
    const instrumentation = this;
    // `arguments`, not rest parameters: emit runs for every event of every HTTP server
    // ('connection' per socket, 'request', …); passing them through must not allocate an array.
    return function emit(this: unknown, event: string | symbol, req?: unknown, res?: unknown) {
      // biome-ignore lint/complexity/noArguments: see above
      if (event !== 'request') return original.apply(this, arguments as unknown as [string]);
      const ctx = instrumentation.start(req as RequestLike, res as ResponseLike);
      // biome-ignore lint/complexity/noArguments: see above
      if (ctx === undefined) return original.apply(this, arguments as unknown as [string]);
      return preloadContext.with(ctx, original, this, event, req, res);
    };
  }

  /** Starts the span and arranges its end; undefined when anything is off (never throws). */
  private start(req: RequestLike, res: ResponseLike): Context | undefined {
    const tracer = this.tracer;
    if (tracer === undefined) return undefined;
    try {
      const method = req.method ?? 'GET';
      let parent = preloadContext.active();
      if (this.options.propagate && req.headers.traceparent !== undefined)
        parent = traceContextPropagator.extract(ROOT_CONTEXT, req.headers, defaultTextMapGetter);
      const span = tracer.startSpan(
        method,
        {
          kind: SpanKind.SERVER,
          attributes: { 'http.request.method': method, 'url.path': pathOf(req.url) },
        },
        parent,
      );
      const capture = this.options.captureRoutes ? startRouteCapture(req) : undefined;
      const lost = this.options.lostSpans;
      res.on('close', () => endServerSpan(res, span, method, capture, lost));
      return setSpan(parent, span);
    } catch {
      return undefined;
    }
  }
}

function endServerSpan(
  res: ResponseLike,
  span: Span,
  method: string,
  capture: RouteCapture | undefined,
  lost: HttpServerOptions['lostSpans'],
): void {
  try {
    const status = res.statusCode;
    span.setAttribute('http.response.status_code', status);
    markLostSpans(span, lost);
    const route = capture && capturedRoute(capture, status);
    if (route !== undefined) {
      span.setAttribute('http.route', route);
      span.updateName(`${method} ${route}`);
    }
    if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    // Closed before the app ended its response (the client gave up, the socket broke). Not
    // writableFinished, which also counts an ended response still being flushed to a client that
    // left, and whose getter reads three properties of `res` to say so (three cache misses, above).
    else if (res.writableEnded === false)
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'response aborted' });
    span.end();
  } catch {
    // Never into the app.
  }
}

/** The request target's path without the query string; absolute-form targets (proxies) reduced too. */
export function pathOf(url: string | undefined): string {
  if (url === undefined || url === '') return '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (path.charCodeAt(0) === 47 /* / */) return path;
  try {
    return new URL(path).pathname;
  } catch {
    return path;
  }
}
