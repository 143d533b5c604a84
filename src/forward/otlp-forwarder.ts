/**
 * Relays the OTLP bodies the receivers accepted to another OTLP/HTTP endpoint (config `forward`), so
 * a tracing backend or an OpenTelemetry Collector keeps getting the apps' spans while spanstat reports
 * on them. Bodies go as accepted (after gunzip; OTLP/gRPC bodies as protobuf), one POST each, at most
 * MAX_IN_FLIGHT at once, oldest first.
 * - Memory is bounded by `maxQueuedBytes` (queued and in flight): a body arriving when it is full is
 *   dropped and counted, so a slow or dead upstream never grows the sidecar or slows its receivers.
 * - 429/502/503/504, timeouts and network errors are retried: the body goes back to the front and
 *   sending pauses for Retry-After (at most 60 s) or a backoff (1 s, doubling to 30 s).
 * - Any other refusal (400, 401, 413…) drops that body: sending it again cannot help.
 * - The relayed spans are the apps' spans unchanged, SQL text and Redis keys included: the upstream
 *   sees what it would have seen without spanstat in between. Logs name the status or error code only.
 */
import { Pool } from 'undici';
import { failureReason, isRetryableStatus, retryBackoffMs, retryDelayMs } from '../otlp-retry';
import { CONTENT_TYPE, type OtlpEncoding } from '../receiver/responses';

/** POSTs in flight at once: enough to hide a LAN round trip at the sidecar's ingest rate. */
const MAX_IN_FLIGHT = 4;
/** A failure is logged at most this often; the counters have every one. */
const WARN_INTERVAL_MS = 60_000;
/** How long shutdown waits for the queue to drain before dropping what is left. */
const SHUTDOWN_GRACE_MS = 2_000;

export interface ForwarderOptions {
  /** OTLP/HTTP traces URL, e.g. http://otel-collector:4318/v1/traces. */
  endpoint: string;
  headers: Readonly<Record<string, string>>;
  maxQueuedBytes: number;
  timeoutMs: number;
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
  /** Spans the upstream refused for good (4xx other than 429). */
  spansRejected: number;
  /** Attempts that will be made again (429/502/503/504, timeouts, network errors). */
  retries: number;
  /** Body bytes queued or in flight. */
  queuedBytes: number;
}

interface QueuedBody {
  body: Buffer;
  encoding: OtlpEncoding;
  spans: number;
}

type Outcome = { ok: true } | { ok: false; reason: string; retryInMs?: number };

export class OtlpForwarder {
  readonly stats: ForwardStats = {
    spansSent: 0,
    spansDropped: 0,
    spansRejected: 0,
    retries: 0,
    queuedBytes: 0,
  };
  /** The upstream's scheme, host and port (no path, no credentials): what logs name. */
  readonly origin: string;
  private readonly queue: QueuedBody[] = [];
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
    this.pool = new Pool(this.origin, {
      connections: MAX_IN_FLIGHT,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      connect: { timeout: options.timeoutMs },
    });
  }

  /** Queues one accepted body (its spans counted by the caller); never throws, never waits. */
  forward(body: Buffer, encoding: OtlpEncoding, spans: number): void {
    if (this.closed || this.stats.queuedBytes + body.length > this.options.maxQueuedBytes) {
      this.stats.spansDropped += spans;
      return;
    }
    this.queue.push({ body, encoding, spans });
    this.stats.queuedBytes += body.length;
    this.pump();
  }

  /** Gives queued bodies SHUTDOWN_GRACE_MS to go out (a pause is cut short), then drops the rest. Safe twice. */
  async shutdown(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.pausedUntil = 0;
      this.pump();
      if (this.queue.length > 0 || this.inFlight > 0) {
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
      const item = this.queue.shift() as QueuedBody;
      this.inFlight++;
      void this.post(item).then((outcome) => this.settle(item, outcome));
    }
    if (this.queue.length === 0 && this.inFlight === 0) this.onIdle?.();
  }

  private settle(item: QueuedBody, outcome: Outcome): void {
    this.inFlight--;
    if (outcome.ok) {
      this.consecutiveFailures = 0;
      this.stats.spansSent += item.spans;
      this.stats.queuedBytes -= item.body.length;
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

  private dropQueued(item: QueuedBody): void {
    this.stats.spansDropped += item.spans;
    this.stats.queuedBytes -= item.body.length;
  }

  private async post(item: QueuedBody): Promise<Outcome> {
    try {
      const res = await this.pool.request({
        path: this.path,
        method: 'POST',
        headers: { ...this.headers, 'content-type': CONTENT_TYPE[item.encoding] },
        body: item.body,
      });
      await res.body.dump();
      if (res.statusCode >= 200 && res.statusCode < 300) return { ok: true };
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
