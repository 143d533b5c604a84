/**
 * An OTLP/gRPC upstream (@grpc/grpc-js): each batch is one TraceService/Export call (MetricsService,
 * LogsService for metrics and logs) carrying the protobuf body as it is (joined bodies parse as one
 * request), `headers` as call metadata, gzip by grpc-js itself when `compression` is gzip (zlib's
 * default level: it takes no level).
 *
 * Outcomes as the OTLP/gRPC spec names them: CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE,
 * UNAVAILABLE and DATA_LOSS are retryable, RESOURCE_EXHAUSTED only when the server says when
 * (RetryInfo); the RetryInfo delay is honoured, else the backoff. Any other code is final. Logs name
 * the code only: a server's message may quote span data.
 */
import { Client, credentials, status as GrpcStatus, Metadata, type ServiceError } from '@grpc/grpc-js';
import { retryInfoDelayMs } from '../grpc-retry-info';
import { MAX_RETRY_AFTER_MS, retryBackoffMs } from '../otlp-retry';
import { SIGNALS } from '../receiver/signals';
import {
  type Outcome,
  type OutgoingBatch,
  readUpstreamTls,
  rejectedItems,
  type Upstream,
  type UpstreamOptions,
} from './upstream';

const RETRYABLE_CODES: ReadonlySet<number> = new Set([
  GrpcStatus.CANCELLED,
  GrpcStatus.DEADLINE_EXCEEDED,
  GrpcStatus.ABORTED,
  GrpcStatus.OUT_OF_RANGE,
  GrpcStatus.UNAVAILABLE,
  GrpcStatus.DATA_LOSS,
]);
/** grpc-js's CompressionAlgorithms: 2 = gzip. */
const GZIP_ALGORITHM = 2;
/** HTTP/2 and gRPC own these headers; a configured one would break the call. */
const RESERVED_HEADERS = new Set(['content-type', 'content-encoding', 'content-length', 'te', 'user-agent']);
const passThrough = (message: Buffer): Buffer => message;

export class GrpcUpstream implements Upstream {
  readonly origin: string;
  readonly protobufOnly = true;
  private readonly client: Client;
  private readonly metadata = new Metadata();

  constructor(private readonly options: UpstreamOptions) {
    const url = new URL(options.endpoint);
    const secure = url.protocol === 'https:';
    const port = url.port || (secure ? '443' : '80');
    this.origin = `${url.protocol}//${url.hostname}:${port}`;
    for (const [name, value] of Object.entries(options.headers)) {
      const key = name.toLowerCase();
      if (!RESERVED_HEADERS.has(key)) this.metadata.add(key, value);
    }
    let channelCredentials = credentials.createInsecure();
    if (secure) {
      const tls = readUpstreamTls(options);
      channelCredentials = credentials.createSsl(
        tls.ca && Buffer.from(tls.ca.join('\n')),
        tls.key ?? null,
        tls.cert ?? null,
      );
    }
    this.client = new Client(`${url.hostname}:${port}`, channelCredentials, {
      'grpc.primary_user_agent': 'spanstat',
      // The forwarder retries whole batches itself; grpc-js's own retries would keep a copy of each.
      'grpc.enable_retries': 0,
      // Reconnect no slower than the forwarder's own backoff (grpc-js's default goes to 120 s).
      'grpc.max_reconnect_backoff_ms': 30_000,
      ...(options.compression === 'gzip' ? { 'grpc.default_compression_algorithm': GZIP_ALGORITHM } : {}),
    });
  }

  /** Every signal: each is a method of its own on the same address. */
  relays(): boolean {
    return true;
  }

  send(batch: OutgoingBatch, consecutiveFailures: number): Promise<Outcome> {
    return new Promise((resolve) => {
      this.client.makeUnaryRequest(
        SIGNALS[batch.signal].grpcPath,
        passThrough,
        passThrough,
        batch.body,
        this.metadata,
        { deadline: Date.now() + this.options.timeoutMs },
        (err: ServiceError | null, response?: Buffer) => {
          if (!err)
            resolve({
              ok: true,
              rejected: rejectedItems(response ?? Buffer.alloc(0), 'protobuf', batch.signal),
            });
          else resolve(failureOutcome(err, consecutiveFailures));
        },
      );
    });
  }

  async close(): Promise<void> {
    this.client.close();
  }
}

function failureOutcome(err: ServiceError, consecutiveFailures: number): Outcome {
  const reason = `gRPC ${GrpcStatus[err.code] ?? err.code}`;
  const [details] = err.metadata?.get('grpc-status-details-bin') ?? [];
  const hinted = details instanceof Uint8Array ? retryInfoDelayMs(details) : undefined;
  const retryable =
    RETRYABLE_CODES.has(err.code) || (err.code === GrpcStatus.RESOURCE_EXHAUSTED && hinted !== undefined);
  if (!retryable) return { ok: false, reason };
  const retryInMs =
    hinted === undefined ? retryBackoffMs(consecutiveFailures + 1) : Math.min(hinted, MAX_RETRY_AFTER_MS);
  return { ok: false, reason, retryInMs };
}
