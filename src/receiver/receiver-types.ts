/** Options and counters of the OTLP receivers (otlp-http-receiver.ts, otlp-grpc-receiver.ts). */
import type { SpanBatch } from '../model/span';
import type { ReceiverTls } from './receiver-tls';
import type { OtlpEncoding } from './responses';

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
   * Called with each body whose spans onSpans took (after gunzip; gRPC bodies are protobuf), for the
   * forwarder; must not throw.
   */
  onAccepted?(body: Buffer, encoding: OtlpEncoding, spans: number): void;
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
  };
}
