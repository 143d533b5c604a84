import { resourceFromAttributes } from '@opentelemetry/resources';
import { Writer } from 'protobufjs/minimal';
import { describe, expect, it } from 'vitest';
import type { SpanBatch, SpanSender } from '../../src/model/span';
import { jsonBatch } from '../../src/receiver/decode-json';
import { forEachTraceSpan } from '../../src/receiver/decode-protobuf';
import { protobufBatch } from '../../src/receiver/protobuf-batch';
import { after, jsonBody, protobufBody, readableSpan, T0 } from '../fixtures/otlp/spans';

const PRELOAD = resourceFromAttributes({
  'service.name': 'shop',
  'host.name': 'web-1',
  'process.pid': 4242,
  'telemetry.distro.name': 'spanstat',
  'telemetry.sdk.language': 'nodejs',
  'service.version': '1.4.2',
});
const SDK = resourceFromAttributes({
  'service.name': 'shop',
  'host.name': 'web-1',
  'process.pid': 4242,
  'service.instance.id': 'i-1',
});

function spans(): ReturnType<typeof readableSpan>[] {
  const span = (name: string, spanId: string, resource: typeof SDK) =>
    readableSpan({
      name,
      kind: 1,
      traceId: 'a'.repeat(32),
      spanId,
      start: T0,
      end: after(T0, 1_000),
      attributes: {},
      resource,
    });
  return [
    span('p1', '1'.repeat(16), PRELOAD),
    span('s1', '2'.repeat(16), SDK),
    span('p2', '3'.repeat(16), PRELOAD),
  ];
}

/** The visits of a batch in order: a sender as `sender:<service>/<pid>/<preload>`, a span by its name. */
function visits(batch: SpanBatch): { order: string[]; senders: SpanSender[] } {
  const order: string[] = [];
  const senders: SpanSender[] = [];
  batch.forEach(
    (span) => {
      order.push(span.name);
    },
    (sender) => {
      senders.push(sender);
      order.push(`sender:${sender.preload ? 'preload' : 'sdk'}`);
    },
  );
  return { order, senders };
}

describe('the senders a batch hands the pipeline, once per resource', () => {
  for (const [name, batchOf] of [
    ['protobuf', (s: ReturnType<typeof spans>) => protobufBatch(protobufBody(s))],
    ['JSON', (s: ReturnType<typeof spans>) => jsonBatch(jsonBody(s))],
  ] as const) {
    it(`${name}: names each resource's process and whether it is the preload's, before its spans`, () => {
      const { order, senders } = visits(batchOf(spans()));
      // The encoders group spans by resource: the preload's two, then the SDK's one.
      expect(order).toEqual(['sender:preload', 'p1', 'p2', 'sender:sdk', 's1']);
      expect(senders).toEqual([
        {
          service: 'shop',
          preload: true,
          hostName: 'web-1',
          pid: 4242,
          instanceId: undefined,
          version: '1.4.2',
        },
        {
          service: 'shop',
          preload: false,
          hostName: 'web-1',
          pid: 4242,
          instanceId: 'i-1',
          version: undefined,
        },
      ]);
    });
  }

  it('keeps service.version trimmed, a number as its text, and cuts it at 64 characters', () => {
    const versionOf = (value: string | number) => {
      const resource = resourceFromAttributes({ 'service.name': 'shop', 'service.version': value });
      const one = [spans()[0]].map((s) => ({ ...s, resource }));
      return visits(protobufBatch(protobufBody(one))).senders[0].version;
    };
    expect(versionOf(' 2.0.1 ')).toBe('2.0.1');
    expect(versionOf(7)).toBe('7');
    expect(versionOf('')).toBeUndefined();
    expect(versionOf('v'.repeat(100))).toBe('v'.repeat(64));
  });

  it('names the sender of spans that came before their resource once it is read, before them', () => {
    const w = Writer.create();
    w.uint32(10).fork(); // resource_spans
    w.uint32(18).fork().uint32(18).fork(); // scope_spans, span
    w.uint32(10)
      .bytes(new Uint8Array(16).fill(1))
      .uint32(18)
      .bytes(new Uint8Array(8).fill(2))
      .uint32(42)
      .string('early');
    w.ldelim().ldelim();
    w.uint32(10).fork(); // resource
    for (const [key, value] of [
      ['service.name', 'late'],
      ['telemetry.distro.name', 'spanstat'],
    ])
      w.uint32(10).fork().uint32(10).string(key).uint32(18).fork().uint32(10).string(value).ldelim().ldelim();
    w.ldelim();
    w.ldelim();
    const order: string[] = [];
    forEachTraceSpan(
      w.finish(),
      (span) => order.push(`${span.name}@${span.service}`),
      undefined,
      (sender) => order.push(`sender:${sender.service}:${sender.preload}`),
    );
    expect(order).toEqual(['sender:late:true', 'early@late']);
  });

  it('reads no process from a resource without one, and ignores a pid that is not an integer', () => {
    const odd = resourceFromAttributes({
      'service.name': 'shop',
      'process.pid': 'twelve',
      'telemetry.distro.name': 'other',
    });
    const s = readableSpan({
      name: 'x',
      kind: 1,
      traceId: 'a'.repeat(32),
      spanId: '1'.repeat(16),
      start: T0,
      end: after(T0, 1),
      attributes: {},
      resource: odd,
    });
    expect(visits(protobufBatch(protobufBody([s]))).senders).toEqual([
      { service: 'shop', preload: false, hostName: undefined, pid: undefined, instanceId: undefined },
    ]);
  });
});
