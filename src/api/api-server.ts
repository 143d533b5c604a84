import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ErrorCode, isSpanstatError, SpanstatError } from '../errors';
import type { Logger } from '../log';
import type { ReportQuery } from '../reports/types';
import { parseReportQuery } from './query-params';

export interface ApiHandlers {
  health(): Record<string, unknown>;
  /** Report name (`queries`, `cache`, `endpoints`, …) → builder. */
  reports: Record<string, (query: ReportQuery) => unknown>;
  /** `GET /api/v1/recommendations`, when the advisor runs. */
  recommendations?(params: URLSearchParams): unknown;
  /** `GET /api/v1/deploys`: each service's versions and the per-version figures (src/deploys). */
  deploys?(params: URLSearchParams): unknown;
  /** `GET /metrics` (Prometheus text), when metrics are on. */
  metrics?(req: IncomingMessage, res: ServerResponse): void;
  /** `GET /` HTML report page. */
  page?(): string;
}

export interface ApiServerOptions {
  host: string;
  port: number;
  /**
   * Report responses are served from a serialized copy this long (ms; 0 = off). JSON.stringify of a full
   * 10k-row report is ~50 ms of CPU (bench/report-api.bench.ts), and dashboards repeat the same URLs.
   */
  reportCacheMs?: number;
}

/** Distinct report URLs whose serialized body is kept. */
const MAX_CACHED_BODIES = 128;

/** JSON API, report page and /metrics on one port (9464 by default). Read-only: GET and HEAD only. */
export class ApiServer {
  private server: Server | undefined;
  private readonly bodies = new Map<string, { atMs: number; body: string }>();

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
        sendJson(res, 400, errorBody(err.code, err.message));
        return;
      }
      this.logger?.error({ err }, 'api handler failed');
      sendJson(res, 500, errorBody('SPANSTAT_ERR_API_INTERNAL', 'internal error'));
    }
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      sendJson(res, 405, errorBody('SPANSTAT_ERR_API_METHOD', 'method not allowed'));
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (path === '/healthz') {
      sendJson(res, 200, this.handlers.health());
    } else if (path === '/metrics' && this.handlers.metrics) {
      this.handlers.metrics(req, res);
    } else if (path === '/' && this.handlers.page) {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(this.handlers.page());
    } else if (path === '/api/v1/recommendations' && this.handlers.recommendations) {
      sendJson(res, 200, this.handlers.recommendations(url.searchParams));
    } else if (path === '/api/v1/deploys' && this.handlers.deploys) {
      sendJson(res, 200, this.handlers.deploys(url.searchParams));
    } else {
      const match = /^\/api\/v1\/reports\/([a-z-]+)$/.exec(path);
      const build = match ? this.handlers.reports[match[1]] : undefined;
      if (build)
        sendBody(
          res,
          200,
          this.reportBody(req.url ?? path, () => build(parseReportQuery(url.searchParams))),
        );
      else sendJson(res, 404, errorBody('SPANSTAT_ERR_API_NOT_FOUND', `no such endpoint: ${path}`));
    }
  }

  private reportBody(key: string, build: () => unknown): string {
    const ttl = this.options.reportCacheMs ?? 0;
    const now = Date.now();
    const hit = this.bodies.get(key);
    if (hit && now - hit.atMs < ttl) return hit.body;
    const body = JSON.stringify(build());
    if (ttl > 0) {
      this.bodies.delete(key);
      if (this.bodies.size >= MAX_CACHED_BODIES)
        this.bodies.delete(this.bodies.keys().next().value as string);
      this.bodies.set(key, { atMs: now, body });
    }
    return body;
  }
}

function sendBody(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(text);
}

/** Every API error carries a stable code (src/errors.ts) beside its message. */
function errorBody(code: ErrorCode, message: string): { error: { code: ErrorCode; message: string } } {
  return { error: { code, message } };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(text);
}
