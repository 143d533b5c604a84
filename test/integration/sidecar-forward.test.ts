import { gzipSync } from 'node:zlib';
import { Client, credentials, type ServiceError, status } from '@grpc/grpc-js';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import { OTLPLogExporter as GrpcLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPLogExporter as JsonLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPMetricExporter as GrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as JsonMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import protobuf from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ForwardStats } from '../../src/forward';
import type { ReceiverStats } from '../../src/receiver';
import { SIGNALS } from '../../src/receiver/signals';
import type { EndpointRow, Report } from '../../src/reports/types';
import type { RunningSidecar } from '../../src/sidecar/sidecar';
import {
  decodedRequest,
  logsBody,
  metricsBody,
  SDK_LOG_RECORDS,
  SDK_METRIC_POINTS,
  sdkLogs,
  sdkMetrics,
} from '../fixtures/otlp/signals';
import { requestWithQuery } from '../fixtures/otlp/spans';
import { type GrpcSink, grpcSink, type HttpArrival, type HttpSink, httpSink } from '../helpers/otlp-sinks';
import { getJson, startTestSidecar, waitFor } from '../helpers/sidecar';

/** A request span with one query beneath it, on `route`. */
function request(traceByte: string, route: string) {
  return requestWithQuery(traceByte.repeat(16), route);
}

describe('sidecar forwarding to another OTLP endpoint', () => {
  let upstream: RunningSidecar;
  let sidecar: RunningSidecar;
  beforeAll(async () => {
    upstream = await startTestSidecar();
    sidecar = await startTestSidecar({ forward: { endpoint: `${upstream.receiverUrl}/v1/traces` } });
  });
  afterAll(async () => {
    await sidecar?.shutdown();
    await upstream?.shutdown();
  });

  it('relays protobuf, gzip and JSON bodies it accepted, so the upstream reports the same requests', async () => {
    const post = (body: Uint8Array | Buffer, contentType: string, headers: Record<string, string> = {}) =>
      fetch(`${sidecar.receiverUrl}/v1/traces`, {
        method: 'POST',
        body,
        headers: { 'Content-Type': contentType, ...headers },
      });
    const protobuf = ProtobufTraceSerializer.serializeRequest(request('a1', '/items/:id')) as Uint8Array;
    const json = JsonTraceSerializer.serializeRequest(request('b2', '/carts/:id')) as Uint8Array;
    expect((await post(protobuf, 'application/x-protobuf')).status).toBe(200);
    const zipped = gzipSync(
      ProtobufTraceSerializer.serializeRequest(request('c3', '/users/:id')) as Uint8Array,
    );
    expect((await post(zipped, 'application/x-protobuf', { 'Content-Encoding': 'gzip' })).status).toBe(200);
    expect((await post(json, 'application/json')).status).toBe(200);

    const routesAt = async (s: RunningSidecar) =>
      (await getJson<Report<EndpointRow>>(`${s.apiUrl}/api/v1/reports/endpoints`)).rows
        .map((row) => `${row.route} ${row.requests} ${row.queriesPerRequest}`)
        .sort();
    const expected = ['/carts/:id 1 1', '/items/:id 1 1', '/users/:id 1 1'];
    expect(await waitFor(async () => (await routesAt(upstream)).length === 3 && routesAt(upstream))).toEqual(
      expected,
    );
    expect(await routesAt(sidecar)).toEqual(expected);

    const health = await getJson<{ forward: ForwardStats }>(`${sidecar.apiUrl}/healthz`);
    expect(health.forward).toMatchObject({ spansSent: 6, spansDropped: 0, spansRejected: 0, queuedBytes: 0 });
    const metrics = await (await fetch(`${sidecar.apiUrl}/metrics`)).text();
    expect(metrics).toMatch(/^spanstat_sidecar_forwarded_spans_total\{outcome="sent"\} 6$/m);
    // The upstream does not forward, so it has no such series.
    expect(await (await fetch(`${upstream.apiUrl}/metrics`)).text()).not.toContain('forwarded_spans');
  });
});

const PROTO = 'application/x-protobuf';
const passThrough = (b: Buffer) => b;

/** POSTs an OTLP/HTTP body to the sidecar's `path`; the status and the answer's body. */
async function postTo(
  sidecar: RunningSidecar,
  path: string,
  body: Uint8Array,
  contentType: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Buffer }> {
  const res = await fetch(`${sidecar.receiverUrl}${path}`, {
    method: 'POST',
    body,
    headers: { 'Content-Type': contentType, ...headers },
  });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
}

/** One raw gRPC Export call to `method` (what an SDK of any language sends); the error if it failed. */
function grpcExport(address: string, method: string, body: Buffer): Promise<ServiceError | undefined> {
  const client = new Client(address, credentials.createInsecure());
  return new Promise((resolve) => {
    client.makeUnaryRequest(method, passThrough, passThrough, body, (err) => {
      client.close();
      resolve(err ?? undefined);
    });
  });
}

interface SignalExporter<T> {
  export(items: T, done: (result: ExportResult) => void): void;
  shutdown(): Promise<void>;
}

/** One export by a real OpenTelemetry SDK exporter (its transport, encoding and headers); its result. */
async function exportOnce<T>(exporter: SignalExporter<T>, items: T): Promise<ExportResult> {
  try {
    return await new Promise<ExportResult>((resolve) => exporter.export(items, resolve));
  } finally {
    await exporter.shutdown();
  }
}

const metricExporters = {
  protobuf: (url: string): SignalExporter<ResourceMetrics> => new ProtoMetricExporter({ url }),
  json: (url: string): SignalExporter<ResourceMetrics> => new JsonMetricExporter({ url }),
  grpc: (url: string): SignalExporter<ResourceMetrics> => new GrpcMetricExporter({ url }),
};
const logExporters = {
  protobuf: (url: string): SignalExporter<ReadableLogRecord[]> => new ProtoLogExporter({ url }),
  json: (url: string): SignalExporter<ReadableLogRecord[]> => new JsonLogExporter({ url }),
  grpc: (url: string): SignalExporter<ReadableLogRecord[]> => new GrpcLogExporter({ url }),
};

describe('sidecar relaying OTLP metrics and logs to an OTLP/HTTP upstream', () => {
  let sink: HttpSink;
  let sidecar: RunningSidecar;
  /** Answers the next /v1/metrics POST 503 + Retry-After: 1 when set. */
  let refuseNextMetrics = false;
  beforeAll(async () => {
    sink = await httpSink((arrival, res) => {
      if (refuseNextMetrics && arrival.path === '/v1/metrics') {
        refuseNextMetrics = false;
        res.writeHead(503, { 'Retry-After': '1' }).end();
      } else res.writeHead(200).end();
    });
    sidecar = await startTestSidecar({
      receiver: { port: 0, grpcPort: 0 },
      forward: { endpoint: `${sink.url}/v1/traces`, compression: 'none' },
    });
  });
  afterAll(async () => {
    await sidecar?.shutdown();
    await sink?.close();
  });

  /** Sends, then waits for what arrives upstream (bodies sent one at a time are not joined). */
  async function arrivalOf(send: () => Promise<unknown>): Promise<HttpArrival> {
    const before = sink.arrivals.length;
    await send();
    await waitFor(async () => sink.arrivals.length > before);
    expect(sink.arrivals).toHaveLength(before + 1);
    return sink.arrivals[before];
  }

  it('relays metrics and logs sent over OTLP/HTTP protobuf, JSON and gzip and over OTLP/gRPC to /v1/metrics and /v1/logs, byte for byte', async () => {
    const metrics = await sdkMetrics();
    const logs = await sdkLogs();
    const grpc = sidecar.grpcReceiverAddress as string;
    const cases: [string, () => Promise<unknown>, string, string, Buffer][] = [
      [
        'metrics protobuf',
        () => postTo(sidecar, '/v1/metrics', metricsBody(metrics, 'protobuf'), PROTO),
        '/v1/metrics',
        PROTO,
        metricsBody(metrics, 'protobuf'),
      ],
      [
        'metrics JSON',
        () => postTo(sidecar, '/v1/metrics', metricsBody(metrics, 'json'), 'application/json'),
        '/v1/metrics',
        'application/json',
        metricsBody(metrics, 'json'),
      ],
      [
        'logs protobuf, gzip',
        () =>
          postTo(sidecar, '/v1/logs', gzipSync(logsBody(logs, 'protobuf')), PROTO, {
            'Content-Encoding': 'gzip',
          }),
        '/v1/logs',
        PROTO,
        logsBody(logs, 'protobuf'),
      ],
      [
        'logs JSON',
        () => postTo(sidecar, '/v1/logs', logsBody(logs, 'json'), 'application/json'),
        '/v1/logs',
        'application/json',
        logsBody(logs, 'json'),
      ],
      [
        'metrics over gRPC',
        () => grpcExport(grpc, SIGNALS.metrics.grpcPath, metricsBody(metrics, 'protobuf')),
        '/v1/metrics',
        PROTO,
        metricsBody(metrics, 'protobuf'),
      ],
      [
        'logs over gRPC',
        () => grpcExport(grpc, SIGNALS.logs.grpcPath, logsBody(logs, 'protobuf')),
        '/v1/logs',
        PROTO,
        logsBody(logs, 'protobuf'),
      ],
    ];
    for (const [what, send, path, contentType, expected] of cases) {
      const arrival = await arrivalOf(async () => {
        const answer = await send();
        expect(answer, what).toSatisfy((a) => a === undefined || (a as { status: number }).status === 200);
      });
      expect(`${arrival.path} ${arrival.headers['content-type']}`, what).toBe(`${path} ${contentType}`);
      expect(arrival.body.equals(expected), what).toBe(true);
    }
    const health = await getJson<{ forward: ForwardStats; receiver: ReceiverStats }>(
      `${sidecar.apiUrl}/healthz`,
    );
    expect(health.forward).toMatchObject({
      dataPointsSent: 3 * SDK_METRIC_POINTS,
      logRecordsSent: 3 * SDK_LOG_RECORDS,
      dataPointsDropped: 0,
      logRecordsRejected: 0,
      spansSent: 0,
      queuedBytes: 0,
    });
    expect(health.receiver).toMatchObject({
      dataPointsAccepted: 3 * SDK_METRIC_POINTS,
      logRecordsAccepted: 3 * SDK_LOG_RECORDS,
      spansAccepted: 0,
      metricsRefused: 0,
    });
    const prometheus = await (await fetch(`${sidecar.apiUrl}/metrics`)).text();
    expect(prometheus).toMatch(
      new RegExp(
        `^spanstat_sidecar_forwarded_metric_points_total\\{outcome="sent"\\} ${3 * SDK_METRIC_POINTS}$`,
        'm',
      ),
    );
    expect(prometheus).toMatch(
      new RegExp(
        `^spanstat_sidecar_forwarded_log_records_total\\{outcome="sent"\\} ${3 * SDK_LOG_RECORDS}$`,
        'm',
      ),
    );
  });

  it("takes the OpenTelemetry SDK's metrics and logs exporters' exports (protobuf, JSON, gRPC) and relays what they sent", async () => {
    const metrics = await sdkMetrics('sdk');
    const logs = await sdkLogs('sdk');
    const grpcUrl = `http://${sidecar.grpcReceiverAddress}`;
    for (const [encoding, make] of Object.entries(metricExporters)) {
      const url = encoding === 'grpc' ? grpcUrl : `${sidecar.receiverUrl}/v1/metrics`;
      const arrival = await arrivalOf(async () => {
        const result = await exportOnce(make(url), metrics);
        expect(result.code, `metrics ${encoding}: ${result.error?.message}`).toBe(ExportResultCode.SUCCESS);
      });
      expect(arrival.path).toBe('/v1/metrics');
      // What the exporter serialised is what the upstream got: the serializer is deterministic.
      expect(
        arrival.body.equals(metricsBody(metrics, encoding === 'json' ? 'json' : 'protobuf')),
        encoding,
      ).toBe(true);
    }
    for (const [encoding, make] of Object.entries(logExporters)) {
      const url = encoding === 'grpc' ? grpcUrl : `${sidecar.receiverUrl}/v1/logs`;
      const arrival = await arrivalOf(async () => {
        const result = await exportOnce(make(url), logs);
        expect(result.code, `logs ${encoding}: ${result.error?.message}`).toBe(ExportResultCode.SUCCESS);
      });
      expect(arrival.path).toBe('/v1/logs');
      expect(arrival.body.equals(logsBody(logs, encoding === 'json' ? 'json' : 'protobuf')), encoding).toBe(
        true,
      );
    }
  });

  it('sends a metrics body again after the upstream answers 503 with Retry-After, the same bytes', async () => {
    const before = (await getJson<{ forward: ForwardStats }>(`${sidecar.apiUrl}/healthz`)).forward;
    const body = metricsBody(await sdkMetrics('retry'), 'protobuf');
    refuseNextMetrics = true;
    const start = sink.arrivals.length;
    const sentAt = Date.now();
    expect((await postTo(sidecar, '/v1/metrics', body, PROTO)).status).toBe(200);
    await waitFor(async () => sink.arrivals.length === start + 2);
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(900);
    const [refused, retried] = sink.arrivals.slice(start);
    expect(refused.body.equals(body) && retried.body.equals(body)).toBe(true);
    expect(retried.path).toBe('/v1/metrics');
    const after = await waitFor(async () => {
      const f = (await getJson<{ forward: ForwardStats }>(`${sidecar.apiUrl}/healthz`)).forward;
      return f.dataPointsSent === before.dataPointsSent + SDK_METRIC_POINTS ? f : undefined;
    });
    expect(after).toMatchObject({ retries: before.retries + 1, dataPointsDropped: 0, dataPointsRejected: 0 });
  });

  it('keeps relaying traces to /v1/traces, apart from the metrics and logs', async () => {
    const spans = ProtobufTraceSerializer.serializeRequest(request('d4', '/orders/:id')) as Uint8Array;
    const arrival = await arrivalOf(async () =>
      expect((await postTo(sidecar, '/v1/traces', spans, PROTO)).status).toBe(200),
    );
    expect(arrival.path).toBe('/v1/traces');
    expect(arrival.body.equals(Buffer.from(spans))).toBe(true);
  });
});

describe('sidecar forwarding to an OTLP/HTTP endpoint whose path does not end in /v1/traces', () => {
  it('relays the traces there and refuses metrics and logs, saying why', async () => {
    const sink = await httpSink();
    const sidecar = await startTestSidecar({
      forward: { endpoint: `${sink.url}/ingest/spans`, compression: 'none' },
    });
    try {
      const metrics = await postTo(
        sidecar,
        '/v1/metrics',
        metricsBody(await sdkMetrics(), 'json'),
        'application/json',
      );
      expect(metrics.status).toBe(404);
      expect(JSON.parse(metrics.body.toString()).message).toContain(
        "forward.endpoint's path does not end in /v1/traces",
      );
      const spans = ProtobufTraceSerializer.serializeRequest(request('f6', '/items/:id')) as Uint8Array;
      expect((await postTo(sidecar, '/v1/traces', spans, PROTO)).status).toBe(200);
      await waitFor(async () => sink.arrivals.length > 0);
      expect(sink.arrivals.map((a) => a.path)).toEqual(['/ingest/spans']);
      const health = await getJson<{ receiver: ReceiverStats }>(`${sidecar.apiUrl}/healthz`);
      expect(health.receiver).toMatchObject({ metricsRefused: 1, logsRefused: 0 });
    } finally {
      await sidecar.shutdown();
      await sink.close();
    }
  });
});

describe('sidecar relaying OTLP metrics and logs to an OTLP/gRPC upstream', () => {
  let sink: GrpcSink;
  let sidecar: RunningSidecar;
  beforeAll(async () => {
    sink = await grpcSink();
    sidecar = await startTestSidecar({
      receiver: { port: 0, grpcPort: 0 },
      forward: { endpoint: sink.endpoint, protocol: 'grpc', compression: 'gzip' },
    });
  });
  afterAll(async () => {
    await sidecar?.shutdown();
    await sink?.close();
  });

  it('calls MetricsService/Export and LogsService/Export: protobuf byte for byte, JSON as the same data in protobuf', async () => {
    const metrics = await sdkMetrics();
    const logs = await sdkLogs();
    const arrive = async (send: () => Promise<unknown>) => {
      const before = sink.arrivals.length;
      await send();
      await waitFor(async () => sink.arrivals.length > before);
      return sink.arrivals[before];
    };
    const protobufMetrics = await arrive(() =>
      postTo(sidecar, '/v1/metrics', metricsBody(metrics, 'protobuf'), PROTO),
    );
    expect(protobufMetrics.signal).toBe('metrics');
    expect(protobufMetrics.body.equals(metricsBody(metrics, 'protobuf'))).toBe(true);
    const jsonLogs = await arrive(() =>
      postTo(sidecar, '/v1/logs', logsBody(logs, 'json'), 'application/json'),
    );
    expect(jsonLogs.signal).toBe('logs');
    expect(decodedRequest('logs', jsonLogs.body)).toEqual(decodedRequest('logs', logsBody(logs, 'protobuf')));
    const jsonMetrics = await arrive(() =>
      postTo(sidecar, '/v1/metrics', metricsBody(metrics, 'json'), 'application/json'),
    );
    expect(decodedRequest('metrics', jsonMetrics.body)).toEqual(
      decodedRequest('metrics', metricsBody(metrics, 'protobuf')),
    );
    // The SDK's gRPC exporters, through spanstat's gRPC receiver, to the upstream's same methods.
    const grpcUrl = `http://${sidecar.grpcReceiverAddress}`;
    const sdkMetricsCall = await arrive(async () =>
      expect((await exportOnce(metricExporters.grpc(grpcUrl), metrics)).code).toBe(ExportResultCode.SUCCESS),
    );
    expect(sdkMetricsCall.signal).toBe('metrics');
    expect(sdkMetricsCall.body.equals(metricsBody(metrics, 'protobuf'))).toBe(true);
    const sdkLogsCall = await arrive(async () =>
      expect((await exportOnce(logExporters.grpc(grpcUrl), logs)).code).toBe(ExportResultCode.SUCCESS),
    );
    expect(sdkLogsCall.signal).toBe('logs');
    expect(sdkLogsCall.body.equals(logsBody(logs, 'protobuf'))).toBe(true);
    const health = await getJson<{ forward: ForwardStats }>(`${sidecar.apiUrl}/healthz`);
    expect(health.forward).toMatchObject({
      dataPointsSent: 3 * SDK_METRIC_POINTS,
      logRecordsSent: 2 * SDK_LOG_RECORDS,
      queuedBytes: 0,
    });
  });
});

describe('sidecar without forwarding, sent metrics and logs', () => {
  let sidecar: RunningSidecar;
  const warnings: { msg: string; [field: string]: unknown }[] = [];
  const Status = protobuf
    .parse('syntax = "proto3"; message Status { int32 code = 1; string message = 2; }')
    .root.lookupType('Status');
  beforeAll(async () => {
    sidecar = await startTestSidecar({ receiver: { port: 0, grpcPort: 0 } }, (line) => warnings.push(line));
  });
  afterAll(async () => {
    await sidecar?.shutdown();
  });

  it('refuses them (404, UNIMPLEMENTED) saying why and what to do, warns once per signal, and counts them', async () => {
    const metrics = await sdkMetrics();
    const logs = await sdkLogs();
    const grpcUrl = `http://${sidecar.grpcReceiverAddress}`;
    // An app's SDK exporting every interval: each export fails, and says why.
    for (let round = 0; round < 3; round++) {
      for (const [encoding, make] of Object.entries(metricExporters)) {
        const url = encoding === 'grpc' ? grpcUrl : `${sidecar.receiverUrl}/v1/metrics`;
        const result = await exportOnce(make(url), metrics);
        expect(result.code).toBe(ExportResultCode.FAILED);
      }
      for (const [encoding, make] of Object.entries(logExporters)) {
        const url = encoding === 'grpc' ? grpcUrl : `${sidecar.receiverUrl}/v1/logs`;
        expect((await exportOnce(make(url), logs)).code).toBe(ExportResultCode.FAILED);
      }
    }
    const http = await postTo(sidecar, '/v1/metrics', metricsBody(metrics, 'protobuf'), PROTO);
    expect(http.status).toBe(404);
    const message = (Status.toObject(Status.decode(http.body)) as { message: string }).message;
    expect(message).toBe(
      'spanstat reads OTLP traces only and relays metrics only when forwarding, and forward.endpoint is not set: ' +
        'send metrics to your collector (OTEL_EXPORTER_OTLP_ENDPOINT at the collector, ' +
        'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT at spanstat), set forward.endpoint to your collector to have ' +
        'spanstat relay them, or set OTEL_METRICS_EXPORTER=none',
    );
    const grpcError = await grpcExport(
      sidecar.grpcReceiverAddress as string,
      SIGNALS.logs.grpcPath,
      logsBody(logs, 'protobuf'),
    );
    expect(grpcError?.code).toBe(status.UNIMPLEMENTED);
    expect(grpcError?.details).toContain('relays logs only when forwarding');
    expect(grpcError?.details).toContain('OTEL_LOGS_EXPORTER=none');

    const refusals = warnings.filter((w) => / refused \(logged once\)/.test(w.msg));
    expect(refusals.map((w) => [w.signal, w.transport])).toEqual([
      ['metrics', 'OTLP/HTTP'],
      ['logs', 'OTLP/HTTP'],
    ]);
    expect(refusals[0].msg).toBe(`OTLP metrics refused (logged once): ${message}`);
    const health = await getJson<{ receiver: ReceiverStats; forward?: unknown }>(`${sidecar.apiUrl}/healthz`);
    expect(health.receiver).toMatchObject({ metricsRefused: 10, logsRefused: 10, dataPointsAccepted: 0 });
    expect(health.forward).toBeUndefined();
    // Traces are taken as ever.
    const spans = ProtobufTraceSerializer.serializeRequest(request('e5', '/items/:id')) as Uint8Array;
    expect((await postTo(sidecar, '/v1/traces', spans, PROTO)).status).toBe(200);
  });
});
