import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { afterEach, describe, expect, it } from 'vitest';
import { OtlpForwarder } from '../../src/forward';
import { signalPaths } from '../../src/forward/http-upstream';
import { encodeExportResponse } from '../../src/receiver/responses';
import {
  countItemsWithProtobufjs,
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

interface Received {
  path: string;
  body: Buffer;
  headers: IncomingMessage['headers'];
}

/** A stand-in upstream: records each POST and answers with what `answer` says. */
async function upstream(
  answer: (n: number, res: ServerResponse) => void,
): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url ?? '', body: Buffer.concat(chunks), headers: req.headers });
      answer(received.length, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/v1/traces`, received, server };
}

const options = { ...FORWARDER_TEST_OPTIONS };
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

function track(forwarder: OtlpForwarder, server?: Server): OtlpForwarder {
  cleanups.push(async () => {
    await forwarder.shutdown();
    if (server) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
  return forwarder;
}

describe('OtlpForwarder', () => {
  it('relays each body unchanged with its content type and the configured headers', async () => {
    const up = await upstream((_, res) => res.writeHead(200).end());
    const forwarder = track(
      new OtlpForwarder({ ...options, endpoint: up.url, headers: { Authorization: 'Bearer t0ken' } }),
      up.server,
    );
    forwarder.forward(Buffer.from([1, 2, 3]), 'protobuf', 3);
    forwarder.forward(Buffer.from('{"resourceSpans":[]}'), 'json', 2);
    await until(() => forwarder.stats.spansSent === 5);
    const byType = Object.fromEntries(up.received.map((r) => [r.headers['content-type'], r]));
    expect(byType['application/x-protobuf'].body).toEqual(Buffer.from([1, 2, 3]));
    expect(byType['application/json'].body.toString()).toBe('{"resourceSpans":[]}');
    expect(up.received.every((r) => r.headers.authorization === 'Bearer t0ken')).toBe(true);
    expect(forwarder.stats).toMatchObject({ spansDropped: 0, spansRejected: 0, retries: 0, queuedBytes: 0 });
  });

  it('counts the spans a 2xx partial_success refused as rejected, without logging its message', async () => {
    const up = await upstream((n, res) => {
      const partial = { rejectedSpans: 2, errorMessage: "span 'SELECT secret' refused" };
      if (n === 1) res.writeHead(200).end(encodeExportResponse('protobuf', partial));
      else if (n === 2)
        res.writeHead(200).end(encodeExportResponse('json', { ...partial, rejectedSpans: 1 }));
      else res.writeHead(200).end('OK'); // not an ExportTraceServiceResponse: the spans were taken
    });
    const warnings: string[] = [];
    const forwarder = track(
      new OtlpForwarder(
        { ...options, endpoint: up.url },
        { warn: (obj, msg) => warnings.push(`${JSON.stringify(obj)} ${msg}`) },
      ),
      up.server,
    );
    forwarder.forward(Buffer.from([1]), 'protobuf', 5);
    await until(() => forwarder.stats.spansSent + forwarder.stats.spansRejected === 5);
    forwarder.forward(Buffer.from('{}'), 'json', 4);
    await until(() => forwarder.stats.spansSent + forwarder.stats.spansRejected === 9);
    forwarder.forward(Buffer.from([2]), 'protobuf', 6);
    await until(() => forwarder.stats.spansSent + forwarder.stats.spansRejected === 15);
    expect(forwarder.stats).toMatchObject({ spansSent: 12, spansRejected: 3, retries: 0, queuedBytes: 0 });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('refused 2 spans');
    expect(warnings.join()).not.toContain('secret');
  });

  it('joins the protobuf bodies that wait behind a busy upstream into one POST, within maxBatchBytes', async () => {
    const held: ServerResponse[] = [];
    let stalled = true;
    const up = await upstream((_, res) => (stalled ? held.push(res) : res.writeHead(200).end()));
    const otlp = Buffer.from(ProtobufTraceSerializer.serializeRequest(stableSpans()) as Uint8Array);
    const perBody = countSpansWithProtobufjs(otlp);
    const forwarder = track(
      new OtlpForwarder({ ...options, endpoint: up.url, maxBatchBytes: 2 * otlp.length, timeoutMs: 60_000 }),
      up.server,
    );
    // Four go at once and stall; then three protobuf bodies, a JSON one, one more protobuf queue up.
    for (let i = 0; i < 4; i++) forwarder.forward(otlp, 'protobuf', perBody);
    await until(() => held.length === 4);
    for (let i = 0; i < 3; i++) forwarder.forward(otlp, 'protobuf', perBody);
    forwarder.forward(Buffer.from('{"resourceSpans":[]}'), 'json', 1);
    forwarder.forward(otlp, 'protobuf', perBody);
    stalled = false;
    for (const res of held) res.writeHead(200).end();
    await until(() => forwarder.stats.spansSent === 8 * perBody + 1);
    const later = up.received.slice(4);
    // In order: two joined (maxBatchBytes), the third alone, the JSON body, the last protobuf one.
    expect(later.map((r) => r.body.length)).toEqual([2 * otlp.length, otlp.length, 20, otlp.length]);
    expect(later[0].body).toEqual(Buffer.concat([otlp, otlp]));
    // Any protobuf decoder reads the joined body as one request holding both bodies' spans.
    expect(countSpansWithProtobufjs(later[0].body)).toBe(2 * perBody);
    expect(later[2].headers['content-type']).toBe('application/json');
    expect(forwarder.stats).toMatchObject({ posts: 8, spansDropped: 0, queuedBytes: 0 });
  });

  it('with compression gzip, sends each body gzipped once, the same bytes on a retry', async () => {
    const up = await upstream((n, res) => res.writeHead(n === 1 ? 503 : 200, { 'Retry-After': '0' }).end());
    const forwarder = track(
      new OtlpForwarder({ ...options, endpoint: up.url, compression: 'gzip' }),
      up.server,
    );
    const body = Buffer.from('span '.repeat(2_000));
    forwarder.forward(body, 'protobuf', 7);
    // Counted as queued while the thread pool compresses it.
    expect(forwarder.stats.queuedBytes).toBe(body.length);
    await until(() => forwarder.stats.spansSent === 7);
    expect(up.received).toHaveLength(2);
    for (const r of up.received) {
      expect(r.headers['content-encoding']).toBe('gzip');
      expect(r.headers['content-type']).toBe('application/x-protobuf');
      expect(gunzipSync(r.body)).toEqual(body);
      expect(r.body.length).toBeLessThan(body.length / 10);
    }
    expect(up.received[1].body).toEqual(up.received[0].body);
    expect(forwarder.stats).toMatchObject({ retries: 1, spansDropped: 0, queuedBytes: 0 });
  });

  it('sends what is queued or being gzipped when shutdown begins', async () => {
    const up = await upstream((_, res) => res.writeHead(200).end());
    const forwarder = track(
      new OtlpForwarder({ ...options, endpoint: up.url, compression: 'gzip' }),
      up.server,
    );
    for (let i = 0; i < 5; i++) forwarder.forward(Buffer.alloc(64 * 1024, i), 'protobuf', 2);
    await forwarder.shutdown();
    expect(forwarder.stats).toMatchObject({ spansSent: 10, spansDropped: 0, queuedBytes: 0 });
    expect(up.received.map((r) => gunzipSync(r.body)[0]).sort()).toEqual([0, 1, 2, 3, 4]);
  });

  it('sends a body again after the Retry-After of a 503, and drops a 400 without retrying it', async () => {
    const up = await upstream((n, res) => {
      if (n === 1) res.writeHead(503, { 'Retry-After': '1' }).end();
      else if (up.received[n - 1].body[0] === 9) res.writeHead(400).end();
      else res.writeHead(200).end();
    });
    const forwarder = track(new OtlpForwarder({ ...options, endpoint: up.url }), up.server);
    forwarder.forward(Buffer.from([7]), 'protobuf', 4);
    await until(() => forwarder.stats.retries === 1);
    const refusedAt = Date.now();
    await until(() => forwarder.stats.spansSent === 4);
    expect(Date.now() - refusedAt).toBeGreaterThanOrEqual(900);
    expect(up.received.map((r) => r.body[0])).toEqual([7, 7]);

    forwarder.forward(Buffer.from([9]), 'protobuf', 2);
    await until(() => forwarder.stats.spansRejected === 2);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(up.received.map((r) => r.body[0])).toEqual([7, 7, 9]);
    expect(forwarder.stats).toMatchObject({ spansSent: 4, retries: 1, queuedBytes: 0 });
  });

  it('resumes after a pause even when its timer fires before the clock reads the pause over', async () => {
    // A clock running at half speed: the pause's timer (real time) always fires "early" by this clock,
    // as Node's timers may by a millisecond against Date.now().
    const t0 = Date.now();
    const slowClock = () => t0 + (Date.now() - t0) / 2;
    const up = await upstream((n, res) =>
      n === 1 ? res.writeHead(503, { 'Retry-After': '1' }).end() : res.writeHead(200).end(),
    );
    const forwarder = track(
      new OtlpForwarder({ ...options, endpoint: up.url }, undefined, slowClock),
      up.server,
    );
    forwarder.forward(Buffer.from([5]), 'protobuf', 1);
    await until(() => forwarder.stats.spansSent === 1);
    expect(forwarder.stats.retries).toBe(1);
  });

  it('holds at most maxQueuedBytes while the upstream stalls, counting what it drops', async () => {
    const held: ServerResponse[] = [];
    let stalled = true;
    const up = await upstream((_, res) => (stalled ? held.push(res) : res.writeHead(200).end()));
    const forwarder = track(
      new OtlpForwarder({ ...options, endpoint: up.url, maxQueuedBytes: 10 * 1024, timeoutMs: 60_000 }),
      up.server,
    );
    for (let i = 0; i < 20; i++) forwarder.forward(Buffer.alloc(1024, i), 'protobuf', 10);
    expect(forwarder.stats.queuedBytes).toBe(10 * 1024);
    expect(forwarder.stats.spansDropped).toBe(100);
    await until(() => held.length === 4);
    stalled = false;
    for (const res of held) res.writeHead(200).end();
    await until(() => forwarder.stats.spansSent === 100);
    expect(forwarder.stats.queuedBytes).toBe(0);
  });

  it('keeps retrying an upstream that is down and drops what is left at shutdown', async () => {
    const up = await upstream((_, res) => res.writeHead(200).end());
    const url = up.url;
    await new Promise((resolve) => up.server.close(resolve));
    const warnings: object[] = [];
    const forwarder = new OtlpForwarder({ ...options, endpoint: url }, { warn: (obj) => warnings.push(obj) });
    forwarder.forward(Buffer.from([1]), 'protobuf', 3);
    forwarder.forward(Buffer.from([2]), 'protobuf', 5);
    await until(() => forwarder.stats.retries >= 1);
    const started = Date.now();
    await forwarder.shutdown();
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(forwarder.stats).toMatchObject({ spansSent: 0, spansDropped: 8, queuedBytes: 0 });
    // One warning per minute at most, naming the error code and never a body byte.
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ reason: 'ECONNREFUSED' });
    await forwarder.shutdown();
  });

  it('relays metrics and logs beside /v1/traces, joining protobuf bodies only with their own signal, each counted in its unit', async () => {
    const held: ServerResponse[] = [];
    let stalled = true;
    const up = await upstream((_, res) => (stalled ? held.push(res) : res.writeHead(200).end()));
    const forwarder = track(
      new OtlpForwarder({ ...options, endpoint: `${up.url}?tenant=a`, timeoutMs: 60_000 }),
      up.server,
    );
    expect(['traces', 'metrics', 'logs'].map((s) => forwarder.relays(s as 'traces'))).toEqual([
      true,
      true,
      true,
    ]);
    const spansBody = Buffer.from(ProtobufTraceSerializer.serializeRequest(stableSpans()) as Uint8Array);
    const spans = countSpansWithProtobufjs(spansBody);
    const metrics = metricsBody(await sdkMetrics(), 'protobuf');
    const logs = logsBody(await sdkLogs(), 'protobuf');
    const logsJson = logsBody(await sdkLogs('b'), 'json');
    // Four trace bodies stall the upstream; behind them, the other signals' bodies queue up in turn.
    for (let i = 0; i < 4; i++) forwarder.forward(spansBody, 'protobuf', spans);
    await until(() => held.length === 4);
    forwarder.forward(metrics, 'protobuf', SDK_METRIC_POINTS, 'metrics');
    forwarder.forward(metrics, 'protobuf', SDK_METRIC_POINTS, 'metrics');
    forwarder.forward(logs, 'protobuf', SDK_LOG_RECORDS, 'logs');
    forwarder.forward(metrics, 'protobuf', SDK_METRIC_POINTS, 'metrics');
    forwarder.forward(spansBody, 'protobuf', spans);
    forwarder.forward(logsJson, 'json', SDK_LOG_RECORDS, 'logs');
    stalled = false;
    for (const res of held) res.writeHead(200).end();
    await until(
      () => forwarder.stats.logRecordsSent === 2 * SDK_LOG_RECORDS && forwarder.stats.spansSent === 5 * spans,
      () => forwarder.stats,
    );
    await until(() => forwarder.stats.dataPointsSent === 3 * SDK_METRIC_POINTS);
    const later = up.received.slice(4);
    expect(later.map((r) => `${r.path} ${r.headers['content-type']} ${r.body.length}`)).toEqual([
      `/v1/metrics?tenant=a application/x-protobuf ${2 * metrics.length}`,
      `/v1/logs?tenant=a application/x-protobuf ${logs.length}`,
      `/v1/metrics?tenant=a application/x-protobuf ${metrics.length}`,
      `/v1/traces?tenant=a application/x-protobuf ${spansBody.length}`,
      `/v1/logs?tenant=a application/json ${logsJson.length}`,
    ]);
    // Joined byte for byte: a protobuf decoder reads one request holding both bodies' data points.
    expect(later[0].body).toEqual(Buffer.concat([metrics, metrics]));
    expect(countItemsWithProtobufjs('metrics', later[0].body)).toBe(2 * SDK_METRIC_POINTS);
    expect(later[1].body).toEqual(logs);
    expect(later[4].body).toEqual(logsJson);
    expect(forwarder.stats).toMatchObject({
      dataPointsDropped: 0,
      dataPointsRejected: 0,
      logRecordsDropped: 0,
      logRecordsRejected: 0,
      spansDropped: 0,
      queuedBytes: 0,
      posts: 9,
    });
  });

  it('counts the data points and log records a partial_success refused, in each signal', async () => {
    const up = await upstream((_, res) => {
      const path = up.received[up.received.length - 1].path;
      // Field 1 of the partial success is rejected_data_points (rejected_log_records) as it is rejected_spans.
      if (path === '/v1/metrics')
        res.writeHead(200).end(encodeExportResponse('protobuf', { rejectedSpans: 3, errorMessage: 'no' }));
      else res.writeHead(200).end(JSON.stringify({ partialSuccess: { rejectedLogRecords: '1' } }));
    });
    const warnings: string[] = [];
    const forwarder = track(
      new OtlpForwarder({ ...options, endpoint: up.url }, { warn: (_obj, msg) => warnings.push(msg) }),
      up.server,
    );
    forwarder.forward(Buffer.from([1]), 'protobuf', 8, 'metrics');
    forwarder.forward(Buffer.from('{}'), 'json', 2, 'logs');
    await until(() => forwarder.stats.queuedBytes === 0 && forwarder.stats.logRecordsSent === 1);
    expect(forwarder.stats).toMatchObject({
      dataPointsSent: 5,
      dataPointsRejected: 3,
      logRecordsSent: 1,
      logRecordsRejected: 1,
      spansSent: 0,
      spansRejected: 0,
    });
    // One warning per signal, in its own unit.
    expect(warnings.sort()).toEqual([
      'forwarding: upstream took the POST but refused 1 log records',
      'forwarding: upstream took the POST but refused 3 data points',
    ]);
  });

  it("answers false for a body the full queue cannot take, dropping a trace body's spans but not a metrics body's points", async () => {
    const up = await upstream(() => undefined); // never answers
    const forwarder = track(
      new OtlpForwarder({ ...options, endpoint: up.url, maxQueuedBytes: 100, timeoutMs: 60_000 }),
      up.server,
    );
    expect(forwarder.forward(Buffer.alloc(100), 'protobuf', 5, 'metrics')).toBe(true);
    expect(forwarder.forward(Buffer.alloc(1), 'protobuf', 2, 'metrics')).toBe(false);
    expect(forwarder.forward(Buffer.alloc(1), 'protobuf', 3, 'logs')).toBe(false);
    expect(forwarder.forward(Buffer.alloc(1), 'protobuf', 4)).toBe(false);
    // The receiver refuses the metrics and logs (503): their senders keep them. The spans were answered.
    expect(forwarder.stats).toMatchObject({ dataPointsDropped: 0, logRecordsDropped: 0, spansDropped: 4 });
  });

  it('derives the metrics and logs URLs from a …/v1/traces endpoint only', async () => {
    expect(signalPaths('/v1/traces', '')).toEqual({
      traces: '/v1/traces',
      metrics: '/v1/metrics',
      logs: '/v1/logs',
    });
    expect(signalPaths('/otlp/v1/traces', '?k=v')).toEqual({
      traces: '/otlp/v1/traces?k=v',
      metrics: '/otlp/v1/metrics?k=v',
      logs: '/otlp/v1/logs?k=v',
    });
    // A path of another shape (or none) names the traces URL only.
    expect(signalPaths('/', '')).toEqual({ traces: '/' });
    expect(signalPaths('/api/traces', '')).toEqual({ traces: '/api/traces' });
    expect(signalPaths('/v1/traces/', '')).toEqual({ traces: '/v1/traces/' });
    const forwarder = track(new OtlpForwarder({ ...options, endpoint: 'http://127.0.0.1:9/api/traces' }));
    expect(forwarder.relays('traces')).toBe(true);
    expect(forwarder.relays('metrics')).toBe(false);
    expect(forwarder.relays('logs')).toBe(false);
  });
});
