import { createServer as createHttp2Server, type IncomingHttpHeaders } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import {
  Metadata,
  Server,
  ServerCredentials,
  type ServerErrorResponse,
  type ServerUnaryCall,
  type sendUnaryData,
  status,
} from '@grpc/grpc-js';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { afterEach, describe, expect, it } from 'vitest';
import { OtlpForwarder } from '../../src/forward';
import { statusWithRetryInfo } from '../../src/grpc-retry-info';
import { exportService, TRACE_EXPORT_PATH, TRACE_SERVICE } from '../../src/receiver/otlp-grpc-receiver';
import { encodeExportResponse } from '../../src/receiver/responses';
import { SIGNALS } from '../../src/receiver/signals';
import {
  decodedRequest,
  logsBody,
  metricsBody,
  SDK_LOG_RECORDS,
  SDK_METRIC_POINTS,
  sdkLogs,
  sdkMetrics,
} from '../fixtures/otlp/signals';
import { stableSpans } from '../fixtures/otlp/spans';
import { countSpansWithProtobufjs } from '../fixtures/otlp/trace-proto';
import { FORWARDER_TEST_OPTIONS, until } from '../helpers/forwarder';

interface Call {
  /** The method called. */
  path: string;
  body: Buffer;
  metadata: Metadata;
}
type Answer = (n: number, callback: sendUnaryData<Buffer>) => void;

/** A stand-in OTLP/gRPC upstream (grpc-js, as collectors' Go servers behave): records each call, answers as `answer` says. */
async function grpcUpstream(
  answer: Answer,
  port = 0,
): Promise<{ endpoint: string; calls: Call[]; server: Server }> {
  const calls: Call[] = [];
  const server = new Server();
  for (const signal of ['traces', 'metrics', 'logs'] as const)
    server.addService(signal === 'traces' ? TRACE_SERVICE : exportService(signal), {
      Export: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
        calls.push({ path: SIGNALS[signal].grpcPath, body: call.request, metadata: call.metadata });
        answer(calls.length, callback);
      },
    });
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return { endpoint: `http://127.0.0.1:${bound}`, calls, server };
}

function refuse(code: status, retryAfterSeconds?: number): Partial<ServerErrorResponse> {
  if (retryAfterSeconds === undefined) return { code, details: 'no' };
  const metadata = new Metadata();
  metadata.set('grpc-status-details-bin', statusWithRetryInfo(code, 'later', retryAfterSeconds));
  return { code, details: 'later', metadata };
}

const options = { ...FORWARDER_TEST_OPTIONS, protocol: 'grpc' as const };
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

function track(forwarder: OtlpForwarder, server: Server): OtlpForwarder {
  cleanups.push(async () => {
    await forwarder.shutdown();
    server.forceShutdown();
  });
  return forwarder;
}

const protobufBody = () => Buffer.from(ProtobufTraceSerializer.serializeRequest(stableSpans()) as Uint8Array);
const jsonBody = () => Buffer.from(JsonTraceSerializer.serializeRequest(stableSpans()) as Uint8Array);

describe('OtlpForwarder over OTLP/gRPC', () => {
  it('calls TraceService/Export with each body, the configured headers as metadata, JSON turned into protobuf', async () => {
    const up = await grpcUpstream((_, callback) => callback(null, Buffer.alloc(0)));
    const forwarder = track(
      new OtlpForwarder({ ...options, endpoint: up.endpoint, headers: { Authorization: 'Bearer t0ken' } }),
      up.server,
    );
    expect(forwarder.origin).toBe(up.endpoint);
    const spans = stableSpans().length;
    forwarder.forward(protobufBody(), 'protobuf', spans);
    await until(
      () => forwarder.stats.spansSent === spans,
      () => forwarder.stats,
    );
    forwarder.forward(jsonBody(), 'json', spans);
    await until(
      () => forwarder.stats.spansSent === 2 * spans,
      () => forwarder.stats,
    );
    expect(up.calls).toHaveLength(2);
    expect(up.calls[0].body).toEqual(protobufBody());
    expect(countSpansWithProtobufjs(up.calls[1].body)).toBe(spans);
    expect(up.calls.every((c) => c.metadata.get('authorization')[0] === 'Bearer t0ken')).toBe(true);
    expect(forwarder.stats).toMatchObject({
      spansDropped: 0,
      spansRejected: 0,
      retries: 0,
      queuedBytes: 0,
      posts: 2,
    });
  });

  it('compresses with gzip when asked: a gzip-flagged gRPC message on the wire', async () => {
    // A bare HTTP/2 server, to see the frame itself: grpc-js's server would undo the gzip unseen.
    const seen: { headers: IncomingHttpHeaders; frame: Buffer }[] = [];
    const server = createHttp2Server();
    server.on('stream', (stream, headers) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        seen.push({ headers, frame: Buffer.concat(chunks) });
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(Buffer.alloc(5)); // an empty, uncompressed ExportTraceServiceResponse
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const forwarder = new OtlpForwarder({
      ...options,
      endpoint: `http://127.0.0.1:${port}`,
      compression: 'gzip',
    });
    cleanups.push(async () => {
      await forwarder.shutdown();
      await new Promise((resolve) => server.close(resolve));
    });
    forwarder.forward(protobufBody(), 'protobuf', 3);
    await until(
      () => forwarder.stats.spansSent === 3,
      () => forwarder.stats,
    );
    const [{ headers, frame }] = seen;
    expect(headers[':path']).toBe(TRACE_EXPORT_PATH);
    expect(headers['grpc-encoding']).toBe('gzip');
    expect(frame[0]).toBe(1); // the compressed flag
    expect(frame.readUInt32BE(1)).toBe(frame.length - 5);
    expect(gunzipSync(frame.subarray(5))).toEqual(protobufBody());
  });

  it('sends again after UNAVAILABLE with the RetryInfo delay, and drops INVALID_ARGUMENT without retrying', async () => {
    const up = await grpcUpstream((n, callback) =>
      n === 1
        ? callback(refuse(status.UNAVAILABLE, 1))
        : n === 2
          ? callback(null, Buffer.alloc(0))
          : callback(refuse(status.INVALID_ARGUMENT)),
    );
    const forwarder = track(new OtlpForwarder({ ...options, endpoint: up.endpoint }), up.server);
    const started = Date.now();
    forwarder.forward(protobufBody(), 'protobuf', 3);
    await until(
      () => forwarder.stats.spansSent === 3,
      () => forwarder.stats,
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(forwarder.stats.retries).toBe(1);
    forwarder.forward(protobufBody(), 'protobuf', 3);
    await until(
      () => forwarder.stats.spansRejected === 3,
      () => forwarder.stats,
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(up.calls).toHaveLength(3);
    expect(forwarder.stats).toMatchObject({ spansSent: 3, spansRejected: 3, retries: 1, queuedBytes: 0 });
  });

  it('retries RESOURCE_EXHAUSTED only when the upstream says when', async () => {
    const up = await grpcUpstream((n, callback) =>
      n === 1
        ? callback(refuse(status.RESOURCE_EXHAUSTED, 0))
        : n === 2
          ? callback(null, Buffer.alloc(0))
          : callback(refuse(status.RESOURCE_EXHAUSTED)),
    );
    const forwarder = track(new OtlpForwarder({ ...options, endpoint: up.endpoint }), up.server);
    forwarder.forward(protobufBody(), 'protobuf', 3);
    await until(
      () => forwarder.stats.spansSent === 3,
      () => forwarder.stats,
    );
    forwarder.forward(protobufBody(), 'protobuf', 2);
    await until(
      () => forwarder.stats.spansRejected === 2,
      () => forwarder.stats,
    );
    expect(forwarder.stats.retries).toBe(1);
    expect(up.calls).toHaveLength(3);
  });

  it('counts the spans a partial_success refused as rejected', async () => {
    const up = await grpcUpstream((_, callback) =>
      callback(null, encodeExportResponse('protobuf', { rejectedSpans: 2, errorMessage: 'SELECT secret' })),
    );
    const warnings: string[] = [];
    const forwarder = track(
      new OtlpForwarder(
        { ...options, endpoint: up.endpoint },
        { warn: (obj, msg) => warnings.push(JSON.stringify(obj) + msg) },
      ),
      up.server,
    );
    forwarder.forward(protobufBody(), 'protobuf', 5);
    await until(
      () => forwarder.stats.spansRejected === 2,
      () => forwarder.stats,
    );
    expect(forwarder.stats.spansSent).toBe(3);
    expect(warnings.join('\n')).not.toContain('secret');
  });

  it('retries while the upstream is down and delivers once it is up', async () => {
    const up = await grpcUpstream((_, callback) => callback(null, Buffer.alloc(0)));
    const port = Number(new URL(up.endpoint).port);
    up.server.forceShutdown();
    const forwarder = new OtlpForwarder({ ...options, endpoint: up.endpoint });
    forwarder.forward(protobufBody(), 'protobuf', 3);
    await until(
      () => forwarder.stats.retries >= 1,
      () => forwarder.stats,
    );
    expect(forwarder.stats.spansSent).toBe(0);
    const again = await grpcUpstream((_, callback) => callback(null, Buffer.alloc(0)), port);
    track(forwarder, again.server);
    await until(
      () => forwarder.stats.spansSent === 3,
      () => forwarder.stats,
    );
    expect(again.calls).toHaveLength(1);
  });

  it('calls MetricsService/Export and LogsService/Export with metrics and logs, JSON turned into protobuf', async () => {
    const up = await grpcUpstream((n, callback) =>
      // The second call (the JSON metrics body) gets 2 data points refused.
      callback(
        null,
        n === 2 ? encodeExportResponse('protobuf', { rejectedSpans: 2, errorMessage: '' }) : Buffer.alloc(0),
      ),
    );
    const forwarder = track(new OtlpForwarder({ ...options, endpoint: up.endpoint }), up.server);
    expect(forwarder.relays('metrics') && forwarder.relays('logs')).toBe(true);
    const metrics = await sdkMetrics();
    const logs = await sdkLogs();
    forwarder.forward(metricsBody(metrics, 'protobuf'), 'protobuf', SDK_METRIC_POINTS, 'metrics');
    await until(() => up.calls.length === 1);
    forwarder.forward(metricsBody(metrics, 'json'), 'json', SDK_METRIC_POINTS, 'metrics');
    await until(() => up.calls.length === 2);
    forwarder.forward(logsBody(logs, 'json'), 'json', SDK_LOG_RECORDS, 'logs');
    await until(
      () => forwarder.stats.logRecordsSent === SDK_LOG_RECORDS && forwarder.stats.queuedBytes === 0,
      () => forwarder.stats,
    );
    expect(up.calls.map((c) => c.path)).toEqual([
      SIGNALS.metrics.grpcPath,
      SIGNALS.metrics.grpcPath,
      SIGNALS.logs.grpcPath,
    ]);
    expect(up.calls[0].body).toEqual(metricsBody(metrics, 'protobuf'));
    expect(decodedRequest('metrics', up.calls[1].body)).toEqual(
      decodedRequest('metrics', metricsBody(metrics, 'protobuf')),
    );
    expect(decodedRequest('logs', up.calls[2].body)).toEqual(
      decodedRequest('logs', logsBody(logs, 'protobuf')),
    );
    expect(forwarder.stats).toMatchObject({
      dataPointsSent: 2 * SDK_METRIC_POINTS - 2,
      dataPointsRejected: 2,
      logRecordsSent: SDK_LOG_RECORDS,
      spansSent: 0,
    });
  });
});
