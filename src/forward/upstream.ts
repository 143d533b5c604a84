/**
 * What the forwarder needs of an upstream, whatever its transport (OTLP/HTTP, OTLP/gRPC): send one
 * batch and say whether it was taken, refused for good, or should go again after a pause.
 */
import { rootCertificates } from 'node:tls';
import {
  JsonLogsSerializer,
  JsonMetricsSerializer,
  JsonTraceSerializer,
  ProtobufLogsSerializer,
  ProtobufMetricsSerializer,
  ProtobufTraceSerializer,
} from '@opentelemetry/otlp-transformer';
import type { OtlpEncoding } from '../receiver/responses';
import type { OtlpSignal } from '../receiver/signals';
import { assertUsableTls, readTlsFile } from '../tls-file';

export interface UpstreamOptions {
  /**
   * http(s)://host:port/v1/traces for OTLP/HTTP (metrics and logs go to the same URL with
   * /v1/metrics or /v1/logs in place of /v1/traces); http(s)://host:port for OTLP/gRPC.
   */
  endpoint: string;
  headers: Readonly<Record<string, string>>;
  timeoutMs: number;
  compression: 'none' | 'gzip';
  /** PEM CA trusted for an https upstream, besides Node's own. */
  tlsCaFile?: string;
  /** PEM client certificate and key, for an upstream that asks for one (mutual TLS). */
  tlsCertFile?: string;
  tlsKeyFile?: string;
}

/** One send: a body as received, or protobuf bodies of one signal joined. */
export interface OutgoingBatch {
  body: Buffer;
  encoding: OtlpEncoding;
  /** Where it goes (path or method) and how the answer's partial_success is read. */
  signal: OtlpSignal;
  /** What went on the wire the first time (e.g. gzipped), so a retry sends the same bytes. */
  wire?: Buffer;
}

/**
 * `rejected`: spans (data points, log records) the upstream's partial_success refused. `retryInMs`:
 * send again after this pause.
 */
export type Outcome = { ok: true; rejected: number } | { ok: false; reason: string; retryInMs?: number };

export interface Upstream {
  /** The upstream's scheme, host and port (no path, no credentials): what logs name. */
  readonly origin: string;
  /** Whether JSON bodies must be turned into protobuf before they are queued (gRPC carries protobuf only). */
  readonly protobufOnly: boolean;
  /** Whether it has somewhere to send this signal. */
  relays(signal: OtlpSignal): boolean;
  /** `consecutiveFailures` counts the failures in a row before this send (for the backoff). */
  send(batch: OutgoingBatch, consecutiveFailures: number): Promise<Outcome>;
  close(): Promise<void>;
}

/** The `partial_success` count of each signal's export response, read by OpenTelemetry's own deserializers. */
const REJECTED: Record<OtlpSignal, Record<OtlpEncoding, (body: Uint8Array) => unknown>> = {
  traces: {
    protobuf: (b) => ProtobufTraceSerializer.deserializeResponse(b).partialSuccess?.rejectedSpans,
    json: (b) => JsonTraceSerializer.deserializeResponse(b).partialSuccess?.rejectedSpans,
  },
  metrics: {
    protobuf: (b) => ProtobufMetricsSerializer.deserializeResponse(b).partialSuccess?.rejectedDataPoints,
    json: (b) => JsonMetricsSerializer.deserializeResponse(b).partialSuccess?.rejectedDataPoints,
  },
  logs: {
    protobuf: (b) => ProtobufLogsSerializer.deserializeResponse(b).partialSuccess?.rejectedLogRecords,
    json: (b) => JsonLogsSerializer.deserializeResponse(b).partialSuccess?.rejectedLogRecords,
  },
};

/**
 * `partial_success.rejected_spans` of an ExportTraceServiceResponse (`rejected_data_points`,
 * `rejected_log_records` of the metrics and logs ones); 0 when absent or unreadable (all were
 * taken). Its `error_message` is not logged: an upstream may quote span data in it.
 */
export function rejectedItems(
  body: Uint8Array,
  encoding: OtlpEncoding,
  signal: OtlpSignal = 'traces',
): number {
  if (body.length === 0) return 0;
  try {
    const rejected = Number(REJECTED[signal][encoding](body) ?? 0);
    return Number.isFinite(rejected) && rejected > 0 ? rejected : 0;
  } catch {
    return 0;
  }
}

export interface UpstreamTls {
  /** The configured CA followed by Node's own (a CA alone would replace them). */
  ca?: (Buffer | string)[];
  cert?: Buffer;
  key?: Buffer;
}

/**
 * The TLS files `forward` names, read (the schema asks for certificate and key together). A file that
 * cannot be read, or a key that does not match its certificate, stops the start.
 */
export function readUpstreamTls(options: UpstreamOptions): UpstreamTls {
  const tls: UpstreamTls = {};
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
