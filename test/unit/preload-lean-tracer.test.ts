import { INVALID_SPAN_CONTEXT, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { pathOf } from '../../src/preload/http-server';
import {
  type LeanSpan,
  LeanTracerProvider,
  MAX_ATTRIBUTES,
  shareAttributes,
  toHrTime,
} from '../../src/preload/lean-tracer';
import { encodeTraceRequest } from '../../src/preload/otlp-encode';
import { decodeTracesProtobuf } from '../../src/receiver/decode-protobuf';

function setup() {
  const ended: ReadableSpan[] = [];
  const resource = resourceFromAttributes({ 'service.name': 'lean-test' });
  const provider = new LeanTracerProvider(resource, { onEnd: (span) => ended.push(span) });
  return { ended, tracer: provider.getTracer('scope-a', '1.2.3'), provider };
}

describe('the preload lean tracer', () => {
  it('gives a child the trace of its parent and hands ended spans to the processor once', () => {
    const { ended, tracer } = setup();
    const parent = tracer.startSpan('parent', { kind: SpanKind.SERVER });
    const child = tracer.startSpan('child', { kind: SpanKind.CLIENT }, trace.setSpan(ROOT_CONTEXT, parent));
    child.end();
    child.end();
    parent.end();
    expect(ended.map((s) => s.name)).toEqual(['child', 'parent']);
    const [c, p] = ended;
    expect(c.spanContext().traceId).toBe(p.spanContext().traceId);
    expect(c.parentSpanContext?.spanId).toBe(p.spanContext().spanId);
    expect(p.parentSpanContext).toBeUndefined();
    expect(p.spanContext().traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(p.spanContext().spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(c.spanContext().spanId).not.toBe(p.spanContext().spanId);
  });

  it('continues a remote parent and starts a new trace under an invalid one', () => {
    const { ended, tracer } = setup();
    const remote = trace.wrapSpanContext({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      traceFlags: 1,
      isRemote: true,
    });
    tracer.startSpan('continued', { kind: SpanKind.SERVER }, trace.setSpan(ROOT_CONTEXT, remote)).end();
    const invalid = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
    tracer.startSpan('fresh', { kind: SpanKind.SERVER }, trace.setSpan(ROOT_CONTEXT, invalid)).end();
    const [continued, fresh] = ended;
    expect(continued.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(continued.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
    expect(fresh.parentSpanContext).toBeUndefined();
    expect(fresh.spanContext().traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(fresh.spanContext().traceId).not.toBe(INVALID_SPAN_CONTEXT.traceId);
    // The ids the encoder writes are the same ones, whether copied from the pool or parsed from hex.
    const [first, second] = decodeTracesProtobuf(encodeTraceRequest(ended));
    expect([first.traceId, first.parentSpanId]).toEqual([
      '4bf92f3577b34da6a3ce929d0e0e4736',
      '00f067aa0ba902b7',
    ]);
    expect([second.traceId, second.parentSpanId || undefined]).toEqual([
      fresh.spanContext().traceId,
      undefined,
    ]);
  });

  it('tells on each SERVER span how many spans this process started beneath it while it ran', () => {
    const { ended, tracer } = setup();
    const server = tracer.startSpan('server', { kind: SpanKind.SERVER });
    const inServer = trace.setSpan(ROOT_CONTEXT, server);
    tracer.startSpan('query', { kind: SpanKind.CLIENT }, inServer).end();
    const middle = tracer.startSpan('middle', { kind: SpanKind.INTERNAL }, inServer);
    tracer.startSpan('get', { kind: SpanKind.CLIENT }, trace.setSpan(ROOT_CONTEXT, middle)).end();
    // A nested SERVER span counts for itself, not for the outer one.
    const nested = tracer.startSpan('nested', { kind: SpanKind.SERVER }, inServer);
    tracer.startSpan('nested-query', { kind: SpanKind.CLIENT }, trace.setSpan(ROOT_CONTEXT, nested)).end();
    nested.end();
    middle.end();
    server.end();
    // Started after the server span ended (fire-and-forget work): not declared.
    tracer.startSpan('late', { kind: SpanKind.CLIENT }, inServer).end();
    const declared = (name: string) => ended.find((s) => s.name === name)?.attributes['spanstat.descendants'];
    expect(declared('server')).toBe(3);
    expect(declared('nested')).toBe(1);
    expect(declared('query')).toBeUndefined();
    expect(declared('middle')).toBeUndefined();
  });

  it('starts new traces with distinct ids', () => {
    const { tracer } = setup();
    const ids = new Set(Array.from({ length: 1000 }, () => tracer.startSpan('x').spanContext().traceId));
    expect(ids.size).toBe(1000);
  });

  it('gives every span well-formed distinct ids, across many refills of the random pool', () => {
    const { tracer } = setup();
    // 3000 traces of 24 bytes each: ~18 fills of the 4 KiB pool, ids landing on every offset.
    const contexts = Array.from({ length: 3000 }, () => tracer.startSpan('x').spanContext());
    for (const ctx of contexts) {
      expect(ctx.traceId).toMatch(/^(?!0{32})[0-9a-f]{32}$/);
      expect(ctx.spanId).toMatch(/^(?!0{16})[0-9a-f]{16}$/);
    }
    expect(new Set(contexts.map((c) => c.spanId)).size).toBe(3000);
    expect(new Set(contexts.map((c) => c.traceId)).size).toBe(3000);
  });

  it('records nothing where tracing is suppressed (the exporter context)', () => {
    const { ended, tracer } = setup();
    const span = tracer.startSpan('export', {}, suppressTracing(ROOT_CONTEXT));
    span.end();
    expect(span.isRecording()).toBe(false);
    expect(ended).toEqual([]);
  });

  it('follows the SDK on status: unset is ignored, OK is final, messages only on errors', () => {
    const { ended, tracer } = setup();
    const a = tracer.startSpan('a');
    a.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
    a.setStatus({ code: SpanStatusCode.UNSET });
    a.end();
    const b = tracer.startSpan('b');
    b.setStatus({ code: SpanStatusCode.OK, message: 'ignored' });
    b.setStatus({ code: SpanStatusCode.ERROR, message: 'late' });
    b.end();
    expect(ended.map((s) => s.status)).toEqual([
      { code: SpanStatusCode.ERROR, message: 'boom' },
      { code: SpanStatusCode.OK },
    ]);
  });

  it('skips undefined and null attribute values and ignores changes after end', () => {
    const { ended, tracer } = setup();
    const span = tracer.startSpan('s', { attributes: { a: 1, b: undefined } });
    span.setAttribute('c', null as unknown as string);
    span.setAttributes({ d: 'x' });
    span.end();
    span.setAttribute('e', 1);
    span.updateName('renamed');
    expect(ended[0].attributes).toEqual({ a: 1, d: 'x' });
    expect(ended[0].name).toBe('s');
  });

  it('overwrites a key in place and counts attributes beyond MAX_ATTRIBUTES as dropped', () => {
    const { ended, tracer } = setup();
    const span = tracer.startSpan('s', { attributes: { a: 1, b: 2 } });
    span.setAttribute('a', 3);
    for (let i = 0; i < MAX_ATTRIBUTES; i++) span.setAttribute(`k${i}`, i);
    span.setAttribute('b', 4); // at the cap, an existing key still changes
    span.end();
    const [only] = ended as LeanSpan[];
    expect(Object.keys(only.attributes).slice(0, 3)).toEqual(['a', 'b', 'k0']);
    expect(only.attributes.a).toBe(3);
    expect(only.attributes.b).toBe(4);
    expect(Object.keys(only.attributes)).toHaveLength(MAX_ATTRIBUTES);
    expect(only.droppedAttributesCount).toBe(2);
  });

  it('keeps shared attributes by reference, before its own, until the span changes one of them', () => {
    const { ended, tracer } = setup();
    const base = shareAttributes({
      'db.system.name': 'redis',
      'server.address': 'h',
      'server.port': 6379,
      gone: undefined,
    });
    expect(Object.isFrozen(base)).toBe(true);
    const kept = tracer.startSpan('get', { attributes: base }) as LeanSpan;
    kept.setAttribute('db.query.text', 'get k:*');
    const changed = tracer.startSpan('set', { attributes: base }) as LeanSpan;
    changed.setAttribute('db.query.text', 'set k:*');
    changed.setAttribute('server.address', 'other');
    kept.end();
    changed.end();
    expect(kept.shared?.values).toBe(base);
    expect(kept.attributePairs).toEqual(['db.query.text', 'get k:*']);
    expect(kept.attributes).toEqual({
      'db.system.name': 'redis',
      'server.address': 'h',
      'server.port': 6379,
      'db.query.text': 'get k:*',
    });
    expect(changed.shared).toBeUndefined();
    expect(Object.entries(changed.attributes)).toEqual([
      ['db.system.name', 'redis'],
      ['server.address', 'other'],
      ['server.port', 6379],
      ['db.query.text', 'set k:*'],
    ]);
    expect(base['server.address']).toBe('h');
    expect(ended).toHaveLength(2);
  });

  it('counts shared attributes towards MAX_ATTRIBUTES', () => {
    const { ended, tracer } = setup();
    const span = tracer.startSpan('s', { attributes: shareAttributes({ a: 1, b: 2 }) });
    for (let i = 0; i < MAX_ATTRIBUTES; i++) span.setAttribute(`k${i}`, i);
    span.end();
    expect(Object.keys(ended[0].attributes)).toHaveLength(MAX_ATTRIBUTES);
    expect(ended[0].droppedAttributesCount).toBe(2);
  });

  it('records no exception events (pg error messages can quote parameter values)', () => {
    const { ended, tracer } = setup();
    const span = tracer.startSpan('q');
    span.recordException(new Error('invalid input syntax for type integer: "secret"'));
    span.end();
    expect(ended[0].events).toEqual([]);
  });

  it('keeps start and end times in order with the duration between them', () => {
    const { ended, tracer } = setup();
    const span = tracer.startSpan('timed', { startTime: [1_700_000_000, 999_000_000] });
    span.end([1_700_000_001, 1_000_000]);
    expect(ended[0].duration).toEqual([0, 2_000_000]);
    const now = tracer.startSpan('now');
    now.end();
    const [s, ns] = ended[1].startTime;
    expect(Math.abs(s * 1000 + ns / 1e6 - Date.now())).toBeLessThan(60_000);
    expect(toHrTime(new Date(1_700_000_000_500))).toEqual([1_700_000_000, 500_000_000]);
  });

  it('produces spans the OTLP encoder and the sidecar decoder read back', () => {
    const { ended, tracer } = setup();
    const parent = tracer.startSpan('GET /users/:id', {
      kind: SpanKind.SERVER,
      attributes: { 'url.path': '/u/1' },
    });
    tracer.startSpan('pg.query:SELECT', {}, trace.setSpan(ROOT_CONTEXT, parent)).end();
    parent.end();
    const decoded = decodeTracesProtobuf(Buffer.from(encodeTraceRequest(ended)));
    expect(decoded.map((s) => [s.name, s.service])).toEqual([
      ['pg.query:SELECT', 'lean-test'],
      ['GET /users/:id', 'lean-test'],
    ]);
    expect(decoded[0].parentSpanId).toBe(decoded[1].spanId);
  });
});

describe('url.path of a request target', () => {
  it('drops the query string and reduces absolute-form targets to their path', () => {
    expect(pathOf('/users/7?token=abc')).toBe('/users/7');
    expect(pathOf('/plain')).toBe('/plain');
    expect(pathOf('http://example.com/proxied?x=1')).toBe('/proxied');
    expect(pathOf(undefined)).toBe('/');
    expect(pathOf('*')).toBe('*');
  });
});
