/**
 * OTLP/gRPC trace receiver: the TraceService/Export unary method on @grpc/grpc-js, for SDKs and
 * collectors that export over gRPC (Python, Go and older Java default to it). The request is the
 * same ExportTraceServiceRequest as OTLP/HTTP protobuf, so it takes the same path: the receipt-time
 * check, then the pipeline decodes it span by span. grpc-js hands the handler the raw message
 * (pass-through serializers, no proto loading) and undoes gzip itself.
 *
 * Statuses as the OTLP/gRPC spec names them: success → an empty ExportTraceServiceResponse; bad
 * data → INVALID_ARGUMENT (not retryable); overload → UNAVAILABLE with a google.rpc.RetryInfo
 * detail (retryable, after the delay); a message over maxBodyBytes → RESOURCE_EXHAUSTED (grpc-js refuses
 * it before the handler runs, so it is not in the tooLarge count).
 *
 * MetricsService/Export and LogsService/Export are served too: relayed unread when forwarding
 * (relay-signal.ts), else UNIMPLEMENTED — as from a server without the service, but saying why.
 */
import {
  Metadata,
  Server,
  ServerCredentials,
  type ServerErrorResponse,
  type ServerUnaryCall,
  type ServiceDefinition,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { isSpanstatError, SpanstatError } from '../errors';
import { statusWithRetryInfo } from '../grpc-retry-info';
import { errorSummary } from './error-summary';
import { protobufBatch } from './protobuf-batch';
import { type ListenAddress, ReceiverLifecycle } from './receiver-lifecycle';
import type { ReceiverOptions, ReceiverStats } from './receiver-types';
import { refuseSignal, relaySignal, signalRefusal } from './relay-signal';
import { FAILURES, type FailureKind } from './responses';
import { type OtlpSignal, type RelayedSignal, SIGNALS } from './signals';

export const TRACE_EXPORT_PATH = SIGNALS.traces.grpcPath;

/** shutdown() lets in-flight calls finish for this long, then cancels them. */
const SHUTDOWN_GRACE_MS = 2_000;
const EMPTY_RESPONSE = Buffer.alloc(0);
const passThrough = (message: Buffer): Buffer => message;

/** A signal's collector service with pass-through (de)serializers: handlers see and give the raw message bytes. */
export function exportService(signal: OtlpSignal): ServiceDefinition {
  return {
    Export: {
      path: SIGNALS[signal].grpcPath,
      requestStream: false,
      responseStream: false,
      requestSerialize: passThrough,
      requestDeserialize: passThrough,
      responseSerialize: passThrough,
      responseDeserialize: passThrough,
    },
  };
}

/** TraceService, raw bytes in and out. */
export const TRACE_SERVICE: ServiceDefinition = exportService('traces');

export class OtlpGrpcReceiver extends ReceiverLifecycle {
  private server: Server | undefined;

  /** `stats`: shared with the OTLP/HTTP receiver, so health and metrics count both transports. */
  constructor(
    options: ReceiverOptions,
    readonly stats: ReceiverStats,
  ) {
    super(options);
  }

  protected listen(): Promise<ListenAddress> {
    const { host, port, maxBodyBytes, tls } = this.options;
    const credentials =
      tls === undefined
        ? ServerCredentials.createInsecure()
        : ServerCredentials.createSsl(
            tls.clientCa ?? null,
            [{ private_key: tls.key, cert_chain: tls.cert }],
            tls.clientCa !== undefined,
          );
    const server = new Server({
      'grpc.max_receive_message_length': maxBodyBytes,
      'grpc.max_send_message_length': 64 * 1024,
    });
    server.addService(TRACE_SERVICE, {
      Export: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) =>
        this.export(call.request, callback),
    });
    for (const signal of ['metrics', 'logs'] as const)
      server.addService(exportService(signal), {
        Export: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) =>
          this.relay(signal, call.request, callback),
      });
    // IPv6 literals need brackets in a gRPC target.
    const target = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    return new Promise((resolve, reject) => {
      server.bindAsync(target, credentials, (err, boundPort) => {
        if (err) {
          server.forceShutdown();
          reject(
            new SpanstatError(
              'SPANSTAT_ERR_LISTEN',
              `OTLP/gRPC receiver cannot listen on ${host}:${port} (receiver.host/receiver.grpcPort): ${err.message}`,
              { cause: err },
            ),
          );
          return;
        }
        this.server = server;
        resolve({ host, port: boundPort });
      });
    });
  }

  protected async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, SHUTDOWN_GRACE_MS);
      timer.unref();
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private export(body: Buffer, callback: sendUnaryData<Buffer>): void {
    const stats = this.stats;
    stats.requests++;
    stats.bytesReceived += body.length;
    if (this.overloaded()) {
      this.refuseOverloaded(callback);
      return;
    }
    let batch: ReturnType<typeof protobufBatch>;
    try {
      batch = protobufBatch(body);
    } catch (err) {
      stats.decodeErrors++;
      // Decoder messages name fields and offsets, never body content (SQL, keys).
      const message = isSpanstatError(err) ? err.message : 'the request could not be decoded';
      this.options.logger?.warn({ status: 'INVALID_ARGUMENT', reason: message }, 'OTLP/gRPC export refused');
      callback(failure('bad-data', message));
      return;
    }
    if (batch.size > 0) {
      try {
        this.options.onSpans(batch);
      } catch (err) {
        stats.spansRefused += batch.size;
        this.options.logger?.warn({ error: errorSummary(err) }, 'OTLP/gRPC export failed in the pipeline');
        callback(failure('internal', `the pipeline failed; ${batch.size} spans dropped`));
        return;
      }
      stats.spansAccepted += batch.size;
      this.options.onAccepted?.(body, 'protobuf', batch.size, 'traces');
    }
    callback(null, EMPTY_RESPONSE);
  }

  /** A metrics or logs export: refused when not relayed, else checked and queued for the forwarder. */
  private relay(signal: RelayedSignal, body: Buffer, callback: sendUnaryData<Buffer>): void {
    const stats = this.stats;
    stats.requests++;
    stats.bytesReceived += body.length;
    const why = signalRefusal(this.options, signal);
    if (why !== undefined) {
      callback(failure('not-relayed', refuseSignal(this.options, stats, signal, why, 'OTLP/gRPC')));
      return;
    }
    if (this.overloaded()) {
      this.refuseOverloaded(callback);
      return;
    }
    const result = relaySignal(this.options, stats, signal, body, 'protobuf');
    if (result.ok) callback(null, EMPTY_RESPONSE);
    else if (result.kind === 'overloaded') this.refuseOverloaded(callback, result.message);
    else {
      this.options.logger?.warn(
        { status: 'INVALID_ARGUMENT', reason: result.message },
        'OTLP/gRPC export refused',
      );
      callback(failure('bad-data', result.message));
    }
  }

  /** UNAVAILABLE with a RetryInfo of retryAfterSeconds. */
  private refuseOverloaded(
    callback: sendUnaryData<Buffer>,
    message = 'spanstat is over its pending-span cap; retry later',
  ): void {
    this.stats.overloaded++;
    callback(failure('overloaded', message, { retryAfterSeconds: this.options.retryAfterSeconds }));
  }
}

/** The status of a refusal: the gRPC code the receivers' one failure table (responses.ts) gives `kind`. */
function failure(
  kind: FailureKind,
  message: string,
  retry?: { retryAfterSeconds: number },
): Partial<ServerErrorResponse> {
  const code = FAILURES[kind].grpcCode;
  if (!retry) return { code, details: message };
  const metadata = new Metadata();
  metadata.set('grpc-status-details-bin', statusWithRetryInfo(code, message, retry.retryAfterSeconds));
  return { code, details: message, metadata };
}
