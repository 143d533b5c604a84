import { Writer } from 'protobufjs/minimal';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../scripts/lib/seeded-random';
import { countSignalItems } from '../../src/receiver/check-signals';
import {
  countItemsWithProtobufjs,
  logsBody,
  metricsBody,
  requestType,
  SDK_LOG_RECORDS,
  SDK_METRIC_POINTS,
  sdkLogs,
  sdkMetrics,
} from '../fixtures/otlp/signals';

/** A metrics request with a summary point and an exemplar, which the JS SDK never writes. */
function summaryAndExemplarBody(): Buffer {
  const type = requestType('metrics');
  const message = type.fromObject({
    resourceMetrics: [
      {
        scopeMetrics: [
          {
            metrics: [
              {
                name: 'rpc.latency',
                summary: {
                  dataPoints: [
                    { count: 3, sum: 1.5, quantileValues: [{ quantile: 0.5, value: 0.4 }] },
                    { count: 1, sum: 0.2 },
                  ],
                },
              },
              {
                name: 'http.requests',
                sum: {
                  dataPoints: [
                    {
                      asInt: 5,
                      exemplars: [
                        {
                          asDouble: 1,
                          traceId: Buffer.alloc(16, 1),
                          spanId: Buffer.alloc(8, 2),
                          filteredAttributes: [{ key: 'k', value: { stringValue: 'v' } }],
                        },
                      ],
                    },
                  ],
                },
              },
            ],
          },
        ],
      },
    ],
  });
  return Buffer.from(type.encode(message).finish());
}

/** One field, as protobuf: tag, then the value's bytes (length-prefixed for wire type 2). */
function field(number: number, wire: number, value: Uint8Array | number): Buffer {
  const w = Writer.create().uint32((number << 3) | wire);
  if (wire === 2) w.bytes(value as Uint8Array);
  else if (wire === 0) w.uint64(value as number);
  else if (wire === 1) w.fixed64(value as number);
  else w.fixed32(value as number);
  return Buffer.from(w.finish());
}

/** ExportLogsServiceRequest { resource_logs { scope_logs { log_records { … } } } } around a record's bytes. */
function logRecordBody(record: Uint8Array): Buffer {
  return field(1, 2, field(2, 2, field(2, 2, record)));
}

describe('countSignalItems', () => {
  it('counts the data points and log records of what the OpenTelemetry SDK exports, in protobuf and JSON', async () => {
    const metrics = await sdkMetrics();
    const logs = await sdkLogs();
    for (const encoding of ['protobuf', 'json'] as const) {
      expect(countSignalItems('metrics', metricsBody(metrics, encoding), encoding)).toBe(SDK_METRIC_POINTS);
      expect(countSignalItems('logs', logsBody(logs, encoding), encoding)).toBe(SDK_LOG_RECORDS);
    }
    expect(countItemsWithProtobufjs('metrics', metricsBody(metrics, 'protobuf'))).toBe(SDK_METRIC_POINTS);
    // Summaries and exemplars, from other SDKs and collectors.
    expect(countSignalItems('metrics', summaryAndExemplarBody(), 'protobuf')).toBe(3);
    // Joined bodies (what the forwarder sends) count as the sum of their parts.
    const two = Buffer.concat([metricsBody(metrics, 'protobuf'), summaryAndExemplarBody()]);
    expect(countSignalItems('metrics', two, 'protobuf')).toBe(SDK_METRIC_POINTS + 3);
    // An empty request, which the spec says to accept.
    for (const encoding of ['protobuf', 'json'] as const) {
      expect(countSignalItems('metrics', Buffer.alloc(0), encoding)).toBe(0);
      expect(countSignalItems('logs', Buffer.from(encoding === 'json' ? '{}' : ''), encoding)).toBe(0);
    }
  });

  it('skips fields it does not know, as a protobuf parser does', () => {
    const record = Buffer.concat([field(99, 0, 7), field(100, 2, Buffer.from('future')), field(1, 1, 5)]);
    const body = Buffer.concat([logRecordBody(record), field(42, 5, 1)]);
    expect(countSignalItems('logs', body, 'protobuf')).toBe(1);
    expect(countItemsWithProtobufjs('logs', body)).toBe(1);
  });

  it('refuses malformed protobuf, naming the offset but no content', async () => {
    const secret = Buffer.from('SELECT secret FROM users');
    const bad: [string, Buffer, RegExp][] = [
      [
        'truncated',
        metricsBody(await sdkMetrics(), 'protobuf').subarray(0, 40),
        /runs past|index out of range/,
      ],
      // A log record's trace_id of 5 bytes: a collector would refuse the whole request.
      [
        'short trace id',
        logRecordBody(Buffer.concat([field(9, 2, Buffer.alloc(5)), field(3, 2, secret)])),
        /id field 9 is 5 bytes/,
      ],
      // log_records (a message) sent as a varint.
      ['wrong wire type', field(1, 2, field(2, 2, field(2, 0, 1))), /field 2 has unexpected wire type 0/],
      // A histogram's packed bucket_counts (fixed64) of 7 bytes.
      [
        'misaligned packed',
        field(1, 2, field(2, 2, field(2, 2, field(9, 2, field(1, 2, field(6, 2, Buffer.alloc(7))))))),
        /not 8-byte aligned/,
      ],
      ['field 0', field(1, 2, Buffer.from([0x00, 0x01])), /field number 0/],
    ];
    for (const [what, body, message] of bad) {
      const signal = what === 'short trace id' || what === 'wrong wire type' ? 'logs' : 'metrics';
      let error: Error | undefined;
      try {
        countSignalItems(signal, body, 'protobuf');
      } catch (err) {
        error = err as Error;
      }
      expect(error, what).toBeDefined();
      expect(error?.message, what).toMatch(/invalid protobuf near byte \d+: /);
      expect(error?.message, what).toMatch(message);
      expect(error?.message, what).not.toContain('secret');
    }
  });

  it("refuses bodies nested deeper than protoc's 100 levels, and takes 92", () => {
    // A log record whose body is an array inside an array … (AnyValue → ArrayValue → AnyValue).
    const nested = (levels: number): Buffer => {
      let value = field(1, 2, Buffer.from('leaf'));
      for (let i = 0; i < levels; i++) value = field(5, 2, field(1, 2, value));
      return logRecordBody(field(5, 2, value));
    };
    expect(countSignalItems('logs', nested(44), 'protobuf')).toBe(1);
    expect(() => countSignalItems('logs', nested(60), 'protobuf')).toThrow(/nested deeper than 100/);
  });

  it('never accepts a corrupted body that the reference decoder cannot read, and counts what both read alike', async () => {
    const random = seededRandom(7);
    const bodies = {
      metrics: [metricsBody(await sdkMetrics(), 'protobuf'), summaryAndExemplarBody()],
      logs: [logsBody(await sdkLogs(), 'protobuf')],
    };
    let accepted = 0;
    let refused = 0;
    for (const signal of ['metrics', 'logs'] as const) {
      for (const original of bodies[signal]) {
        for (let i = 0; i < 3000; i++) {
          const body = Buffer.from(original);
          const flips = 1 + Math.floor(random() * 3);
          for (let f = 0; f < flips; f++)
            body[Math.floor(random() * body.length)] = Math.floor(random() * 256);
          let counted: number | undefined;
          try {
            counted = countSignalItems(signal, body, 'protobuf');
          } catch {
            refused++;
            continue;
          }
          accepted++;
          // What the check accepts, a full decoder reads, finding as many data points or records.
          expect(countItemsWithProtobufjs(signal, body)).toBe(counted);
        }
        // Cut anywhere inside its one top-level field, a body is refused.
        for (let cut = 1; cut < original.length; cut += 7)
          expect(() => countSignalItems(signal, original.subarray(0, cut), 'protobuf')).toThrow();
      }
    }
    expect(accepted).toBeGreaterThan(1000);
    expect(refused).toBeGreaterThan(1000);
  });

  it('refuses JSON that is not JSON or whose repeated fields are not arrays of objects, quoting nothing', () => {
    const cases: [string, 'metrics' | 'logs', RegExp][] = [
      ['{"resourceMetrics": [ SELECT secret', 'metrics', /not valid JSON/],
      ['["SELECT secret"]', 'metrics', /request must be an object/],
      ['{"resourceMetrics": {"secret": 1}}', 'metrics', /resourceMetrics must be an array/],
      [
        '{"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"sum": {"dataPoints": 3}}]}]}]}',
        'metrics',
        /sum.dataPoints must be an array/,
      ],
      [
        '{"resourceLogs": [{"scopeLogs": [{"logRecords": ["secret"]}]}]}',
        'logs',
        /logRecords\[\] must be an object/,
      ],
    ];
    for (const [text, signal, message] of cases) {
      expect(() => countSignalItems(signal, Buffer.from(text), 'json'), text).toThrow(message);
      try {
        countSignalItems(signal, Buffer.from(text), 'json');
      } catch (err) {
        expect((err as Error).message).not.toContain('secret');
      }
    }
    // Below the data points, the upstream judges: an odd value is still one data point.
    const odd =
      '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"gauge":{"dataPoints":[{"asDouble":"x"}]}}]}]}]}';
    expect(countSignalItems('metrics', Buffer.from(odd), 'json')).toBe(1);
  });
});
