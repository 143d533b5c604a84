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
 *
 * Requests go out through undici, not node:http. Every `http.ClientRequest` the exporter made cost
 * the app's own responses: V8 then migrated each `ServerResponse` to a new map inside `writeHead`
 * (`JSObject::MigrateToMap` under `_implicitHeader`), 11–13 µs per request on the demo route, ~2% of
 * its CPU (bench/preload-profile.ts --inside _implicitHeader: 12.5 µs per request exporting through
 * node:http, 0.9 µs with no export during the run, 0.5 µs without the preload). undici writes to the
 * socket itself and creates no OutgoingMessage. Only the three modules used are loaded (see
 * `loadUndici`), at the first export rather than at start (~30 ms here; the package index takes
 * 65–85 ms and installs a global dispatcher the app's own `fetch` would then use).
 */
import type { Socket } from 'node:net';
import { diag } from '@opentelemetry/api';
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { gzipBody } from '../gzip-body';
import { failureReason, isRetryableStatus, retryBackoffMs, retryDelayMs } from '../otlp-retry';
import type { EncodedSpanExporter, ExitExporter, QueuedSpans } from './batch-processor';
import { type ExitFlushOutcome, exportOnExit } from './exit-flush';
import type { ExportTls } from './export-tls';
import { encodeTraceRequest } from './otlp-encode';
import type { ExportProtocol } from './settings';

/** ExportResultCode from @opentelemetry/core (SUCCESS = 0, FAILED = 1). */
const SUCCESS = 0;
const FAILED = 1;

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

export class OtlpHttpExporter implements EncodedSpanExporter, ExitExporter {
  /** Spans this exporter gave up on (paused, refused, failed). */
  droppedSpans = 0;
  exportedSpans = 0;
  private pausedUntil = 0;
  private consecutiveFailures = 0;
  private isShutdown = false;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly url: URL;
  /** The URL as warnings name it: origin and path (a 404 is a wrong path), never credentials or query. */
  private readonly target: string;
  /** undici's Agent, made at the first export (see the module comment). */
  private dispatcher: UndiciAgent | undefined;
  private readonly headers: Record<string, string>;
  private readonly now: () => number;
  private readonly serializer: Serializer;
  /** How bodies are encoded; with 'protobuf' the batch processor encodes spans as they end. */
  readonly encoding: 'protobuf' | 'json';

  constructor(private readonly options: OtlpExporterOptions) {
    this.url = new URL(options.url);
    this.target = `${this.url.origin}${this.url.pathname}`;
    const json = options.protocol === 'http/json';
    this.encoding = json ? 'json' : 'protobuf';
    this.serializer = loadSerializer(json);
    // Lower-case names, so a configured `Content-Type` is replaced rather than sent twice.
    this.headers = {
      ...Object.fromEntries(Object.entries(options.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
      'content-type': json ? 'application/json' : 'application/x-protobuf',
      'user-agent': 'spanstat-preload',
    };
    if (options.gzip) this.headers['content-encoding'] = 'gzip';
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

  /** The last export, as the process exits: one body, POSTed from a worker while this thread waits (exit-flush.ts). */
  exportOnExit(queued: QueuedSpans, timeoutMs: number): void {
    if (queued.count === 0) return;
    if (this.isShutdown || this.isPaused()) {
      this.droppedSpans += queued.count;
      return;
    }
    let body: Uint8Array;
    try {
      body =
        this.encoding === 'json'
          ? (this.serializer.serializeRequest(queued.spans) ?? new Uint8Array())
          : Buffer.concat(queued.encoded); // concatenated requests parse as one
    } catch {
      this.droppedSpans += queued.count;
      return;
    }
    const outcome = exportOnExit(
      {
        url: this.url.href,
        headers: this.headers,
        body,
        gzip: this.options.gzip === true,
        tls: this.options.tls,
      },
      timeoutMs,
    );
    if ('status' in outcome && outcome.status >= 200 && outcome.status < 300) {
      this.exportedSpans += queued.count;
      return;
    }
    this.droppedSpans += queued.count;
    // The process can no longer report the loss on a later span: say it here (stderr is synchronous
    // for files, pipes and terminals on Linux), or a script pointed at no sidecar loses all unsaid.
    diag.warn(
      `cannot export spans to ${this.target} at exit: ${exitFailureReason(outcome, timeoutMs)}; ` +
        `dropped ${queued.count} spans`,
    );
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
        diag.warn(`cannot export spans to ${this.target}: ${outcome.reason}; dropped ${spans} spans${next}`);
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
    await this.dispatcher?.destroy().catch(() => undefined);
  }

  private backoffMs(): number {
    return retryBackoffMs(this.consecutiveFailures + 1);
  }

  private async deliver(raw: Uint8Array): Promise<Outcome> {
    let body: Buffer = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    if (this.options.gzip) {
      try {
        body = await gzipBody(body);
      } catch (err) {
        return { ok: false, reason: `gzip failed: ${err instanceof Error ? err.message : String(err)}` };
      }
    }
    const undici = loadUndici();
    this.dispatcher ??= newDispatcher(undici, this.options);
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), this.options.timeoutMs);
    timer.unref();
    try {
      const res = await undici.request.call(this.dispatcher, {
        origin: this.url.origin,
        path: `${this.url.pathname}${this.url.search}`,
        method: 'POST',
        headers: this.headers,
        body,
        signal: timeout.signal,
      });
      await res.body.dump();
      return this.classify(res.statusCode, res.headers['retry-after']);
    } catch (err) {
      if (timeout.signal.aborted)
        return {
          ok: false,
          reason: `no answer within ${this.options.timeoutMs} ms`,
          pauseMs: this.backoffMs(),
        };
      return { ok: false, reason: failureReason(err), pauseMs: this.backoffMs() };
    } finally {
      clearTimeout(timer);
    }
  }

  private classify(status: number, header: string | string[] | undefined): Outcome {
    if (status >= 200 && status < 300) return { ok: true };
    if (isRetryableStatus(status)) {
      return {
        ok: false,
        reason: `HTTP ${status}`,
        pauseMs: retryDelayMs(header, this.now(), this.consecutiveFailures + 1),
      };
    }
    // 400/413/415…: this batch is refused; the next one may be fine, so no pause.
    return { ok: false, reason: `HTTP ${status}` };
  }
}

/** Why the exit flush failed, in the words the other exports' warnings use. */
function exitFailureReason(outcome: ExitFlushOutcome, timeoutMs: number): string {
  if ('timedOut' in outcome) return `no answer within ${timeoutMs} ms`;
  if ('error' in outcome) return outcome.error;
  return outcome.status > 0 ? `HTTP ${outcome.status}` : 'connection failed';
}

type UndiciAgent = import('undici').Agent;

interface UndiciParts {
  Agent: typeof import('undici').Agent;
  buildConnector: typeof import('undici').buildConnector;
  /** Dispatcher.prototype.request, which the package index attaches; called with the Agent as `this`. */
  request: (
    this: UndiciAgent,
    options: import('undici').Dispatcher.RequestOptions,
  ) => Promise<import('undici').Dispatcher.ResponseData>;
}

let undiciParts: UndiciParts | undefined;

/**
 * The files of undici the exporter uses, not its index (see the module comment); typed by its index.
 * Those paths are undici's internals: should a release move them, the index serves instead (its global
 * dispatcher then comes with it) rather than every export failing.
 */
export function loadUndici(load: (id: string) => unknown = require): UndiciParts {
  if (undiciParts !== undefined && load === require) return undiciParts;
  let parts: UndiciParts;
  try {
    parts = {
      Agent: load('undici/lib/dispatcher/agent') as UndiciParts['Agent'],
      buildConnector: load('undici/lib/core/connect') as UndiciParts['buildConnector'],
      request: load('undici/lib/api/api-request') as UndiciParts['request'],
    };
  } catch {
    const index = load('undici') as typeof import('undici');
    parts = {
      Agent: index.Agent,
      buildConnector: index.buildConnector,
      request: index.Dispatcher.prototype.request as unknown as UndiciParts['request'],
    };
  }
  if (load === require) undiciParts = parts;
  return parts;
}

/**
 * One origin, one keep-alive connection (exports are sequential, see batch-processor.ts),
 * unref'd for good: undici refs a socket while a request is on it, and an export must never
 * keep the app's process alive (the unref'd timeout above ends a stuck one).
 */
function newDispatcher(undici: UndiciParts, options: OtlpExporterOptions): UndiciAgent {
  const connect = undici.buildConnector({ ...options.tls, timeout: options.timeoutMs });
  return new undici.Agent({
    connections: 1,
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
    connect: (connectOptions, callback) =>
      connect(connectOptions, (err, socket) => {
        if (err !== null) callback(err, null);
        else callback(null, holdNoRef(socket));
      }),
  });
}

function holdNoRef<S extends Socket>(socket: S): S {
  socket.unref();
  socket.ref = () => socket;
  return socket;
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
