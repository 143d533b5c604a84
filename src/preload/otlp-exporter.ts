/**
 * OTLP/HTTP span exporter (protobuf, or JSON when asked) tuned for a sidecar on loopback.
 *
 * Why not the stock @opentelemetry/exporter-trace-otlp-proto: it retries a failed batch for up to
 * its timeout on ref'd timers and sockets, so a short-lived script waits up to 10 s for a sidecar
 * that is down, and an overloaded sidecar keeps receiving the same batches. Here:
 * - a batch is sent once; on refusal (429/502/503/504, Retry-After honoured) or a network error the
 *   exporter pauses and drops what arrives until the pause ends (exponential backoff 1 s → 30 s
 *   without Retry-After), so a dead sidecar costs no serialisation work and memory stays bounded
 *   by the batch processor's queue;
 * - sockets and timers are unref'd: an export never keeps the process alive;
 * - failures go to diag.warn, which the preload rate-limits to one line a minute.
 * Protobuf encoding is otlp-encode.ts (byte-identical to @opentelemetry/otlp-transformer's, faster).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { gzip } from 'node:zlib';
import { diag } from '@opentelemetry/api';
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { EncodedSpanExporter } from './batch-processor';
import type { ExportTls } from './export-tls';
import { encodeTraceRequest } from './otlp-encode';
import type { ExportProtocol } from './settings';

/** ExportResultCode from @opentelemetry/core (SUCCESS = 0, FAILED = 1). */
const SUCCESS = 0;
const FAILED = 1;
const FIRST_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 30_000;
/** A Retry-After longer than this is cut short: an hour of dropped spans helps nobody. */
export const MAX_RETRY_AFTER_MS = 60_000;

export interface OtlpExporterOptions {
  url: string;
  headers?: Record<string, string>;
  protocol?: ExportProtocol;
  gzip?: boolean;
  timeoutMs: number;
  /** CA to trust and client certificate for an https endpoint (export-tls.ts). */
  tls?: ExportTls;
  /** Clock for pauses (tests). */
  now?: () => number;
}

type Outcome = { ok: true } | { ok: false; reason: string; pauseMs?: number };

export class OtlpHttpExporter implements EncodedSpanExporter {
  /** Spans this exporter gave up on (paused, refused, failed). */
  droppedSpans = 0;
  exportedSpans = 0;
  private pausedUntil = 0;
  private consecutiveFailures = 0;
  private isShutdown = false;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly url: URL;
  private readonly send: typeof httpRequest;
  private readonly agent: HttpAgent;
  private readonly headers: Record<string, string>;
  private readonly now: () => number;
  private readonly serializer: Serializer;
  /** How bodies are encoded; with 'protobuf' the batch processor encodes spans as they end. */
  readonly encoding: 'protobuf' | 'json';

  constructor(private readonly options: OtlpExporterOptions) {
    this.url = new URL(options.url);
    const https = this.url.protocol === 'https:';
    this.send = https ? httpsRequest : httpRequest;
    // One keep-alive connection is plenty: exports are sequential (see batch-processor.ts).
    this.agent = https
      ? new HttpsAgent({ keepAlive: true, maxSockets: 2, ...options.tls })
      : new HttpAgent({ keepAlive: true, maxSockets: 2 });
    const json = options.protocol === 'http/json';
    this.encoding = json ? 'json' : 'protobuf';
    this.serializer = loadSerializer(json);
    this.headers = {
      ...options.headers,
      'Content-Type': json ? 'application/json' : 'application/x-protobuf',
      'User-Agent': 'spanstat-preload',
    };
    if (options.gzip) this.headers['Content-Encoding'] = 'gzip';
    this.now = options.now ?? Date.now;
  }

  /** True while a refusal or failure pause is running (exports are dropped unsent). Checked per span. */
  isPaused(): boolean {
    if (this.pausedUntil === 0) return false; // no clock read while nothing was ever refused
    if (this.now() < this.pausedUntil) return true;
    this.pausedUntil = 0;
    return false;
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    if (this.refuseWhilePaused(spans.length, done)) return;
    let body: Uint8Array | undefined;
    try {
      body = this.serializer.serializeRequest(spans);
    } catch (err) {
      this.droppedSpans += spans.length;
      diag.warn('could not encode spans', err);
      done({ code: FAILED, error: err instanceof Error ? err : new Error(String(err)) });
      return;
    }
    if (!body) {
      done({ code: SUCCESS });
      return;
    }
    this.post(body, spans.length, done);
  }

  /** Sends a protobuf ExportTraceServiceRequest encoded already (the batch processor's path). */
  exportEncoded(body: Uint8Array, spans: number, done: (result: ExportResult) => void): void {
    if (this.refuseWhilePaused(spans, done)) return;
    if (body.length === 0) {
      done({ code: SUCCESS });
      return;
    }
    this.post(body, spans, done);
  }

  private refuseWhilePaused(spans: number, done: (result: ExportResult) => void): boolean {
    if (!this.isShutdown && !this.isPaused()) return false;
    this.droppedSpans += spans;
    done({
      code: FAILED,
      error: new Error(this.isShutdown ? 'exporter is shut down' : 'sidecar paused exports'),
    });
    return true;
  }

  private post(body: Uint8Array, spans: number, done: (result: ExportResult) => void): void {
    const sending = this.deliver(body)
      // An invalid header from OTEL_EXPORTER_OTLP_HEADERS makes http.request throw: a failed export, not a crash.
      .catch(
        (err: unknown): Outcome => ({ ok: false, reason: err instanceof Error ? err.message : String(err) }),
      )
      .then((outcome) => {
        if (outcome.ok) {
          this.consecutiveFailures = 0;
          this.exportedSpans += spans;
          done({ code: SUCCESS });
          return;
        }
        this.droppedSpans += spans;
        const pauseMs = outcome.pauseMs;
        if (pauseMs !== undefined) {
          this.consecutiveFailures++;
          this.pausedUntil = this.now() + pauseMs;
        }
        const next = pauseMs === undefined ? '' : `; next attempt in ${Math.ceil(pauseMs / 1000)} s`;
        diag.warn(
          `cannot export spans to ${this.url.origin}: ${outcome.reason}; dropped ${spans} spans${next}`,
        );
        done({ code: FAILED, error: new Error(outcome.reason) });
      })
      // Whatever `done` does, no rejection may escape into the app.
      .catch(() => undefined);
    this.inFlight.add(sending);
    void sending.finally(() => this.inFlight.delete(sending));
  }

  async forceFlush(): Promise<void> {
    await Promise.all([...this.inFlight]);
  }

  async shutdown(): Promise<void> {
    this.isShutdown = true;
    await this.forceFlush();
    this.agent.destroy();
  }

  private backoffMs(): number {
    return Math.min(FIRST_BACKOFF_MS * 2 ** this.consecutiveFailures, MAX_BACKOFF_MS);
  }

  private async deliver(raw: Uint8Array): Promise<Outcome> {
    let body: Buffer = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    if (this.options.gzip) {
      try {
        body = await gzipAsync(body);
      } catch (err) {
        return { ok: false, reason: `gzip failed: ${err instanceof Error ? err.message : String(err)}` };
      }
    }
    return new Promise<Outcome>((resolve) => {
      let settled = false;
      const finish = (outcome: Outcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(outcome);
      };
      const req = this.send(this.url, {
        method: 'POST',
        agent: this.agent,
        headers: { ...this.headers, 'Content-Length': String(body.length) },
      });
      const timer = setTimeout(() => {
        finish({
          ok: false,
          reason: `no answer within ${this.options.timeoutMs} ms`,
          pauseMs: this.backoffMs(),
        });
        req.destroy();
      }, this.options.timeoutMs);
      timer.unref();
      // The agent re-refs a reused keep-alive socket; an export must not hold the process open.
      req.on('socket', (socket) => socket.unref());
      req.on('response', (res: IncomingMessage) => {
        res.resume();
        finish(this.classify(res));
      });
      req.on('error', (err: Error & { code?: string }) => {
        finish({ ok: false, reason: err.code ?? err.message, pauseMs: this.backoffMs() });
      });
      req.end(body);
    });
  }

  private classify(res: IncomingMessage): Outcome {
    const status = res.statusCode ?? 0;
    if (status >= 200 && status < 300) return { ok: true };
    if (status === 429 || status === 502 || status === 503 || status === 504) {
      const header = res.headers['retry-after'];
      const retryAfter = parseRetryAfterMs(Array.isArray(header) ? header[0] : header, this.now());
      return {
        ok: false,
        reason: `HTTP ${status}`,
        pauseMs: retryAfter === undefined ? this.backoffMs() : Math.min(retryAfter, MAX_RETRY_AFTER_MS),
      };
    }
    // 400/413/415…: this batch is refused; the next one may be fine, so no pause.
    return { ok: false, reason: `HTTP ${status}` };
  }
}

type Serializer = { serializeRequest(spans: ReadableSpan[]): Uint8Array | undefined };

/**
 * Protobuf: our single-pass encoder (otlp-encode.ts, same bytes, ~2x faster). JSON: the official
 * serializer, loaded only when asked for (the package index costs ~150-250 ms of startup here).
 */
function loadSerializer(json: boolean): Serializer {
  if (!json) return { serializeRequest: encodeTraceRequest };
  return (require('@opentelemetry/otlp-transformer') as { JsonTraceSerializer: Serializer })
    .JsonTraceSerializer;
}

/** Retry-After as delay-seconds or an HTTP date, in milliseconds from `nowMs`; undefined when absent or invalid. */
export function parseRetryAfterMs(header: string | undefined, nowMs: number): number | undefined {
  if (header === undefined) return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

function gzipAsync(body: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => gzip(body, (err, out) => (err ? reject(err) : resolve(out))));
}
