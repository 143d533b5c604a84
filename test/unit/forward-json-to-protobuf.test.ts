import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { jsonToProtobuf } from '../../src/forward/json-to-protobuf';
import { after, readableSpan, stableSpans, T0 } from '../fixtures/otlp/spans';
import { exportTraceServiceRequestType } from '../fixtures/otlp/trace-proto';

interface Flat {
  resource: unknown;
  scope: unknown;
  span: { startTimeUnixNano: string };
}

/**
 * A body decoded by protobufjs's full reference decoder, as plain data (longs as decimal strings),
 * one entry per span with its resource and scope: OpenTelemetry JS groups spans into scopeSpans
 * differently in its JSON and protobuf serializers, which says nothing about the spans.
 */
function decoded(body: Uint8Array): Flat[] {
  const type = exportTraceServiceRequestType();
  const request = type.toObject(type.decode(body), {
    longs: String,
    bytes: String,
    defaults: true,
    arrays: true,
  }) as { resourceSpans: { resource: unknown; scopeSpans: { scope: unknown; spans: Flat['span'][] }[] }[] };
  const flat: Flat[] = [];
  for (const rs of request.resourceSpans)
    for (const ss of rs.scopeSpans)
      for (const span of ss.spans) flat.push({ resource: rs.resource, scope: ss.scope, span });
  return flat;
}

/** Spans using what OTLP/JSON can carry from the JS SDK: links, events, errors, array and number attributes. */
function richSpans(): ReadableSpan[] {
  const base = readableSpan({
    name: 'GET /orders/:id',
    kind: 1,
    traceId: 'ab'.repeat(16),
    spanId: 'cd'.repeat(8),
    start: T0,
    end: after(T0, 12_345_678),
    attributes: {
      'http.request.method': 'GET',
      'http.response.status_code': 503,
      'app.ratio': 0.25,
      'app.flag': true,
      'app.tags': ['a', 'b'],
      'app.sizes': [1, 2, 3],
      'app.big': 2 ** 40,
    },
    error: true,
    withEvent: true,
  });
  const linked: ReadableSpan = {
    ...base,
    links: [
      {
        context: { traceId: 'ef'.repeat(16), spanId: '01'.repeat(8), traceFlags: 1 },
        attributes: { 'link.kind': 'follows' },
      },
    ],
    droppedAttributesCount: 2,
    droppedEventsCount: 1,
  };
  return [...stableSpans(), linked];
}

describe('jsonToProtobuf', () => {
  it('re-encodes what OpenTelemetry JS writes as JSON into what it writes as protobuf, field for field', () => {
    const spans = richSpans();
    const json = Buffer.from(JsonTraceSerializer.serializeRequest(spans) as Uint8Array);
    const protobuf = ProtobufTraceSerializer.serializeRequest(spans) as Uint8Array;
    const transcoded = decoded(jsonToProtobuf(json));
    expect(transcoded).toHaveLength(spans.length);
    expect(transcoded).toEqual(decoded(protobuf));
    // Nanosecond times beyond 2^53 survive exactly.
    expect(transcoded[0].span.startTimeUnixNano).toBe('1700000000123456789');
  });

  it('carries bytes, key-value lists, negative and string-typed integers, and leaves out unknown keys', () => {
    const body = Buffer.from(
      JSON.stringify({
        resourceSpans: [
          {
            resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] },
            unknownField: { x: 1 },
            scopeSpans: [
              {
                scope: { name: 'manual' },
                spans: [
                  {
                    traceId: 'AB'.repeat(16),
                    spanId: '12'.repeat(8),
                    name: 'op',
                    kind: 3,
                    startTimeUnixNano: '18446744073709551615',
                    endTimeUnixNano: 1_700_000_000_000,
                    flags: 257,
                    attributes: [
                      { key: 'b', value: { bytesValue: Buffer.from([0, 255, 7]).toString('base64') } },
                      {
                        key: 'kv',
                        value: { kvlistValue: { values: [{ key: 'n', value: { intValue: '-5' } }] } },
                      },
                      {
                        key: 'arr',
                        value: { arrayValue: { values: [{ doubleValue: 1.5 }, { boolValue: false }] } },
                      },
                    ],
                    status: { code: 2, message: 'failed' },
                  },
                ],
              },
            ],
          },
        ],
      }),
    );
    const type = exportTraceServiceRequestType();
    // biome-ignore lint/suspicious/noExplicitAny: the reflected message is untyped
    const request = type.toObject(type.decode(jsonToProtobuf(body)), { longs: String, bytes: Array }) as any;
    const span = request.resourceSpans[0].scopeSpans[0].spans[0];
    expect(Buffer.from(span.traceId).toString('hex')).toBe('ab'.repeat(16));
    expect(span).toMatchObject({
      name: 'op',
      kind: 3,
      flags: 257,
      startTimeUnixNano: '18446744073709551615',
      endTimeUnixNano: '1700000000000',
      status: { code: 2, message: 'failed' },
    });
    const [bytes, kv, arr] = span.attributes;
    expect(bytes.value.bytesValue).toEqual([0, 255, 7]);
    expect(kv.value.kvlistValue.values[0]).toEqual({ key: 'n', value: { intValue: '-5' } });
    expect(arr.value.arrayValue.values).toEqual([{ doubleValue: 1.5 }, { boolValue: false }]);
    expect(request.resourceSpans[0].resource.attributes[0].value.stringValue).toBe('svc');
  });

  it('throws on a body that is not a JSON object, and gives an empty request for {}', () => {
    expect(() => jsonToProtobuf(Buffer.from('[1]'))).toThrow();
    expect(() => jsonToProtobuf(Buffer.from('not json'))).toThrow();
    expect(jsonToProtobuf(Buffer.from('{}')).length).toBe(0);
  });
});
