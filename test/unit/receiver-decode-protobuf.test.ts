import { context, trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { Writer } from 'protobufjs/minimal';
import { describe, expect, it } from 'vitest';
import { isSpanstatError } from '../../src/errors';
import { READ_ATTRIBUTE_KEYS } from '../../src/model/attributes';
import type { AttributeValue, DecodedSpan } from '../../src/model/span';
import { countTraceSpans } from '../../src/receiver/check-protobuf';
import { decodeTracesProtobuf, forEachTraceSpan } from '../../src/receiver/decode-protobuf';
import { READ_ATTRIBUTES } from '../../src/receiver/protobuf-batch';
import { batchMix } from '../fixtures/otlp/batch-mix';
import {
  DB_SPAN_ID,
  oldSpans,
  protobufBody,
  REDIS_SPAN_ID,
  SERVER_SPAN_ID,
  stableSpans,
  TRACE_ID,
} from '../fixtures/otlp/spans';
import { exportTraceServiceRequestType } from '../fixtures/otlp/trace-proto';

/** The decoder rejects the body, and so does the receiver's receipt-time check (check-protobuf.ts). */
function expectDecodeError(body: Uint8Array): void {
  for (const walk of [decodeTracesProtobuf, countTraceSpans]) {
    let thrown: unknown;
    try {
      walk(body);
    } catch (err) {
      thrown = err;
    }
    expect(isSpanstatError(thrown, 'SPANSTAT_ERR_OTLP_DECODE')).toBe(true);
  }
}

/** Hand-built bodies for shapes the OTel encoder never produces. */
function message(build: (w: Writer) => void): Uint8Array {
  const w = Writer.create();
  build(w);
  return w.finish();
}

const TRACE = Buffer.from(TRACE_ID, 'hex');
const SPAN = Buffer.from(SERVER_SPAN_ID, 'hex');

/** ExportTraceServiceRequest with one ResourceSpans/ScopeSpans around `span` (already-encoded Span fields). */
function requestWithSpan(span: (w: Writer) => void, serviceName = 'svc'): Uint8Array {
  return message((w) => {
    w.uint32(10).fork(); // resource_spans
    w.uint32(10).fork(); // resource
    w.uint32(10)
      .fork()
      .uint32(10)
      .string('service.name')
      .uint32(18)
      .fork()
      .uint32(10)
      .string(serviceName)
      .ldelim()
      .ldelim();
    w.ldelim();
    w.uint32(18).fork(); // scope_spans
    w.uint32(18).fork(); // spans
    span(w);
    w.ldelim();
    w.ldelim();
    w.ldelim();
  });
}

function validSpanFields(w: Writer): void {
  w.uint32(10).bytes(TRACE);
  w.uint32(18).bytes(SPAN);
  w.uint32(42).string('work');
}

function attribute(w: Writer, key: string, value: (w: Writer) => void): void {
  w.uint32(74).fork().uint32(10).string(key).uint32(18).fork();
  value(w);
  w.ldelim().ldelim();
}

describe('decodeTracesProtobuf', () => {
  it('decodes spans with the stable attribute names from the OTel JS encoder', () => {
    const spans = decodeTracesProtobuf(protobufBody(stableSpans()));
    expect(spans).toHaveLength(3);
    const [server, db, redis] = spans;
    expect(server).toMatchObject({
      service: 'shop-api',
      traceId: TRACE_ID,
      spanId: SERVER_SPAN_ID,
      parentSpanId: '',
      name: 'GET /users/:id',
      kind: 2,
      statusCode: 0,
      attributes: {
        'http.request.method': 'GET',
        'http.route': '/users/:id',
        'url.path': '/users/42',
        'http.response.status_code': 200,
        'server.port': 8080,
      },
    });
    expect(db).toMatchObject({
      spanId: DB_SPAN_ID,
      parentSpanId: SERVER_SPAN_ID,
      name: 'pg.query:SELECT shop',
      kind: 3,
      attributes: {
        'db.system.name': 'postgresql',
        'db.namespace': 'shop',
        'db.query.text': 'SELECT id, name FROM users WHERE id = $1',
        'server.address': '127.0.0.1',
        'server.port': 5432,
      },
    });
    expect(redis.spanId).toBe(REDIS_SPAN_ID);
    expect(redis.attributes).toEqual({
      'db.system.name': 'redis',
      'db.operation.name': 'get',
      'db.query.text': 'get user:42',
      'spanstat.cache.hits': 1,
      'spanstat.cache.misses': 0,
      'net.flags': 'a,b,c',
      'sample.ratio': 0.25,
      'cache.enabled': true,
    });
  });

  it('decodes spans with the old attribute names and the error status', () => {
    const [server, db] = decodeTracesProtobuf(protobufBody(oldSpans()));
    expect(server).toMatchObject({
      service: 'legacy-api',
      statusCode: 2,
      attributes: { 'http.method': 'GET', 'http.target': '/orders/7?x=1', 'http.status_code': 500 },
    });
    expect(db.attributes).toEqual({
      'db.system': 'postgresql',
      'db.statement': 'SELECT * FROM orders WHERE id = $1',
      'net.peer.name': 'db.internal',
    });
  });

  it('tells a Redis Cluster redirection by its status message, and keeps no message', () => {
    const withStatus = (text: string, code = 2) =>
      requestWithSpan((w) => {
        validSpanFields(w);
        w.uint32(122).fork().uint32(18).string(text).uint32(24).int32(code).ldelim();
      });
    for (const [text, redirected] of [
      ['MOVED 3999 127.0.0.1:7001', true], // another SDK: the reply as the message
      ['ASK 3999 127.0.0.1:7001', true],
      ['TRYAGAIN Multiple keys request during rehashing of slot', true],
      ['CLUSTERDOWN The cluster is down', true],
      ['ErrorReply MOVED', true], // the preload: class and label (end-span.ts)
      ['ReplyError ASK', true],
      ['MOVEDX 1', false],
      ['WRONGTYPE Operation against a key holding the wrong kind of value', false],
      ['ReplyError WRONGTYPE', false],
      [`${'x'.repeat(200)} MOVED 1 a:1`, false],
      ['', false],
    ] as const) {
      const [span] = decodeTracesProtobuf(withStatus(text));
      expect(span.statusCode).toBe(2);
      expect(span.redirected === true).toBe(redirected);
      expect(JSON.stringify(span)).not.toContain(text || 'never');
    }
    // A message of another wire type is malformed.
    expectDecodeError(
      requestWithSpan((w) => {
        validSpanFields(w);
        w.uint32(122).fork().uint32(16).int32(7).ldelim();
      }),
    );
  });

  it('keeps every nanosecond of a duration whose timestamps exceed 2^53', () => {
    const [server, db, redis] = decodeTracesProtobuf(protobufBody(stableSpans()));
    expect(db.durationMs).toBe(1.234567);
    expect(server.durationMs).toBe(12.345678);
    expect(redis.durationMs).toBe(0.087001);
    const [, oldDb] = decodeTracesProtobuf(protobufBody(oldSpans()));
    expect(oldDb.durationMs).toBe(0.000999);
    expect(server.startMs).toBe(1_700_000_000_123 + 0.456789);
  });

  it('accepts a plain Uint8Array as well as a Buffer', () => {
    const buf = protobufBody(stableSpans());
    const copy = new Uint8Array(buf.length);
    copy.set(buf);
    expect(decodeTracesProtobuf(copy)).toEqual(decodeTracesProtobuf(buf));
  });

  it('agrees with a protobufjs full decode on a realistic 512-span batch', () => {
    const body = protobufBody(batchMix(512, 7));
    const ours = decodeTracesProtobuf(body);
    const reference = referenceDecode(body);
    expect(ours).toHaveLength(512);
    expect(ours).toEqual(reference);
  });

  it('with the read keys, keeps exactly the attributes the pipeline reads and skips the rest unread', () => {
    const body = protobufBody(batchMix(512, 7));
    const full = decodeTracesProtobuf(body);
    const read: DecodedSpan[] = [];
    forEachTraceSpan(body, (span) => read.push(span), READ_ATTRIBUTES);
    const onlyRead = (span: DecodedSpan) =>
      Object.fromEntries(Object.entries(span.attributes).filter(([key]) => READ_ATTRIBUTE_KEYS.has(key)));
    expect(read.map((s) => ({ ...s, attributes: {} }))).toEqual(full.map((s) => ({ ...s, attributes: {} })));
    expect(read.map((s) => s.attributes)).toEqual(full.map(onlyRead));
    // The mix carries unread attributes (server.port …), so the comparison above is not vacuous.
    expect(full.some((s) => Object.keys(s.attributes).some((key) => !READ_ATTRIBUTE_KEYS.has(key)))).toBe(
      true,
    );
    // A value given before its key is read, then dropped when the key is not kept.
    const late = requestWithSpan((w) => {
      validSpanFields(w);
      w.uint32(74)
        .fork()
        .uint32(18)
        .fork()
        .uint32(10)
        .string('x')
        .ldelim()
        .uint32(10)
        .string('peer.service')
        .ldelim();
      w.uint32(74)
        .fork()
        .uint32(18)
        .fork()
        .uint32(10)
        .string('GET')
        .ldelim()
        .uint32(10)
        .string('http.request.method')
        .ldelim();
    });
    const spans: DecodedSpan[] = [];
    forEachTraceSpan(late, (span) => spans.push(span), READ_ATTRIBUTES);
    expect(spans[0].attributes).toEqual({ 'http.request.method': 'GET' });
  });

  it('decodes spans recorded by the OpenTelemetry SDK itself', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const tracer = provider.getTracer('receiver-test');
    const parent = tracer.startSpan('parent');
    const attributes = { 'db.system': 'redis', 'db.statement': 'get k' };
    tracer.startSpan('child', { attributes }, trace.setSpan(context.active(), parent)).end();
    parent.end();
    await provider.forceFlush();
    const recorded = exporter.getFinishedSpans();
    const decoded = decodeTracesProtobuf(protobufBody(recorded));
    expect(decoded.map((s) => s.name).sort()).toEqual(['child', 'parent']);
    const child = decoded.find((s) => s.name === 'child') as DecodedSpan;
    const root = decoded.find((s) => s.name === 'parent') as DecodedSpan;
    expect(child.parentSpanId).toBe(root.spanId);
    expect(child.traceId).toBe(root.traceId);
    expect(root.spanId).toBe(parent.spanContext().spanId);
    expect(child.attributes).toEqual({ 'db.system': 'redis', 'db.statement': 'get k' });
    expect(child.service).toMatch(/^unknown_service/);
    await provider.shutdown();
  });

  it('uses unknown_service when the resource has no service.name', () => {
    const body = message((w) => {
      w.uint32(10).fork().uint32(18).fork().uint32(18).fork();
      validSpanFields(w);
      w.ldelim().ldelim().ldelim();
    });
    expect(decodeTracesProtobuf(body)[0].service).toBe('unknown_service');
  });

  it('applies the resource to spans that came before it in the message', () => {
    const body = message((w) => {
      w.uint32(10).fork();
      w.uint32(18).fork().uint32(18).fork();
      validSpanFields(w);
      w.ldelim().ldelim();
      w.uint32(10).fork();
      w.uint32(10)
        .fork()
        .uint32(10)
        .string('service.name')
        .uint32(18)
        .fork()
        .uint32(10)
        .string('late')
        .ldelim()
        .ldelim();
      w.ldelim();
      w.ldelim();
    });
    expect(decodeTracesProtobuf(body)[0].service).toBe('late');
  });

  it('skips unknown fields, events, links and trace state', () => {
    const body = requestWithSpan((w) => {
      validSpanFields(w);
      w.uint32(26).string('vendor=1'); // trace_state
      w.uint32(90).fork().uint32(18).string('event').ldelim(); // events
      w.uint32(106).fork().uint32(10).bytes(TRACE).ldelim(); // links
      w.uint32(133).fixed32(0x101); // flags = 16, fixed32
      w.uint32((99 << 3) | 0).uint32(5); // unknown varint
      w.uint32((100 << 3) | 2).string('unknown bytes');
      w.uint32((101 << 3) | 1).fixed64(1);
      w.uint32((102 << 3) | 5).fixed32(1);
    });
    const [span] = decodeTracesProtobuf(body);
    expect(span).toMatchObject({ service: 'svc', traceId: TRACE_ID, spanId: SERVER_SPAN_ID, name: 'work' });
  });

  it('flattens int64, double, bool and arrays, and drops bytes, kvlists and nested arrays', () => {
    const body = requestWithSpan((w) => {
      validSpanFields(w);
      attribute(w, 'neg', (v) => v.uint32(24).int64(-42));
      attribute(w, 'big', (v) => v.uint32(24).int64(2 ** 40 + 3));
      attribute(w, 'five-byte', (v) => v.uint32(24).int64(2 ** 33));
      attribute(w, 'pi', (v) => v.uint32(33).double(3.25));
      attribute(w, 'flag', (v) => v.uint32(16).bool(false));
      attribute(w, 'bytes', (v) => v.uint32(58).bytes(Buffer.from([1, 2])));
      attribute(w, 'kv', (v) => v.uint32(50).fork().ldelim());
      attribute(w, 'mixed', (v) => {
        v.uint32(42).fork();
        v.uint32(10).fork().uint32(10).string('a').ldelim();
        v.uint32(10).fork().uint32(24).int64(7).ldelim();
        v.uint32(10).fork().uint32(42).fork().ldelim().ldelim(); // nested array: dropped
        v.uint32(10).fork().uint32(16).bool(true).ldelim();
        v.ldelim();
      });
      attribute(w, 'empty', () => undefined);
    });
    const attrs = decodeTracesProtobuf(body)[0].attributes;
    const expected: Record<string, AttributeValue> = {
      neg: -42,
      big: 2 ** 40 + 3,
      'five-byte': 2 ** 33,
      pi: 3.25,
      flag: false,
      mixed: 'a,7,true',
    };
    expect(attrs).toEqual(expected);
  });

  it('decodes an empty request to no spans', () => {
    expect(decodeTracesProtobuf(new Uint8Array(0))).toEqual([]);
  });

  it('counts a span that never ended as zero long rather than negative', () => {
    const body = requestWithSpan((w) => {
      validSpanFields(w);
      w.uint32(57).fixed64(1_000_000);
    });
    expect(decodeTracesProtobuf(body)[0].durationMs).toBe(0);
  });

  it('rejects ids of the wrong length', () => {
    expectDecodeError(
      requestWithSpan((w) => w.uint32(10).bytes(TRACE.subarray(0, 15)).uint32(18).bytes(SPAN)),
    );
    expectDecodeError(requestWithSpan((w) => w.uint32(10).bytes(TRACE).uint32(18).bytes(Buffer.alloc(9))));
    expectDecodeError(requestWithSpan((w) => validSpanFields(w.uint32(34).bytes(Buffer.alloc(4)))));
    expectDecodeError(requestWithSpan((w) => w.uint32(18).bytes(SPAN)));
    const root = requestWithSpan((w) => validSpanFields(w.uint32(34).bytes(Buffer.alloc(0))));
    expect(decodeTracesProtobuf(root)[0].parentSpanId).toBe('');
  });

  it('rejects a known field sent with the wrong wire type', () => {
    expectDecodeError(requestWithSpan((w) => validSpanFields(w.uint32(8).uint32(1)))); // trace_id as varint
    expectDecodeError(requestWithSpan((w) => validSpanFields(w.uint32(56).uint32(1)))); // start as varint
    expectDecodeError(message((w) => w.uint32(8).uint32(1))); // resource_spans as varint
  });

  it('rejects a length that runs past the enclosing message', () => {
    const body = Buffer.from(requestWithSpan(validSpanFields));
    // Inflate the outer resource_spans length by one: it now claims a byte that is not there.
    body[1] += 1;
    expectDecodeError(body);
    // A string inside a span claiming more than the span holds.
    expectDecodeError(requestWithSpan((w) => validSpanFields(w.uint32(42).uint32(200))));
  });

  it('rejects every truncation inside a span and never throws anything else', () => {
    const body = protobufBody(stableSpans());
    let errors = 0;
    for (let len = 0; len < body.length; len++) {
      try {
        decodeTracesProtobuf(body.subarray(0, len));
      } catch (err) {
        expect(isSpanstatError(err, 'SPANSTAT_ERR_OTLP_DECODE')).toBe(true);
        errors++;
      }
    }
    // Only cuts that fall exactly between top-level messages leave a valid body.
    expect(errors).toBeGreaterThan(body.length - 3);
  });

  it('survives random garbage and random byte flips with a decode error or a result', () => {
    let seed = 12345;
    const rand = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 4294967296;
    };
    const valid = protobufBody(stableSpans());
    for (let i = 0; i < 3000; i++) {
      let body: Buffer;
      if (i % 2 === 0) {
        body = Buffer.alloc(1 + Math.floor(rand() * 200));
        for (let j = 0; j < body.length; j++) body[j] = Math.floor(rand() * 256);
      } else {
        body = Buffer.from(valid);
        for (let k = 0; k < 3; k++) body[Math.floor(rand() * body.length)] = Math.floor(rand() * 256);
      }
      try {
        const spans = decodeTracesProtobuf(body);
        for (const s of spans) expect(s.traceId).toMatch(/^[0-9a-f]{32}$/);
      } catch (err) {
        expect(isSpanstatError(err, 'SPANSTAT_ERR_OTLP_DECODE')).toBe(true);
      }
    }
  });

  it('rejects deeply nested groups without overflowing the stack', () => {
    const depth = 100_000;
    const body = Buffer.alloc(depth);
    body.fill((1 << 3) | 3, 0, depth); // start-group tags for field 1, never closed
    body[0] = (9 << 3) | 3;
    expectDecodeError(body);
  });

  it('never echoes body content in its error messages', () => {
    const body = requestWithSpan((w) => {
      w.uint32(42).string("SELECT * FROM users WHERE email = 'alice@example.com'");
      w.uint32(10).bytes(TRACE.subarray(0, 3));
    });
    try {
      decodeTracesProtobuf(body);
      expect.unreachable();
    } catch (err) {
      expect(String((err as Error).message)).not.toContain('alice');
    }
  });
});

/** DecodedSpan[] built from protobufjs's full decode, as an independent reference. */
function referenceDecode(body: Uint8Array): DecodedSpan[] {
  // biome-ignore lint/suspicious/noExplicitAny: reflected protobufjs messages are untyped
  const msg = exportTraceServiceRequestType().decode(body) as any;
  const out: DecodedSpan[] = [];
  for (const rs of msg.resourceSpans) {
    let service = 'unknown_service';
    for (const kv of rs.resource?.attributes ?? []) {
      if (kv.key === 'service.name') service = kv.value.stringValue;
    }
    for (const ss of rs.scopeSpans) {
      for (const s of ss.spans) {
        const start = BigInt(s.startTimeUnixNano.toString());
        const end = BigInt(s.endTimeUnixNano.toString());
        const attributes: Record<string, AttributeValue> = {};
        for (const kv of s.attributes) {
          const v = kv.value;
          if (v.stringValue !== undefined && v.stringValue !== '') attributes[kv.key] = v.stringValue;
          else if (v.intValue !== undefined && v.value === 'intValue')
            attributes[kv.key] = Number(v.intValue.toString());
          else if (v.value === 'doubleValue') attributes[kv.key] = v.doubleValue;
          else if (v.value === 'boolValue') attributes[kv.key] = v.boolValue;
          else if (v.value === 'stringValue') attributes[kv.key] = v.stringValue;
        }
        out.push({
          service,
          traceId: Buffer.from(s.traceId).toString('hex'),
          spanId: Buffer.from(s.spanId).toString('hex'),
          parentSpanId: Buffer.from(s.parentSpanId).toString('hex'),
          name: s.name,
          kind: s.kind,
          startMs: Number(start / 1_000_000n) + Number(start % 1_000_000n) / 1e6,
          durationMs: Number(end - start) / 1e6,
          statusCode: s.status?.code ?? 0,
          attributes,
        });
      }
    }
  }
  return out;
}
