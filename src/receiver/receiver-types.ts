/** Options and counters of the OTLP receivers (otlp-http-receiver.ts, otlp-grpc-receiver.ts). */
import type { SpanBatch } from '../model/span';
import type { ReceiverTls } from './receiver-tls';
import type { OtlpEncoding } from './responses';
import type { OtlpSignal, RelayedSignal, SignalRefusal } from './signals';

export interface ReceiverLogger {
  warn(obj: object, msg: string): void;
  debug?(obj: object, msg: string): void;
}

export interface ReceiverOptions {
  host: string;
  /** 0 → an ephemeral port, reported by start(). */
  port: number;
  /** Largest body accepted, on the wire and after gunzip (bytes). */
  maxBodyBytes: number;
  /** Seconds a refused (overloaded) exporter is told to wait. */
  retryAfterSeconds: number;
  /** Serve TLS (and ask for client certificates when it has a client CA); plain text when absent. */
  tls?: ReceiverTls;
  /** Called with each checked batch; must not throw (a throw is caught and answered with 500). */
  onSpans(batch: SpanBatch): void;
  /**
   * The forwarder's intake (absent when not forwarding), called with each trace body whose spans
   * onSpans took, and each metrics or logs body that passed its check (after gunzip; gRPC bodies are
   * protobuf), `items` being its spans, data points or log records; must not throw. False when it
   * could not take the body (its queue is full): a trace body's spans are in the reports anyway,
   * but a metrics or logs body is then refused as overload, for the exporter to send again.
   */
  onAccepted?(body: Buffer, encoding: OtlpEncoding, items: number, signal: OtlpSignal): boolean;
  /**
   * Why metrics or logs are refused (signals.ts), or undefined when onAccepted relays them. Without
   * onAccepted both are refused (`no-forward`); without this, both are relayed when it is set.
   */
  refusal?(signal: RelayedSignal): SignalRefusal | undefined;
  /** True when the pipeline is over its pending cap → 503 + Retry-After before reading the body. */
  isOverloaded(): boolean;
  logger?: ReceiverLogger;
}

/** Counters since start; the exporter publishes them as the receiver's own metrics. */
export interface ReceiverStats {
  /** Every export request (HTTP, or gRPC when enabled), whatever its outcome. */
  requests: number;
  /** Spans handed to onSpans. */
  spansAccepted: number;
  /** Spans received but lost because onSpans threw. */
  spansRefused: number;
  /** Bodies that were not valid OTLP (or not valid gzip) → 400. */
  decodeErrors: number;
  /** Bodies over maxBodyBytes, declared, received or inflated → 413. */
  tooLarge: number;
  /** Unsupported Content-Type or Content-Encoding → 415. */
  unsupportedMedia: number;
  /** Requests refused with 503 because the pipeline was overloaded. */
  overloaded: number;
  /** Request body bytes read off the wire (compressed size for gzip). */
  bytesReceived: number;
  /** Data points of the metrics exports taken for relaying (only when forwarding). */
  dataPointsAccepted: number;
  /** Log records of the logs exports taken for relaying (only when forwarding). */
  logRecordsAccepted: number;
  /** Metrics exports refused because spanstat does not relay them (404 / UNIMPLEMENTED). */
  metricsRefused: number;
  /** Logs exports refused because spanstat does not relay them (404 / UNIMPLEMENTED). */
  logsRefused: number;
}

export function emptyReceiverStats(): ReceiverStats {
  return {
    requests: 0,
    spansAccepted: 0,
    spansRefused: 0,
    decodeErrors: 0,
    tooLarge: 0,
    unsupportedMedia: 0,
    overloaded: 0,
    bytesReceived: 0,
    dataPointsAccepted: 0,
    logRecordsAccepted: 0,
    metricsRefused: 0,
    logsRefused: 0,
  };
}
