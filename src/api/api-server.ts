import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ErrorCode, isSpanstatError, SpanstatError } from '../errors';
import type { Logger } from '../log';
import { cacheLifetimeMs } from '../reports/cache-lifetime';
import type { ReportQuery } from '../reports/types';
import { acceptsGzip, gzipBody, MIN_GZIP_BYTES } from './compression';
import { parseReportQuery } from './query-params';

export interface ApiHandlers {
  health(): Record<string, unknown>;
  /** Report name (`queries`, `cache`, `endpoints`, …) → builder. */
  reports: Record<string, (query: ReportQuery) => unknown>;
  /** `GET /api/v1/recommendations`, when the advisor runs. */
  recommendations?(params: URLSearchParams): unknown;
  /** `GET /api/v1/deploys`: each service's versions and the per-version figures (src/deploys). */
  deploys?(params: URLSearchParams): unknown;
  /** `GET /metrics`: the Prometheus exposition text, when metrics are on. */
  metrics?(): Promise<string>;
  /** `GET /` HTML report page. */
  page?(): string;
}

export interface ApiServerOptions {
  host: string;
  port: number;
  /**
   * Report responses are served from a serialized copy at least this long (ms; 0 = off), longer when it
   * was expensive (cacheLifetimeMs). JSON.stringify of a full 10k-row report is ~30–50 ms of CPU
   * (bench/report-api.bench.ts), and dashboards repeat the same URLs.
   */
  reportCacheMs?: number;
}

/** Distinct report URLs whose serialized body is kept (expired ones are dropped as others are added). */
const MAX_CACHED_BODIES = 128;
/**
 * JSON bytes kept over all cached bodies (their gzip adds ~1/6): a full 10k-row report is 4.3 MiB, and a
 * client asking for it under many URLs (`?x=1`, `?x=2`…) must not hold the sidecar's memory cap hostage.
 */
const MAX_CACHED_BODY_BYTES = 32 * 2 ** 20;

const JSON_TYPE = 'application/json; charset=utf-8';

interface CachedBody {
  atMs: number;
  lifetimeMs: number;
  /** What this build cost (ms): the next build's lifetime counts it too. */
  costMs: number;
  body: EncodedBody;
}

/** A response body serialized once; its gzip made by the first request that accepts one, then shared. */
interface EncodedBody {
  bytes: Buffer;
  gzipped?: Promise<Buffer>;
}

/** JSON API, report page and /metrics on one port (9464 by default). Read-only: GET and HEAD only. */
export class ApiServer {
  private server: Server | undefined;
  private readonly bodies = new Map<string, CachedBody>();
  private cachedBytes = 0;

  constructor(
    private readonly options: ApiServerOptions,
    private readonly handlers: ApiHandlers,
    private readonly logger?: Logger,
  ) {}

  async start(): Promise<{ host: string; port: number }> {
    if (this.server) throw new Error('api server already started');
    const server = createServer((req, res) => this.handle(req, res));
    server.keepAliveTimeout = 5_000;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.options.port, this.options.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      server.close();
      throw new SpanstatError(
        'SPANSTAT_ERR_LISTEN',
        `API, page and /metrics server cannot listen on ${this.options.host}:${this.options.port} (api.host/api.port): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        { cause: err },
      );
    }
    this.server = server;
    const address = server.address() as AddressInfo;
    return { host: this.options.host, port: address.port };
  }

  async shutdown(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    try {
      this.route(req, res);
    } catch (err) {
      if (isSpanstatError(err, 'SPANSTAT_ERR_API_BAD_PARAM')) {
        sendJson(req, res, 400, errorBody(err.code, err.message));
        return;
      }
      this.logger?.error({ err }, 'api handler failed');
      sendJson(req, res, 500, errorBody('SPANSTAT_ERR_API_INTERNAL', 'internal error'));
    }
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      sendJson(req, res, 405, errorBody('SPANSTAT_ERR_API_METHOD', 'method not allowed'));
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (path === '/healthz') {
      sendJson(req, res, 200, this.handlers.health());
    } else if (path === '/metrics' && this.handlers.metrics) {
      this.handlers.metrics().then(
        (text) => send(req, res, 200, METRICS_HEADERS, { bytes: Buffer.from(text) }),
        (err: unknown) => {
          this.logger?.error({ err }, 'metrics collection failed');
          sendJson(req, res, 500, errorBody('SPANSTAT_ERR_API_INTERNAL', 'metrics collection failed'));
        },
      );
    } else if (path === '/' && this.handlers.page) {
      send(
        req,
        res,
        200,
        { 'Content-Type': 'text/html; charset=utf-8' },
        { bytes: Buffer.from(this.handlers.page()) },
      );
    } else if (path === '/api/v1/recommendations' && this.handlers.recommendations) {
      sendJson(req, res, 200, this.handlers.recommendations(url.searchParams));
    } else if (path === '/api/v1/deploys' && this.handlers.deploys) {
      sendJson(req, res, 200, this.handlers.deploys(url.searchParams));
    } else {
      const match = /^\/api\/v1\/reports\/([a-z-]+)$/.exec(path);
      const build = match ? this.handlers.reports[match[1]] : undefined;
      if (build)
        send(
          req,
          res,
          200,
          JSON_HEADERS,
          this.reportBody(req.url ?? path, () => build(parseReportQuery(url.searchParams))),
        );
      else sendJson(req, res, 404, errorBody('SPANSTAT_ERR_API_NOT_FOUND', `no such endpoint: ${path}`));
    }
  }

  private reportBody(key: string, build: () => unknown): EncodedBody {
    const ttl = this.options.reportCacheMs ?? 0;
    const now = Date.now();
    const hit = this.bodies.get(key);
    if (hit && now - hit.atMs < hit.lifetimeMs) return hit.body;
    const startedMs = performance.now();
    const body: EncodedBody = { bytes: Buffer.from(JSON.stringify(build())) };
    // The dearer of this build and the last: a rebuild that finds the report itself still cached
    // (ReportCache) costs only the serializing, and would otherwise come back every second.
    const costMs = Math.max(performance.now() - startedMs, hit?.costMs ?? 0);
    const lifetimeMs = cacheLifetimeMs(ttl, costMs);
    if (lifetimeMs > 0 && body.bytes.length <= MAX_CACHED_BODY_BYTES) {
      this.forget(key);
      // Expired bodies go now, not when their URL is asked for again: a full report is megabytes.
      for (const [oldKey, entry] of this.bodies)
        if (now - entry.atMs >= entry.lifetimeMs) this.forget(oldKey);
      // Then the oldest, while the new one would not fit.
      for (const oldKey of this.bodies.keys()) {
        if (
          this.bodies.size < MAX_CACHED_BODIES &&
          this.cachedBytes + body.bytes.length <= MAX_CACHED_BODY_BYTES
        )
          break;
        this.forget(oldKey);
      }
      this.bodies.set(key, { atMs: now, lifetimeMs, costMs: performance.now() - startedMs, body });
      this.cachedBytes += body.bytes.length;
    }
    return body;
  }

  private forget(key: string): void {
    const entry = this.bodies.get(key);
    if (entry === undefined) return;
    this.bodies.delete(key);
    this.cachedBytes -= entry.body.bytes.length;
  }

  /** JSON bytes of the cached bodies. */
  get cachedBodyBytes(): number {
    return this.cachedBytes;
  }
}

const JSON_HEADERS = { 'Content-Type': JSON_TYPE, 'Cache-Control': 'no-store' };
/** Prometheus text exposition format 0.0.4. */
const METRICS_HEADERS = {
  'Content-Type': 'text/plain; version=0.0.4; charset=utf-8',
  'Cache-Control': 'no-store',
};

/** Sends `body`, gzipped when it is worth it and the client accepts it. */
function send(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  headers: Record<string, string>,
  body: EncodedBody,
): void {
  const sendAs = (bytes: Buffer, encoding?: string) => {
    if (res.destroyed || res.headersSent) return;
    try {
      res.writeHead(status, {
        ...headers,
        'Content-Length': String(bytes.length),
        Vary: 'Accept-Encoding',
        ...(encoding ? { 'Content-Encoding': encoding } : {}),
      });
      res.end(bytes);
    } catch (err) {
      // Runs in a promise callback after a gzip: a throw here would be an unhandled rejection.
      res.destroy(err as Error);
    }
  };
  if (body.bytes.length < MIN_GZIP_BYTES || !acceptsGzip(req)) {
    sendAs(body.bytes);
    return;
  }
  body.gzipped ??= gzipBody(body.bytes);
  body.gzipped.then(
    (gzipped) => sendAs(gzipped, 'gzip'),
    () => sendAs(body.bytes),
  );
}

/** Every API error carries a stable code (src/errors.ts) beside its message. */
function errorBody(code: ErrorCode, message: string): { error: { code: ErrorCode; message: string } } {
  return { error: { code, message } };
}

function sendJson(req: IncomingMessage, res: ServerResponse, status: number, body: unknown): void {
  send(req, res, status, JSON_HEADERS, { bytes: Buffer.from(JSON.stringify(body)) });
}
