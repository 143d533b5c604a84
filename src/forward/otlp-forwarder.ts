/**
 * Relays the OTLP bodies the receivers accepted to another OTLP/HTTP endpoint (config `forward`), so
 * a tracing backend or an OpenTelemetry Collector keeps getting the apps' spans while spanstat reports
 * on them. Bodies go as accepted (after gunzip; OTLP/gRPC bodies as protobuf), at most MAX_IN_FLIGHT
 * POSTs at once, oldest first.
 * - Protobuf bodies waiting together go as one POST of up to `maxBatchBytes`, joined byte for byte:
 *   protobuf parses concatenated messages as one whose repeated fields (`resource_spans`) are joined,
 *   so no decoding is needed. The POSTs an upstream must take then follow the byte rate, not the number
 *   of app processes exporting (with 4 in flight and a 50-ms round trip, ~80 POSTs/s at most).
 *   JSON bodies go one by one.
 * - Memory is bounded by `maxQueuedBytes` (queued and in flight): a body arriving when it is full is
 *   dropped and counted, so a slow or dead upstream never grows the sidecar or slows its receivers.
 * - 429/502/503/504, timeouts and network errors are retried: the POST goes back to the front, whole,
 *   and sending pauses for Retry-After (at most 60 s) or a backoff (1 s, doubling to 30 s).
 * - Any other refusal (400, 401, 413…) drops that POST's spans: sending them again cannot help.
 * - A 2xx whose ExportTraceServiceResponse names `partial_success.rejected_spans` counts those spans as
 *   rejected, the rest as sent (the spec says not to retry them).
 * - `compression: gzip` compresses each POST once (on libuv's thread pool, not the event loop); a
 *   retry sends the same bytes.
 * - The relayed spans are the apps' spans unchanged, SQL text and Redis keys included: the upstream
 *   sees what it would have seen without spanstat in between. Logs name the status or error code only.
 */
import { rootCertificates } from 'node:tls';
import { gzip, constants as zlibConstants } from 'node:zlib';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { Pool } from 'undici';
import { failureReason, isRetryableStatus, retryBackoffMs, retryDelayMs } from '../otlp-retry';
import { CONTENT_TYPE, type OtlpEncoding } from '../receiver/responses';
import { assertUsableTls, readTlsFile } from '../tls-file';

/** POSTs in flight at once: enough to hide a LAN round trip at the sidecar's ingest rate. */
const MAX_IN_FLIGHT = 4;
/** A failure is logged at most this often; the counters have every one. */
const WARN_INTERVAL_MS = 60_000;
/** How long shutdown waits for the queue to drain before dropping what is left. */
const SHUTDOWN_GRACE_MS = 2_000;
/**
 * zlib's fastest level: on the bench's OTLP bodies (380 B a span) it compresses 7.6× at 737k spans/s
 * on one core, against 8.6× at 427k for the default level 6 (bench/lib/otlp-batches templates).
 */
const GZIP_LEVEL = zlibConstants.Z_BEST_SPEED;

export interface ForwarderOptions {
  /** OTLP/HTTP traces URL, e.g. http://otel-collector:4318/v1/traces. */
  endpoint: string;
  headers: Readonly<Record<string, string>>;
  maxQueuedBytes: number;
  /** Protobuf bodies joined into one POST up to this many bytes (a larger body goes alone). */
  maxBatchBytes: number;
  timeoutMs: number;
  /** `gzip`: POSTs go with Content-Encoding: gzip. */
  compression: 'none' | 'gzip';
  /** PEM CA trusted for an https upstream, besides Node's own. */
  tlsCaFile?: string;
  /** PEM client certificate and key, for an upstream that asks for one (mutual TLS). */
  tlsCertFile?: string;
  tlsKeyFile?: string;
}

export interface ForwarderLogger {
  warn(obj: object, msg: string): void;
}

/** Counters since start (spans), and what is held now. */
export interface ForwardStats {
  /** Spans the upstream answered 2xx for. */
  spansSent: number;
  /** Spans not relayed because the queue was full, or still queued at shutdown. */
  spansDropped: number;
  /** Spans the upstream refused for good (4xx other than 429, or a 2xx partial_success). */
  spansRejected: number;
  /** Attempts that will be made again (429/502/503/504, timeouts, network errors). */
  retries: number;
  /** Body bytes queued or in flight (as received, before gzip). */
  queuedBytes: number;
  /** POSTs made (each one body, or protobuf bodies joined), retries included. */
  posts: number;
}

/** What one POST carries: one body, or protobuf bodies joined. Sent again whole if it must be. */
interface Batch {
  body: Buffer;
  encoding: OtlpEncoding;
  spans: number;
  /** Taken from the queue for a POST: no more bodies join it, and `wire` is what goes again. */
  sealed: boolean;
  /** The gzipped body, once made. */
  wire?: Buffer;
}

/**
 * One thread-pool task per body: zlib hands back each `chunkSize` of output through the event loop
 * before it compresses on, so with the default 16 KiB a 1-MiB batch of OTLP waits ~8 turns of a busy
 * event loop. Measured with the loop busy in 5-ms turns: 49–51 ms per gzip that way, 11–12 ms in one
 * task (4.4 ms with the loop idle).
 */
function gzipAsync(body: Buffer): Promise<Buffer> {
  const chunkSize = Math.max(64 * 1024, body.length + 1024);
  return new Promise((resolve, reject) =>
    gzip(body, { level: GZIP_LEVEL, chunkSize }, (err, out) => (err ? reject(err) : resolve(out))),
  );
}

/**
 * `partial_success.rejected_spans` of a 2xx answer's ExportTraceServiceResponse (same encoding as the
 * request), by OpenTelemetry's own deserializers; 0 when absent or unreadable (the spans were taken).
 * Its `error_message` is not logged: an upstream may quote span data in it.
 */
function rejectedSpans(body: Buffer, encoding: OtlpEncoding): number {
  if (body.length === 0) return 0;
  try {
    const serializer = encoding === 'protobuf' ? ProtobufTraceSerializer : JsonTraceSerializer;
    const rejected = Number(serializer.deserializeResponse(body).partialSuccess?.rejectedSpans ?? 0);
    return Number.isFinite(rejected) && rejected > 0 ? rejected : 0;
  } catch {
    return 0;
  }
}

interface ForwardTls {
  ca?: (Buffer | string)[];
  cert?: Buffer;
  key?: Buffer;
}

/** `rejected`: spans a 2xx answer's partial_success refused. */
type Outcome = { ok: true; rejected: number } | { ok: false; reason: string; retryInMs?: number };

export class OtlpForwarder {
  readonly stats: ForwardStats = {
    spansSent: 0,
    spansDropped: 0,
    spansRejected: 0,
    retries: 0,
    queuedBytes: 0,
    posts: 0,
  };
  /** The upstream's scheme, host and port (no path, no credentials): what logs name. */
  readonly origin: string;
  private readonly queue: Batch[] = [];
  private readonly pool: Pool;
  private readonly path: string;
  private readonly headers: Record<string, string>;
  private inFlight = 0;
  private pausedUntil = 0;
  private resumeTimer: NodeJS.Timeout | undefined;
  private consecutiveFailures = 0;
  private lastWarnMs = Number.NEGATIVE_INFINITY;
  private closed = false;
  /** Called when nothing is queued or in flight (shutdown waits on it). */
  private onIdle: (() => void) | undefined;

  constructor(
    private readonly options: ForwarderOptions,
    private readonly logger?: ForwarderLogger,
    private readonly now: () => number = Date.now,
  ) {
    const url = new URL(options.endpoint);
    this.origin = url.origin;
    this.path = `${url.pathname}${url.search}`;
    // Lower-case names, so a configured content-type is replaced by the body's own rather than sent twice.
    this.headers = Object.fromEntries(Object.entries(options.headers).map(([k, v]) => [k.toLowerCase(), v]));
    if (options.compression === 'gzip') this.headers['content-encoding'] = 'gzip';
    this.pool = new Pool(this.origin, {
      connections: MAX_IN_FLIGHT,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      connect: { timeout: options.timeoutMs, ...forwardTls(options) },
    });
  }

  /** Queues one accepted body (its spans counted by the caller); never throws, never waits. */
  forward(body: Buffer, encoding: OtlpEncoding, spans: number): void {
    if (this.closed || this.stats.queuedBytes + body.length > this.options.maxQueuedBytes) {
      this.stats.spansDropped += spans;
      return;
    }
    this.queue.push({ body, encoding, spans, sealed: false });
    this.stats.queuedBytes += body.length;
    this.pump();
  }

  /** Gives queued bodies SHUTDOWN_GRACE_MS to go out (a pause is cut short), then drops the rest. Safe twice. */
  async shutdown(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.pausedUntil = 0;
      this.pump();
      if (!this.idle()) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, SHUTDOWN_GRACE_MS);
          timer.unref();
          this.onIdle = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      clearTimeout(this.resumeTimer);
      for (const item of this.queue.splice(0)) this.dropQueued(item);
    }
    await this.pool.destroy().catch(() => undefined);
  }

  private pump(): void {
    while (this.inFlight < MAX_IN_FLIGHT && this.queue.length > 0 && this.now() >= this.pausedUntil) {
      const item = this.takeBatch();
      this.inFlight++;
      void this.post(item).then((outcome) => this.settle(item, outcome));
    }
    if (this.idle()) this.onIdle?.();
  }

  private idle(): boolean {
    return this.queue.length === 0 && this.inFlight === 0;
  }

  /** The oldest body, with the protobuf bodies queued behind it joined on, up to maxBatchBytes. */
  private takeBatch(): Batch {
    const first = this.queue.shift() as Batch;
    if (first.sealed || first.encoding !== 'protobuf') {
      first.sealed = true;
      return first;
    }
    let end = 0;
    let bytes = first.body.length;
    while (end < this.queue.length) {
      const next = this.queue[end];
      if (
        next.sealed ||
        next.encoding !== 'protobuf' ||
        bytes + next.body.length > this.options.maxBatchBytes
      )
        break;
      bytes += next.body.length;
      end++;
    }
    if (end === 0) return first;
    const joined = [first, ...this.queue.splice(0, end)];
    return {
      body: Buffer.concat(
        joined.map((b) => b.body),
        bytes,
      ),
      encoding: 'protobuf',
      spans: joined.reduce((n, b) => n + b.spans, 0),
      sealed: true,
    };
  }

  private settle(item: Batch, outcome: Outcome): void {
    this.inFlight--;
    if (outcome.ok) {
      this.consecutiveFailures = 0;
      const rejected = Math.min(outcome.rejected, item.spans);
      this.stats.spansSent += item.spans - rejected;
      this.stats.spansRejected += rejected;
      this.stats.queuedBytes -= item.body.length;
      if (rejected > 0) this.warn('partial success', `upstream took the POST but refused ${rejected} spans`);
    } else if (outcome.retryInMs !== undefined && !this.closed) {
      this.stats.retries++;
      this.consecutiveFailures++;
      this.queue.unshift(item);
      this.pauseFor(outcome.retryInMs);
      this.warn(outcome.reason, `retrying in ${Math.ceil(outcome.retryInMs / 1000)} s`);
    } else if (outcome.retryInMs !== undefined) {
      this.dropQueued(item);
      this.warn(outcome.reason, 'dropped at shutdown');
    } else {
      this.stats.spansRejected += item.spans;
      this.stats.queuedBytes -= item.body.length;
      this.warn(outcome.reason, `refused ${item.spans} spans`);
    }
    this.pump();
  }

  private pauseFor(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.now() + ms);
    clearTimeout(this.resumeTimer);
    this.resumeTimer = setTimeout(() => this.pump(), Math.max(0, this.pausedUntil - this.now()));
    this.resumeTimer.unref();
  }

  private dropQueued(item: Batch): void {
    this.stats.spansDropped += item.spans;
    this.stats.queuedBytes -= item.body.length;
  }

  private async post(item: Batch): Promise<Outcome> {
    if (this.options.compression === 'gzip' && item.wire === undefined) {
      try {
        item.wire = await gzipAsync(item.body);
      } catch (err) {
        return { ok: false, reason: `gzip failed: ${(err as Error).message}` };
      }
    }
    try {
      this.stats.posts++;
      const res = await this.pool.request({
        path: this.path,
        method: 'POST',
        headers: { ...this.headers, 'content-type': CONTENT_TYPE[item.encoding] },
        body: item.wire ?? item.body,
      });
      if (res.statusCode >= 200 && res.statusCode < 300)
        return {
          ok: true,
          rejected: rejectedSpans(Buffer.from(await res.body.arrayBuffer()), item.encoding),
        };
      await res.body.dump();
      const reason = `HTTP ${res.statusCode}`;
      if (!isRetryableStatus(res.statusCode)) return { ok: false, reason };
      const retryInMs = retryDelayMs(res.headers['retry-after'], this.now(), this.consecutiveFailures + 1);
      return { ok: false, reason, retryInMs };
    } catch (err) {
      // Timeouts (undici's headers/body/connect timeouts) and network errors: the upstream may come back.
      return {
        ok: false,
        reason: failureReason(err),
        retryInMs: retryBackoffMs(this.consecutiveFailures + 1),
      };
    }
  }

  private warn(reason: string, what: string): void {
    const at = this.now();
    if (at - this.lastWarnMs < WARN_INTERVAL_MS) return;
    this.lastWarnMs = at;
    this.logger?.warn({ upstream: this.origin, reason, ...this.stats }, `forwarding: ${what}`);
  }
}

/**
 * undici's connect options for the TLS files `forward` names (the schema asks for certificate and key
 * together). A file that cannot be read, or a key that does not match its certificate, stops the start.
 */
function forwardTls(options: ForwarderOptions): ForwardTls {
  const tls: ForwardTls = {};
  // Node's own CAs stay trusted: `ca` alone would replace them.
  if (options.tlsCaFile !== undefined)
    tls.ca = [readTlsFile('forward.tlsCaFile', options.tlsCaFile), ...rootCertificates];
  if (options.tlsCertFile !== undefined && options.tlsKeyFile !== undefined) {
    tls.cert = readTlsFile('forward.tlsCertFile', options.tlsCertFile);
    tls.key = readTlsFile('forward.tlsKeyFile', options.tlsKeyFile);
    assertUsableTls(
      [
        ['forward.tlsCertFile', options.tlsCertFile],
        ['forward.tlsKeyFile', options.tlsKeyFile],
      ],
      tls,
    );
  }
  return tls;
}
