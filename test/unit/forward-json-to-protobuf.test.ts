import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { jsonToProtobuf } from '../../src/forward/json-to-protobuf';
import { decodedRequest, logsBody, metricsBody, sdkLogs, sdkMetrics } from '../fixtures/otlp/signals';
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

  it("re-encodes the SDK's metrics and logs as its protobuf serializer writes them, field for field", async () => {
    const metrics = await sdkMetrics();
    const logs = await sdkLogs();
    const viaJson = (signal: 'metrics' | 'logs', json: Buffer) =>
      decodedRequest(signal, jsonToProtobuf(json, signal));
    expect(viaJson('metrics', metricsBody(metrics, 'json'))).toEqual(
      decodedRequest('metrics', metricsBody(metrics, 'protobuf')),
    );
    expect(viaJson('logs', logsBody(logs, 'json'))).toEqual(
      decodedRequest('logs', logsBody(logs, 'protobuf')),
    );
    // The traces decoder's shape is not the metrics one: nothing of a metrics body reads as spans.
    expect(jsonToProtobuf(metricsBody(metrics, 'json'), 'traces').length).toBe(0);
  });

  it('carries what other SDKs write: summaries, exemplars, int64 beyond 2^53, NaN and infinities, negative scales', () => {
    const body = Buffer.from(
      JSON.stringify({
        resourceMetrics: [
          {
            resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] },
            schemaUrl: 'https://opentelemetry.io/schemas/1.30.0',
            scopeMetrics: [
              {
                scope: { name: 'go.opentelemetry.io/otel' },
                metrics: [
                  {
                    name: 'rpc.latency',
                    unit: 's',
                    metadata: [{ key: 'm', value: { boolValue: true } }],
                    summary: {
                      dataPoints: [
                        {
                          timeUnixNano: '1700000000123456789',
                          count: '18446744073709551615',
                          sum: 'NaN',
                          quantileValues: [
                            { quantile: 0.99, value: 'Infinity' },
                            { quantile: 0, value: '-Infinity' },
                          ],
                          flags: 1,
                        },
                      ],
                    },
                  },
                  {
                    name: 'bytes.sent',
                    sum: {
                      aggregationTemporality: 1,
                      isMonotonic: true,
                      dataPoints: [
                        {
                          asInt: '-9007199254740993',
                          exemplars: [
                            {
                              asInt: '9007199254740993',
                              timeUnixNano: '1700000000000000001',
                              traceId: 'AB'.repeat(16),
                              spanId: '01'.repeat(8),
                              filteredAttributes: [{ key: 'user', value: { intValue: '7' } }],
                            },
                          ],
                        },
                        { asDouble: 0 },
                      ],
                    },
                  },
                  {
                    name: 'queue.wait',
                    exponentialHistogram: {
                      aggregationTemporality: 2,
                      dataPoints: [
                        {
                          count: 4,
                          sum: 0,
                          scale: -3,
                          zeroCount: 1,
                          zeroThreshold: 1e-9,
                          positive: { offset: -2, bucketCounts: ['1', 2] },
                          min: 0,
                          max: 12.5,
                        },
                      ],
                    },
                  },
                ],
              },
            ],
          },
        ],
      }),
    );
    // biome-ignore lint/suspicious/noExplicitAny: the reflected message is untyped
    const request = decodedRequest('metrics', jsonToProtobuf(body, 'metrics')) as any;
    expect(request.resourceMetrics[0].schemaUrl).toBe('https://opentelemetry.io/schemas/1.30.0');
    const [summary, sum, exponential] = request.resourceMetrics[0].scopeMetrics[0].metrics;
    expect(summary.metadata).toEqual([
      { key: 'm', value: { boolValue: true, value: 'boolValue' }, keyStrindex: 0 },
    ]);
    const point = summary.summary.dataPoints[0];
    expect(point).toMatchObject({
      timeUnixNano: '1700000000123456789',
      count: '18446744073709551615',
      flags: 1,
    });
    expect(point.sum).toBeNaN();
    expect(point.quantileValues).toEqual([
      { quantile: 0.99, value: Number.POSITIVE_INFINITY },
      { quantile: 0, value: Number.NEGATIVE_INFINITY },
    ]);
    expect(sum.sum).toMatchObject({ aggregationTemporality: 1, isMonotonic: true });
    const [intPoint, zeroPoint] = sum.sum.dataPoints;
    expect(intPoint).toMatchObject({ asInt: '-9007199254740993', value: 'asInt' });
    // A oneof's zero is still a value: the double 0 is sent.
    expect(zeroPoint).toMatchObject({ asDouble: 0, value: 'asDouble' });
    const exemplar = intPoint.exemplars[0];
    expect(exemplar).toMatchObject({ asInt: '9007199254740993', timeUnixNano: '1700000000000000001' });
    expect(Buffer.from(exemplar.traceId, 'base64').toString('hex')).toBe('ab'.repeat(16));
    expect(Buffer.from(exemplar.spanId, 'base64').toString('hex')).toBe('01'.repeat(8));
    expect(exemplar.filteredAttributes[0].value.intValue).toBe('7');
    const expPoint = exponential.exponentialHistogram.dataPoints[0];
    expect(expPoint).toMatchObject({
      count: '4',
      scale: -3,
      zeroCount: '1',
      zeroThreshold: 1e-9,
      positive: { offset: -2, bucketCounts: ['1', '2'] },
      max: 12.5,
    });
    // Optional doubles keep their presence at 0 (sum and min here), as the SDK's protobuf writes them.
    expect(expPoint).toMatchObject({ sum: 0, min: 0 });
    expect(Object.hasOwn(expPoint, 'sum') && Object.hasOwn(expPoint, 'min')).toBe(true);
  });

  it('carries log records: ids, flags, event names, bytes bodies, observed times', () => {
    const body = Buffer.from(
      JSON.stringify({
        resourceLogs: [
          {
            scopeLogs: [
              {
                logRecords: [
                  {
                    timeUnixNano: '1700000000123456789',
                    observedTimeUnixNano: 1_700_000_000_000,
                    severityNumber: 21,
                    severityText: 'FATAL',
                    body: { bytesValue: Buffer.from([1, 2, 250]).toString('base64') },
                    attributes: [{ key: 'a', value: { doubleValue: 2.5 } }],
                    droppedAttributesCount: 2,
                    flags: 1,
                    traceId: 'AB'.repeat(16),
                    spanId: 'cd'.repeat(8),
                    eventName: 'shutdown',
                  },
                ],
              },
            ],
          },
        ],
      }),
    );
    // biome-ignore lint/suspicious/noExplicitAny: the reflected message is untyped
    const request = decodedRequest('logs', jsonToProtobuf(body, 'logs')) as any;
    const record = request.resourceLogs[0].scopeLogs[0].logRecords[0];
    expect(record).toMatchObject({
      timeUnixNano: '1700000000123456789',
      observedTimeUnixNano: '1700000000000',
      severityNumber: 21,
      severityText: 'FATAL',
      droppedAttributesCount: 2,
      flags: 1,
      eventName: 'shutdown',
    });
    expect(Buffer.from(record.body.bytesValue, 'base64')).toEqual(Buffer.from([1, 2, 250]));
    expect(record.attributes[0].value.doubleValue).toBe(2.5);
    expect(Buffer.from(record.traceId, 'base64').toString('hex')).toBe('ab'.repeat(16));
    expect(Buffer.from(record.spanId, 'base64').toString('hex')).toBe('cd'.repeat(8));
  });
});
