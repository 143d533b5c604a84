import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { gzipSync } from 'node:zlib';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import protobuf from 'protobufjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isSpanstatError } from '../../src/errors';
import type { DecodedSpan } from '../../src/model/span';
import { OtlpHttpReceiver, type ReceiverOptions } from '../../src/receiver';
import type { OtlpEncoding } from '../../src/receiver/responses';
import type { OtlpSignal } from '../../src/receiver/signals';
import {
  logsBody,
  metricsBody,
  SDK_LOG_RECORDS,
  SDK_METRIC_POINTS,
  sdkLogs,
  sdkMetrics,
} from '../fixtures/otlp/signals';
import { jsonBody, protobufBody, stableSpans } from '../fixtures/otlp/spans';

const MAX_BODY = 64 * 1024;
const PROTO = 'application/x-protobuf';
const Status = protobuf
  .parse('syntax = "proto3"; message Status { int32 code = 1; string message = 2; }')
  .root.lookupType('Status');

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

interface Send {
  path?: string;
  method?: string;
  headers?: Record<string, string | number>;
  body?: Buffer | string;
  agent?: Agent;
  /** Send headers only and wait for the answer (for an early refusal). */
  headersOnly?: boolean;
}

let receiver: OtlpHttpReceiver;
let port: number;
let batches: DecodedSpan[][];
let overloaded: boolean;
let onSpansThrows: boolean;
/** Every logged object and message, serialised, to check what reaches logs. */
const logged: string[] = [];

function send(opts: Send): Promise<Reply> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: opts.path ?? '/v1/traces',
        method: opts.method ?? 'POST',
        headers: opts.headers,
        agent: opts.agent ?? false,
      },
      (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
          if (opts.headersOnly) req.destroy();
        });
      },
    );
    // The server may close while a refused body is still being written; the answer still counts.
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    if (opts.headersOnly) req.flushHeaders();
    else req.end(opts.body);
  });
}

function sendProto(body: Buffer, extra?: Partial<Send>): Promise<Reply> {
  return send({ headers: { 'content-type': PROTO }, body, ...extra });
}

async function expectStillServing(): Promise<void> {
  const before = batches.length;
  const reply = await sendProto(protobufBody(stableSpans()));
  expect(reply.status).toBe(200);
  expect(batches.length).toBe(before + 1);
}

function statusOf(reply: Reply): { code: number; message: string } {
  if (reply.headers['content-type'] === 'application/json') return JSON.parse(reply.body.toString());
  return Status.toObject(Status.decode(reply.body)) as { code: number; message: string };
}

/** JSON with errors expanded the way pino's serializer writes them (message and stack). */
function asLogged(obj: object): string {
  return JSON.stringify(obj, (_k, v) =>
    v instanceof Error ? { name: v.name, message: v.message, stack: v.stack } : v,
  );
}

function options(extra?: Partial<ReceiverOptions>): ReceiverOptions {
  return {
    host: '127.0.0.1',
    port: 0,
    maxBodyBytes: MAX_BODY,
    retryAfterSeconds: 7,
    onSpans: (batch) => {
      const spans: DecodedSpan[] = [];
      batch.forEach((span) => {
        spans.push(span);
      });
      expect(batch.size).toBe(spans.length);
      if (onSpansThrows)
        throw new Error(`cannot parse ${spans.map((s) => s.attributes['db.query.text']).join(';')}`);
      batches.push(spans);
    },
    isOverloaded: () => overloaded,
    logger: {
      warn: (obj, msg) => logged.push(`warn ${msg} ${asLogged(obj)}`),
      debug: (obj, msg) => logged.push(`debug ${msg} ${asLogged(obj)}`),
    },
    ...extra,
  };
}

beforeEach(async () => {
  batches = [];
  overloaded = false;
  onSpansThrows = false;
  logged.length = 0;
  receiver = new OtlpHttpReceiver(options());
  ({ port } = await receiver.start());
});

afterEach(async () => {
  await receiver.shutdown();
});

describe('OtlpHttpReceiver', () => {
  it('accepts a protobuf export, hands the spans over and answers an empty ExportTraceServiceResponse', async () => {
    const reply = await sendProto(protobufBody(stableSpans()));
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe(PROTO);
    expect(ProtobufTraceSerializer.deserializeResponse(reply.body)).toEqual({});
    expect(batches).toHaveLength(1);
    expect(batches[0].map((s) => s.name)).toEqual(['GET /users/:id', 'pg.query:SELECT shop', 'get']);
    expect(receiver.stats).toMatchObject({ requests: 1, spansAccepted: 3, decodeErrors: 0 });
    expect(receiver.stats.bytesReceived).toBe(protobufBody(stableSpans()).length);
  });

  it('accepts JSON with a charset parameter and answers in JSON', async () => {
    const reply = await send({
      headers: { 'content-type': 'Application/JSON; charset=utf-8' },
      body: jsonBody(stableSpans()),
    });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/json');
    expect(JsonTraceSerializer.deserializeResponse(reply.body)).toEqual({});
    expect(batches[0]).toHaveLength(3);
  });

  it('accepts a gzip body', async () => {
    const reply = await sendProto(gzipSync(protobufBody(stableSpans())), {
      headers: { 'content-type': PROTO, 'content-encoding': 'gzip' },
    });
    expect(reply.status).toBe(200);
    expect(batches[0][1].durationMs).toBe(1.234567);
  });

  it('answers an empty body with success and no batch', async () => {
    const reply = await sendProto(Buffer.alloc(0));
    expect(reply.status).toBe(200);
    expect(batches).toHaveLength(0);
  });

  it('answers 400 with a Status for garbage, truncated protobuf, bad JSON and bad gzip, and keeps serving', async () => {
    const valid = protobufBody(stableSpans());
    const bad: Send[] = [
      { headers: { 'content-type': PROTO }, body: Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]) },
      { headers: { 'content-type': PROTO }, body: valid.subarray(0, valid.length - 5) },
      { headers: { 'content-type': 'application/json' }, body: '{"resourceSpans": [' },
      { headers: { 'content-type': PROTO, 'content-encoding': 'gzip' }, body: Buffer.from('not gzip') },
    ];
    for (const req of bad) {
      const reply = await send(req);
      expect(reply.status).toBe(400);
      const status = statusOf(reply);
      expect(status.code).toBe(3);
      expect(status.message.length).toBeGreaterThan(0);
      await expectStillServing();
    }
    expect(receiver.stats.decodeErrors).toBe(4);
    expect(logged.filter((l) => l.startsWith('warn OTLP request refused'))).toHaveLength(4);
  });

  it('answers 413 from Content-Length before reading the body, and keeps serving', async () => {
    const reply = await send({
      headers: { 'content-type': PROTO, 'content-length': MAX_BODY + 1 },
      headersOnly: true,
    });
    expect(reply.status).toBe(413);
    expect(reply.headers.connection).toBe('close');
    expect(statusOf(reply).message).toContain('maxBodyBytes');
    expect(receiver.stats.tooLarge).toBe(1);
    expect(receiver.stats.bytesReceived).toBe(0);
    await expectStillServing();
  });

  it('answers 413 when a chunked body passes the cap while streaming, and keeps serving', async () => {
    const reply = await send({
      headers: { 'content-type': PROTO, 'transfer-encoding': 'chunked' },
      body: Buffer.alloc(MAX_BODY * 4, 1),
    });
    expect(reply.status).toBe(413);
    expect(receiver.stats.tooLarge).toBe(1);
    expect(batches).toHaveLength(0);
    await expectStillServing();
  });

  it('answers 413 when a gzip body inflates past the cap (a gzip bomb)', async () => {
    const bomb = gzipSync(Buffer.alloc(MAX_BODY * 64));
    expect(bomb.length).toBeLessThan(MAX_BODY);
    const reply = await sendProto(bomb, { headers: { 'content-type': PROTO, 'content-encoding': 'gzip' } });
    expect(reply.status).toBe(413);
    expect(receiver.stats.tooLarge).toBe(1);
    await expectStillServing();
  });

  it('answers 415 for text/plain and for an unknown Content-Encoding', async () => {
    const plain = await send({ headers: { 'content-type': 'text/plain' }, body: 'hello' });
    expect(plain.status).toBe(415);
    expect(statusOf(plain).message).toContain('application/x-protobuf');
    const brotli = await sendProto(protobufBody(stableSpans()), {
      headers: { 'content-type': PROTO, 'content-encoding': 'br' },
    });
    expect(brotli.status).toBe(415);
    expect(receiver.stats.unsupportedMedia).toBe(2);
    expect(batches).toHaveLength(0);
    await expectStillServing();
  });

  it('answers 503 with Retry-After while overloaded, without decoding, and accepts again afterwards', async () => {
    overloaded = true;
    const reply = await sendProto(protobufBody(stableSpans()));
    expect(reply.status).toBe(503);
    expect(reply.headers['retry-after']).toBe('7');
    expect(statusOf(reply).code).toBe(14);
    expect(batches).toHaveLength(0);
    expect(receiver.stats.overloaded).toBe(1);
    overloaded = false;
    await expectStillServing();
  });

  it('refuses a body read while the pipeline went over its cap, instead of queueing it past the cap', async () => {
    const body = protobufBody(stableSpans());
    const answer = new Promise<Reply>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, path: '/v1/traces', method: 'POST', agent: false },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
          );
        },
      );
      req.on('error', reject);
      req.setHeader('content-type', PROTO);
      req.setHeader('content-length', body.length);
      req.write(body.subarray(0, 10));
      // Other bodies fill the pipeline while this one is still arriving.
      setTimeout(() => {
        overloaded = true;
        req.end(body.subarray(10));
      }, 50);
    });
    const reply = await answer;
    expect(reply.status).toBe(503);
    expect(reply.headers['retry-after']).toBe('7');
    expect(batches).toHaveLength(0);
    overloaded = false;
    await expectStillServing();
  });

  it('refuses a body with 503 while others being read hold its byte budget (4 × maxBodyBytes)', async () => {
    // Four uploads of a whole maxBodyBytes each, their bodies still to come.
    const held = Array.from({ length: 4 }, () => {
      const req = request({ host: '127.0.0.1', port, path: '/v1/traces', method: 'POST', agent: false });
      req.on('error', () => undefined);
      req.setHeader('content-type', PROTO);
      req.setHeader('content-length', MAX_BODY);
      req.flushHeaders();
      return req;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const refused = await sendProto(protobufBody(stableSpans()));
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('7');
    for (const req of held) req.destroy();
    await new Promise((resolve) => setTimeout(resolve, 100));
    await expectStillServing();
  });

  it('answers 404 for another path and 405 for another method', async () => {
    const notFound = await sendProto(protobufBody(stableSpans()), { path: '/v1/metrics' });
    expect(notFound.status).toBe(404);
    const get = await send({ method: 'GET' });
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST');
    await expectStillServing();
  });

  it('answers 500 when the pipeline throws, counts the spans as refused and keeps serving', async () => {
    onSpansThrows = true;
    const reply = await sendProto(protobufBody(stableSpans()));
    expect(reply.status).toBe(500);
    expect(receiver.stats.spansRefused).toBe(3);
    onSpansThrows = false;
    await expectStillServing();
  });

  it('serves a good request after a bad one on the same keep-alive connection', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const sockets = new Set<unknown>();
      agent.on('free', (socket) => sockets.add(socket));
      const bad = await send({ headers: { 'content-type': PROTO }, body: Buffer.from([0x0a, 0x05]), agent });
      expect(bad.status).toBe(400);
      const unsupported = await send({ headers: { 'content-type': 'text/plain' }, body: 'x', agent });
      expect(unsupported.status).toBe(415);
      const good = await sendProto(protobufBody(stableSpans()), {
        agent,
        headers: { 'content-type': PROTO },
      });
      expect(good.status).toBe(200);
      expect(sockets.size).toBe(1);
    } finally {
      agent.destroy();
    }
  });

  it('receives spans from the OpenTelemetry OTLP/HTTP protobuf exporter', async () => {
    const exporter = new OTLPTraceExporter({ url: `http://127.0.0.1:${port}/v1/traces` });
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const span = provider.getTracer('e2e').startSpan('pg.query:SELECT', {
      attributes: { 'db.system.name': 'postgresql', 'db.query.text': 'SELECT 1' },
    });
    span.end();
    await provider.forceFlush();
    await provider.shutdown();
    expect(batches.flat().map((s) => s.attributes['db.query.text'])).toEqual(['SELECT 1']);
    expect(batches[0][0].spanId).toBe(span.spanContext().spanId);
  });
});

describe('OtlpHttpReceiver, metrics and logs', () => {
  interface Handed {
    body: Buffer;
    encoding: OtlpEncoding;
    items: number;
    signal: OtlpSignal;
  }

  /** Replaces the default receiver with one given `extra`. */
  async function restart(extra: Partial<ReceiverOptions>): Promise<void> {
    await receiver.shutdown();
    receiver = new OtlpHttpReceiver(options(extra));
    ({ port } = await receiver.start());
  }

  it('without forwarding, answers 404 saying why and what to do, counts them, and warns once per signal', async () => {
    const metrics = metricsBody(await sdkMetrics(), 'protobuf');
    const logs = logsBody(await sdkLogs(), 'json');
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; i < 5; i++) {
        const m = await sendProto(metrics, { path: '/v1/metrics', agent });
        const l = await send({
          path: '/v1/logs',
          headers: { 'content-type': 'application/json' },
          body: logs,
          agent,
        });
        for (const [reply, signal] of [
          [m, 'metrics'],
          [l, 'logs'],
        ] as const) {
          expect(reply.status).toBe(404);
          const status = statusOf(reply);
          expect(status.code).toBe(12); // UNIMPLEMENTED
          expect(status.message).toContain(
            `relays ${signal} only when forwarding, and forward.endpoint is not set`,
          );
          expect(status.message).toContain('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT at spanstat');
          expect(status.message).toContain(`OTEL_${signal.toUpperCase()}_EXPORTER=none`);
        }
      }
      // The connection the refusals came back on still takes traces.
      expect((await sendProto(protobufBody(stableSpans()), { agent })).status).toBe(200);
    } finally {
      agent.destroy();
    }
    expect(receiver.stats).toMatchObject({ metricsRefused: 5, logsRefused: 5, dataPointsAccepted: 0 });
    const warnings = logged.filter((l) => l.startsWith('warn '));
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain('OTLP metrics refused (logged once): spanstat reads OTLP traces only');
    expect(warnings[0]).toContain('"counted":"/healthz receiver.metricsRefused"');
    expect(warnings[1]).toContain('OTLP logs refused (logged once)');
    // Other paths are still plain 404s.
    expect((await sendProto(metrics, { path: '/v1/profiles' })).status).toBe(404);
    expect(receiver.stats.metricsRefused).toBe(5);
  });

  it('when forwarding, hands metrics and logs over as received (protobuf, JSON, gzip), counted in data points and log records', async () => {
    const handed: Handed[] = [];
    await restart({
      onAccepted: (body, encoding, items, signal) => {
        handed.push({ body, encoding, items, signal });
        return true;
      },
    });
    const resource = await sdkMetrics();
    const records = await sdkLogs();
    const replies = [
      await sendProto(metricsBody(resource, 'protobuf'), { path: '/v1/metrics' }),
      await send({
        path: '/v1/metrics?x=1',
        headers: { 'content-type': 'application/json' },
        body: metricsBody(resource, 'json'),
      }),
      await sendProto(gzipSync(logsBody(records, 'protobuf')), {
        path: '/v1/logs',
        headers: { 'content-type': PROTO, 'content-encoding': 'gzip' },
      }),
      // Nothing to relay: answered, not handed over.
      await sendProto(Buffer.alloc(0), { path: '/v1/logs' }),
    ];
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(replies[0].body.length).toBe(0); // an empty ExportMetricsServiceResponse
    expect(replies[1].body.toString()).toBe('{}');
    expect(handed).toEqual([
      {
        body: metricsBody(resource, 'protobuf'),
        encoding: 'protobuf',
        items: SDK_METRIC_POINTS,
        signal: 'metrics',
      },
      { body: metricsBody(resource, 'json'), encoding: 'json', items: SDK_METRIC_POINTS, signal: 'metrics' },
      { body: logsBody(records, 'protobuf'), encoding: 'protobuf', items: SDK_LOG_RECORDS, signal: 'logs' },
    ]);
    expect(batches).toHaveLength(0);
    expect(receiver.stats).toMatchObject({
      dataPointsAccepted: 2 * SDK_METRIC_POINTS,
      logRecordsAccepted: SDK_LOG_RECORDS,
      spansAccepted: 0,
      metricsRefused: 0,
    });
  });

  it('answers a malformed metrics body 400, a full forward queue 503 + Retry-After, and over its cap 503', async () => {
    let full = false;
    await restart({ onAccepted: () => !full });
    const metrics = metricsBody(await sdkMetrics(), 'protobuf');
    const bad = await sendProto(metrics.subarray(0, metrics.length - 3), { path: '/v1/metrics' });
    expect(bad.status).toBe(400);
    expect(statusOf(bad).message).toMatch(/invalid protobuf near byte \d+/);
    full = true;
    const refused = await sendProto(metrics, { path: '/v1/metrics' });
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('7');
    expect(statusOf(refused).message).toContain('forward queue is full');
    full = false;
    overloaded = true;
    expect((await sendProto(metrics, { path: '/v1/metrics' })).status).toBe(503);
    overloaded = false;
    expect((await sendProto(metrics, { path: '/v1/metrics' })).status).toBe(200);
    expect(receiver.stats).toMatchObject({
      decodeErrors: 1,
      overloaded: 2,
      dataPointsAccepted: SDK_METRIC_POINTS,
    });
  });

  it('refuses a signal the forwarder has no URL for, naming forward.endpoint', async () => {
    await restart({
      onAccepted: () => true,
      refusal: (signal) => (signal === 'logs' ? 'no-url' : undefined),
    });
    const reply = await sendProto(logsBody(await sdkLogs(), 'protobuf'), { path: '/v1/logs' });
    expect(reply.status).toBe(404);
    expect(statusOf(reply).message).toContain("forward.endpoint's path does not end in /v1/traces");
    expect(
      (await sendProto(metricsBody(await sdkMetrics(), 'protobuf'), { path: '/v1/metrics' })).status,
    ).toBe(200);
    expect(receiver.stats).toMatchObject({ logsRefused: 1, metricsRefused: 0 });
  });
});

describe('OtlpHttpReceiver logging', () => {
  it('never logs SQL or other body content, even when the pipeline error quotes it', async () => {
    const secret = "SELECT * FROM users WHERE email = 'alice@example.com'";
    await send({ headers: { 'content-type': 'application/json' }, body: `{"resourceSpans": ["${secret}"` });
    await send({ headers: { 'content-type': 'application/json' }, body: `{"resourceSpans": ["${secret}"]}` });
    onSpansThrows = true;
    const spans = stableSpans();
    (spans[1].attributes as Record<string, unknown>)['db.query.text'] = secret;
    const reply = await sendProto(protobufBody(spans));
    expect(reply.status).toBe(500);
    expect(logged.length).toBeGreaterThanOrEqual(3);
    for (const line of logged) expect(line).not.toContain('alice');
    expect(statusOf(reply).message).not.toContain('alice');
  });

  it('logs overload refusals at debug, not warn', async () => {
    overloaded = true;
    await sendProto(protobufBody(stableSpans()));
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatch(/^debug OTLP request refused .*"status":503/);
  });
});

describe('OtlpHttpReceiver lifecycle', () => {
  it('reports a taken port as SPANSTAT_ERR_LISTEN and can start once the port is free', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const taken = (blocker.address() as { port: number }).port;
    const second = new OtlpHttpReceiver(options({ port: taken }));
    const err = await second.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isSpanstatError(err, 'SPANSTAT_ERR_LISTEN')).toBe(true);
    expect((err as Error).message).toContain('EADDRINUSE');
    await new Promise<void>((r) => blocker.close(() => r()));
    const addr = await second.start();
    expect(addr.port).toBe(taken);
    await second.shutdown();
  });

  it('shuts down safely before start and twice', async () => {
    const idle = new OtlpHttpReceiver(options());
    await idle.shutdown();
    await idle.shutdown();
    await receiver.shutdown();
    await receiver.shutdown();
    await expect(send({ headers: { 'content-type': PROTO }, body: '' })).rejects.toThrow();
  });
});
