import {
  type Attributes,
  context,
  type Link,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  trace,
} from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { LeanTracerProvider, shareAttributes } from '../../src/preload/lean-tracer';
import { encodeTraceRequest } from '../../src/preload/otlp-encode';
import { decodeTracesProtobuf } from '../../src/receiver/decode-protobuf';

/** Spans from real SDK tracers, collected as they end. */
function collect(build: (providers: BasicTracerProvider[]) => void): ReadableSpan[] {
  const ended: ReadableSpan[] = [];
  const processor: SpanProcessor = {
    onStart: () => {},
    onEnd: (span) => ended.push(span),
    forceFlush: async () => {},
    shutdown: async () => {},
  };
  const providers = [
    new BasicTracerProvider({
      resource: resourceFromAttributes({
        'service.name': 'shop-api',
        'process.pid': 4242,
        'host.arch': 'x64',
      }),
      spanProcessors: [processor],
    }),
    new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'другой-сервис', 'deployment.id': 'é'.repeat(70) }),
      spanProcessors: [processor],
    }),
  ];
  build(providers);
  return ended;
}

const awkwardAttributes: Attributes = {
  'db.query.text': 'SELECT $1::int AS id',
  'short.unicode': 'naïve ☃',
  'long.ascii': 'x'.repeat(300),
  'long.unicode': `${'é'.repeat(70)}😀`,
  'very.long': 'y'.repeat(20_000),
  'bool.true': true,
  'bool.false': false,
  'int.small': 7,
  'int.zero': 0,
  'int.negative': -42,
  'int.large': 2 ** 40,
  'int.beyond.safe': 2 ** 60,
  'double.value': 1.5,
  'double.huge': 2 ** 70,
  'array.strings': ['a', 'ü', ''],
  'array.numbers': [1, -2, 3.25],
  'array.bools': [true, false],
};

describe('the preload OTLP protobuf encoder', () => {
  it('writes exactly the bytes of the official serializer for everyday spans', () => {
    const spans = collect(([provider]) => {
      const tracer = provider.getTracer('@opentelemetry/instrumentation-pg', '0.76.0');
      const server = provider
        .getTracer('@opentelemetry/instrumentation-http', '0.223.0')
        .startSpan('GET /api/users/:id', {
          kind: SpanKind.SERVER,
          attributes: {
            'http.request.method': 'GET',
            'http.route': '/api/users/:id',
            'http.response.status_code': 200,
          },
        });
      const ctx = trace.setSpan(context.active(), server);
      for (let i = 0; i < 50; i++) {
        tracer
          .startSpan(
            'pg.query:SELECT shop',
            { kind: SpanKind.CLIENT, attributes: { 'db.query.text': `SELECT ${i}` } },
            ctx,
          )
          .end();
      }
      server.end();
    });
    expect(Buffer.from(encodeTraceRequest(spans))).toEqual(
      Buffer.from(ProtobufTraceSerializer.serializeRequest(spans) as Uint8Array),
    );
  });

  it('writes exactly the bytes of the official serializer for unusual spans', () => {
    const spans = collect(([first, second]) => {
      const scoped = first.getTracer('scope-with-schema', '1.2.3', {
        schemaUrl: 'https://opentelemetry.io/schemas/1.30.0',
      });
      const remoteParent = trace.setSpanContext(context.active(), {
        traceId: '0af7651916cd43dd8448eb211c80319c',
        spanId: 'b7ad6b7169203331',
        traceFlags: TraceFlags.SAMPLED,
        isRemote: true,
      });
      const failing = scoped.startSpan(
        'failing',
        { kind: SpanKind.INTERNAL, attributes: awkwardAttributes },
        remoteParent,
      );
      failing.recordException(Object.assign(new Error('relation "users" does not exist'), { code: '42P01' }));
      failing.addEvent('checkpoint', { step: 3 });
      failing.setStatus({ code: SpanStatusCode.ERROR, message: 'relation "users" does not exist' });
      failing.end();
      const link: Link = {
        context: { traceId: 'ABCDEF0123456789ABCDEF0123456789', spanId: '0123456789ABCDEF', traceFlags: 0 },
        attributes: { reason: 'batch' },
      };
      second
        .getTracer('no-version')
        .startSpan('linked', { kind: SpanKind.CONSUMER, links: [link] })
        .end();
      scoped.startSpan('producer', { kind: SpanKind.PRODUCER }).end();
      for (let i = 0; i < 600; i++)
        first.getTracer('bulk').startSpan(`bulk ${i}`, { attributes: { i } }).end();
    });
    expect(Buffer.from(encodeTraceRequest(spans))).toEqual(
      Buffer.from(ProtobufTraceSerializer.serializeRequest(spans) as Uint8Array),
    );
  });

  it("writes the official serializer's bytes for the preload's own spans (times kept as epoch ms)", () => {
    const spans: ReadableSpan[] = [];
    const provider = new LeanTracerProvider(resourceFromAttributes({ 'service.name': 'lean' }), {
      onEnd: (span) => spans.push(span),
    });
    const tracer = provider.getTracer('lean-scope', '1.0.0');
    const server = tracer.startSpan('GET', { kind: SpanKind.SERVER, attributes: { 'url.path': '/q/1' } });
    const ctx = trace.setSpan(context.active(), server);
    for (let i = 0; i < 50; i++) {
      tracer
        .startSpan('get', { kind: SpanKind.CLIENT, attributes: { 'db.query.text': `get k:${i}` } }, ctx)
        .end();
    }
    // Explicit times of every kind: HrTime, epoch ms, performance.now() ms, Date, and an end before the start.
    tracer.startSpan('hr', { startTime: [1_700_000_000, 999_999_999] }).end([1_700_000_001, 1]);
    tracer.startSpan('epoch', { startTime: 1_700_000_000_123.456 }).end(1_700_000_000_124.5);
    tracer.startSpan('perf', { startTime: 5.25 }).end(new Date(Date.now() + 1));
    tracer.startSpan('skewed', { startTime: 1_700_000_000_500 }).end(1_700_000_000_400);
    // A parent from another process (an incoming traceparent) with a trace state.
    const remote = trace.setSpanContext(context.active(), {
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
      traceState: new TraceState('vendor=x'),
    });
    const continued = tracer.startSpan('continued', { kind: SpanKind.SERVER }, remote);
    expect(continued.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    tracer.startSpan('grandchild', {}, trace.setSpan(remote, continued)).end();
    continued.end();
    server.end();
    expect(spans).toHaveLength(57);
    const grandchild = spans.find((s) => s.name === 'grandchild') as ReadableSpan;
    expect(grandchild.parentSpanContext?.spanId).toBe(continued.spanContext().spanId);
    expect(grandchild.spanContext().traceState?.serialize()).toBe('vendor=x');
    expect(Buffer.from(encodeTraceRequest(spans))).toEqual(
      Buffer.from(ProtobufTraceSerializer.serializeRequest(spans) as Uint8Array),
    );
    const skewed = spans.find((s) => s.name === 'skewed') as ReadableSpan;
    expect(skewed.duration).toEqual([0, 0]);
    expect(skewed.endTime).toEqual(skewed.startTime);
  });

  it("writes the official serializer's bytes for lean spans with shared attributes and ids copied as bytes", () => {
    const spans: ReadableSpan[] = [];
    const provider = new LeanTracerProvider(resourceFromAttributes({ 'service.name': 'lean' }), {
      onEnd: (span) => spans.push(span),
    });
    const tracer = provider.getTracer('lean-scope', '1.0.0');
    const redis = shareAttributes({
      'db.system.name': 'redis',
      'server.address': '127.0.0.1',
      'server.port': 6379,
    });
    const pg = shareAttributes({
      'db.system.name': 'postgresql',
      'db.namespace': 'shop',
      ratio: 0.5,
      on: true,
    });
    // 700 requests open at once: the random-id pool (256 spans a fill) is replaced several times while
    // spans that point into the old ones wait to end.
    const servers = Array.from({ length: 700 }, (_, i) =>
      tracer.startSpan('GET', { kind: SpanKind.SERVER, attributes: { 'url.path': `/q/${i}` } }),
    );
    servers.forEach((server, i) => {
      const ctx = trace.setSpan(context.active(), server);
      const get = tracer.startSpan('get', { kind: SpanKind.CLIENT, attributes: redis }, ctx);
      get.setAttribute('db.query.text', `get k:${i}`);
      get.setAttribute('spanstat.cache.hits', i % 2);
      const query = tracer.startSpan('pg.query:SELECT shop', { kind: SpanKind.CLIENT, attributes: pg }, ctx);
      query.setAttribute('db.query.text', 'SELECT 1');
      if (i % 7 === 0) query.setAttribute('db.namespace', 'other'); // a shared key changed: copied
      query.end();
      get.end();
    });
    for (const server of servers.reverse()) server.end();
    const remote = trace.setSpanContext(context.active(), {
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    });
    tracer.startSpan('remote child', { attributes: redis }, remote).end();
    expect(spans).toHaveLength(2101);
    expect(Buffer.from(encodeTraceRequest(spans))).toEqual(
      Buffer.from(ProtobufTraceSerializer.serializeRequest(spans) as Uint8Array),
    );
  });

  it('reuses cached resource bytes across batches without changing the output', () => {
    const spans = collect(([provider]) => {
      for (let i = 0; i < 3; i++) provider.getTracer('t').startSpan(`s${i}`).end();
    });
    const first = Buffer.from(encodeTraceRequest(spans));
    const again = Buffer.from(encodeTraceRequest(spans));
    expect(again).toEqual(first);
    expect(decodeTracesProtobuf(again).map((s) => s.name)).toEqual(['s0', 's1', 's2']);
  });

  it('encodes an empty batch as an empty request', () => {
    expect(encodeTraceRequest([])).toHaveLength(0);
  });
});
