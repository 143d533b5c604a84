/**
 * Relays the OTLP bodies the receivers accepted to another OTLP endpoint (config `forward`), so a
 * tracing backend or an OpenTelemetry Collector keeps getting the apps' spans while spanstat reports
 * on them — and their metrics and logs, which spanstat takes only to relay (an app's SDK exporting all
 * three to spanstat's address loses none). Bodies go as accepted (after gunzip; OTLP/gRPC bodies as
 * protobuf), at most MAX_IN_FLIGHT POSTs (or gRPC calls) at once, oldest first, each signal to its
 * own path or method, over OTLP/HTTP (http-upstream.ts) or OTLP/gRPC (grpc-upstream.ts, `protocol:
 * grpc`, which carries protobuf only: JSON bodies are turned into protobuf as they are queued,
 * json-to-protobuf.ts). All three share the queue, its memory bound, the pauses and the shutdown
 * drain; each is counted in its own unit (spans, data points, log records).
 * - Protobuf bodies of one signal waiting together go as one POST of up to `maxBatchBytes`, joined
 *   byte for byte: protobuf parses concatenated messages as one whose repeated fields are joined, and
 *   each export request is one repeated field 1 (`resource_spans`, `resource_metrics`,
 *   `resource_logs`), so no decoding is needed. The POSTs an upstream must take then follow the byte
 *   rate, not the number of app processes exporting (with 4 in flight and a 50-ms round trip, ~80
 *   POSTs/s at most; a busy app logs in many small exports, and would otherwise fill the queue).
 *   Bodies of different signals are never joined (each has its own path and message), and a body of
 *   another signal between two ends a run. Every body was checked on receipt (check-protobuf.ts,
 *   check-signals.ts), so one malformed body cannot get the others it is joined with refused.
 *   Over HTTP, JSON bodies go one by one, as JSON.
 * - Memory is bounded by `maxQueuedBytes` (queued and in flight): a body arriving when it is full is
 *   dropped and counted, so a slow or dead upstream never grows the sidecar or slows its receivers.
 * - 429/502/503/504, timeouts and network errors (and their gRPC counterparts) are retried: the POST
 *   goes back to the front, whole, and sending pauses for Retry-After or RetryInfo (at most 60 s) or a
 *   backoff (1 s, doubling to 30 s).
 * - Any other refusal (400, 401, 404, 413…; INVALID_ARGUMENT, UNIMPLEMENTED…) drops that POST's
 *   spans (or data points, log records): sending them again cannot help. An upstream that takes
 *   traces only (Jaeger, Tempo) refuses metrics and logs that way.
 * - A 2xx whose export response names `partial_success.rejected_spans` (`rejected_data_points`,
 *   `rejected_log_records`) counts those as rejected, the rest as sent (the spec says not to retry
 *   them).
 * - `compression: gzip` compresses on libuv's thread pool, not the event loop: over HTTP once per POST
 *   (a retry sends the same bytes), over gRPC by grpc-js on each call.
 * - The relayed spans are the apps' spans unchanged, SQL text and Redis keys included, and so are
 *   their metrics and logs: the upstream sees what it would have seen without spanstat in between.
 *   Logs name the status or error code only.
 */
import type { OtlpEncoding } from '../receiver/responses';
import { type OtlpSignal, SIGNALS } from '../receiver/signals';
import { GrpcUpstream } from './grpc-upstream';
import { HttpUpstream } from './http-upstream';
import { jsonToProtobuf } from './json-to-protobuf';
import type { Outcome, OutgoingBatch, Upstream, UpstreamOptions } from './upstream';

/** POSTs in flight at once: enough to hide a LAN round trip at the sidecar's ingest rate. */
const MAX_IN_FLIGHT = 4;
/** A failure is logged at most this often; the counters have every one. */
const WARN_INTERVAL_MS = 60_000;
/** How long shutdown waits for the queue to drain before dropping what is left. */
const SHUTDOWN_GRACE_MS = 2_000;

export interface ForwarderOptions extends UpstreamOptions {
  /** `http`: OTLP/HTTP, each body in its own encoding (the default); `grpc`: OTLP/gRPC. */
  protocol?: 'http' | 'grpc';
  maxQueuedBytes: number;
  /** Protobuf bodies joined into one POST up to this many bytes (a larger body goes alone). */
  maxBatchBytes: number;
}

export interface ForwarderLogger {
  warn(obj: object, msg: string): void;
}

/** Counters since start (spans, data points, log records), and what is held now. */
export interface ForwardStats {
  /** Spans the upstream answered 2xx for. */
  spansSent: number;
  /** Spans not relayed because the queue was full, or still queued at shutdown. */
  spansDropped: number;
  /** Spans the upstream refused for good (4xx other than 429, or a 2xx partial_success). */
  spansRejected: number;
  /**
   * The same for the data points of metrics bodies (dropped: still queued at shutdown; a body the
   * full queue cannot take is refused to its sender, 503, rather than dropped).
   */
  dataPointsSent: number;
  dataPointsDropped: number;
  dataPointsRejected: number;
  /** The same for the log records of logs bodies. */
  logRecordsSent: number;
  logRecordsDropped: number;
  logRecordsRejected: number;
  /** Attempts that will be made again (429/502/503/504, timeouts, network errors). */
  retries: number;
  /** Body bytes queued or in flight (as received, before gzip). */
  queuedBytes: number;
  /** POSTs made (each one body, or protobuf bodies joined), retries included. */
  posts: number;
}

/** What one POST carries: one body, or protobuf bodies of one signal joined. Sent again whole if it must be. */
interface Batch extends OutgoingBatch {
  /** Its spans, data points or log records. */
  items: number;
  /** Taken from the queue for a POST: no more bodies join it, and `wire` is what goes again. */
  sealed: boolean;
}

/** Items (spans, data points, log records) the upstream took, dropped here, or refused for good. */
export interface ForwardedCounts {
  sent: number;
  dropped: number;
  rejected: number;
}

type Outcomes = 'Sent' | 'Dropped' | 'Rejected';
/** Each signal's counters in ForwardStats. */
const COUNTERS: Record<OtlpSignal, Record<Outcomes, keyof ForwardStats>> = {
  traces: { Sent: 'spansSent', Dropped: 'spansDropped', Rejected: 'spansRejected' },
  metrics: { Sent: 'dataPointsSent', Dropped: 'dataPointsDropped', Rejected: 'dataPointsRejected' },
  logs: { Sent: 'logRecordsSent', Dropped: 'logRecordsDropped', Rejected: 'logRecordsRejected' },
};

export class OtlpForwarder {
  readonly stats: ForwardStats = {
    spansSent: 0,
    spansDropped: 0,
    spansRejected: 0,
    dataPointsSent: 0,
    dataPointsDropped: 0,
    dataPointsRejected: 0,
    logRecordsSent: 0,
    logRecordsDropped: 0,
    logRecordsRejected: 0,
    retries: 0,
    queuedBytes: 0,
    posts: 0,
  };
  /** The upstream's scheme, host and port (no path, no credentials): what logs name. */
  readonly origin: string;
  private readonly queue: Batch[] = [];
  private readonly upstream: Upstream;
  private inFlight = 0;
  /** When the current pause ends (epoch ms); 0 = not paused. Set by pauseFor, cleared by its timer. */
  private pausedUntil = 0;
  private resumeTimer: NodeJS.Timeout | undefined;
  private consecutiveFailures = 0;
  private readonly lastWarnMs = new Map<OtlpSignal | 'upstream', number>();
  private closed = false;
  /** Called when nothing is queued or in flight (shutdown waits on it). */
  private onIdle: (() => void) | undefined;

  constructor(
    private readonly options: ForwarderOptions,
    private readonly logger?: ForwarderLogger,
    private readonly now: () => number = Date.now,
  ) {
    this.upstream =
      options.protocol === 'grpc' ? new GrpcUpstream(options) : new HttpUpstream(options, MAX_IN_FLIGHT, now);
    this.origin = this.upstream.origin;
  }

  /**
   * The signals this upstream takes: all three, but over OTLP/HTTP metrics and logs only when
   * `endpoint` ends in /v1/traces (http-upstream.ts).
   */
  relays(signal: OtlpSignal): boolean {
    return this.upstream.relays(signal);
  }

  /** One signal's counters (spans, data points or log records) as /healthz, metrics and the last log line show them. */
  counts(signal: OtlpSignal): ForwardedCounts {
    const names = COUNTERS[signal];
    return {
      sent: this.stats[names.Sent],
      dropped: this.stats[names.Dropped],
      rejected: this.stats[names.Rejected],
    };
  }

  /**
   * Queues one accepted body of `signal`, its `items` (spans, data points, log records) counted by
   * the caller; never throws, never waits. False when the queue is full or shut: a trace body's
   * spans are then counted as dropped (its sender was answered, and its spans are in the reports); a
   * metrics or logs body's are not, as the receiver refuses it as overload and its sender keeps it to
   * send again. (A JSON body gRPC cannot carry is counted as rejected: sending it again cannot help.)
   */
  forward(
    received: Buffer,
    receivedEncoding: OtlpEncoding,
    items: number,
    signal: OtlpSignal = 'traces',
  ): boolean {
    let body = received;
    let encoding = receivedEncoding;
    if (this.closed || this.stats.queuedBytes + body.length > this.options.maxQueuedBytes) {
      if (signal === 'traces') this.count(signal, 'Dropped', items);
      return false;
    }
    if (encoding === 'json' && this.upstream.protobufOnly) {
      try {
        body = jsonToProtobuf(received, signal);
        encoding = 'protobuf';
      } catch {
        // The receiver checked this body already, so this would be a bug here: the items are counted,
        // not lost silently. No error message: JSON.parse's quotes the body.
        this.count(signal, 'Rejected', items);
        this.warn(
          'JSON body not convertible to protobuf',
          `refused ${items} ${SIGNALS[signal].items}`,
          signal,
        );
        return true;
      }
    }
    this.queue.push({ body, encoding, signal, items, sealed: false });
    this.stats.queuedBytes += body.length;
    this.pump();
    return true;
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
    await this.upstream.close();
  }

  private pump(): void {
    while (this.inFlight < MAX_IN_FLIGHT && this.queue.length > 0 && this.pausedUntil === 0) {
      const item = this.takeBatch();
      this.inFlight++;
      void this.post(item).then((outcome) => this.settle(item, outcome));
    }
    if (this.idle()) this.onIdle?.();
  }

  private idle(): boolean {
    return this.queue.length === 0 && this.inFlight === 0;
  }

  /**
   * The oldest body, with the protobuf bodies of its signal queued right behind it joined on, up to
   * maxBatchBytes.
   */
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
        next.signal !== first.signal ||
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
      signal: first.signal,
      items: joined.reduce((n, b) => n + b.items, 0),
      sealed: true,
    };
  }

  private count(signal: OtlpSignal, outcome: Outcomes, items: number): void {
    this.stats[COUNTERS[signal][outcome]] += items;
  }

  private settle(item: Batch, outcome: Outcome): void {
    this.inFlight--;
    const what = SIGNALS[item.signal].items;
    if (outcome.ok) {
      this.consecutiveFailures = 0;
      const rejected = Math.min(outcome.rejected, item.items);
      this.count(item.signal, 'Sent', item.items - rejected);
      this.count(item.signal, 'Rejected', rejected);
      this.stats.queuedBytes -= item.body.length;
      if (rejected > 0)
        this.warn('partial success', `upstream took the POST but refused ${rejected} ${what}`, item.signal);
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
      this.count(item.signal, 'Rejected', item.items);
      this.stats.queuedBytes -= item.body.length;
      this.warn(outcome.reason, `refused ${item.items} ${what}`, item.signal);
    }
    this.pump();
  }

  private pauseFor(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.now() + ms);
    clearTimeout(this.resumeTimer);
    // Only this timer (or shutdown) ends a pause; pump() reads no clock. Node may fire a timer a
    // millisecond before Date.now() reaches its time, and a pump that compared the clock with the
    // pause's end then found it still on and armed nothing: the forwarder never retried. Each
    // pauseFor re-arms the timer for the whole pause, so it fires once the last pause is over.
    this.resumeTimer = setTimeout(
      () => {
        this.pausedUntil = 0;
        this.pump();
      },
      Math.max(0, this.pausedUntil - this.now()),
    );
    this.resumeTimer.unref();
  }

  private dropQueued(item: Batch): void {
    this.count(item.signal, 'Dropped', item.items);
    this.stats.queuedBytes -= item.body.length;
  }

  private post(item: Batch): Promise<Outcome> {
    this.stats.posts++;
    return this.upstream.send(item, this.consecutiveFailures);
  }

  /**
   * At most one warning a minute about the upstream (retries), and one per signal about what it
   * refused: an upstream that takes no logs would otherwise silence news of its spans.
   */
  private warn(reason: string, what: string, signal?: OtlpSignal): void {
    const at = this.now();
    const key = signal ?? 'upstream';
    if (at - (this.lastWarnMs.get(key) ?? Number.NEGATIVE_INFINITY) < WARN_INTERVAL_MS) return;
    this.lastWarnMs.set(key, at);
    this.logger?.warn(
      { upstream: this.origin, ...(signal ? { signal } : {}), reason, ...this.stats },
      `forwarding: ${what}`,
    );
  }
}
