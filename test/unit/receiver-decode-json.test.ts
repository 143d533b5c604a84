import { describe, expect, it } from 'vitest';
import { isSpanstatError } from '../../src/errors';
import { decodeTracesJson } from '../../src/receiver/decode-json';
import { decodeTracesProtobuf } from '../../src/receiver/decode-protobuf';
import { batchMix } from '../fixtures/otlp/batch-mix';
import {
  jsonBody,
  oldSpans,
  protobufBody,
  SERVER_SPAN_ID,
  stableSpans,
  TRACE_ID,
} from '../fixtures/otlp/spans';

function decodeError(text: string): Error {
  try {
    decodeTracesJson(text);
  } catch (err) {
    expect(isSpanstatError(err, 'SPANSTAT_ERR_OTLP_DECODE')).toBe(true);
    return err as Error;
  }
  throw new Error('expected a decode error');
}

/** The minimal valid request around one span object. */
function requestWith(span: Record<string, unknown>, resource?: unknown): string {
  return JSON.stringify({ resourceSpans: [{ resource, scopeSpans: [{ spans: [span] }] }] });
}

const SPAN = { traceId: TRACE_ID, spanId: SERVER_SPAN_ID, name: 'work', kind: 1 };

describe('decodeTracesJson', () => {
  it('decodes the OTel JS JSON encoding to exactly what the protobuf decoder yields', () => {
    for (const spans of [stableSpans(), oldSpans(), batchMix(512, 3)]) {
      expect(decodeTracesJson(jsonBody(spans))).toEqual(decodeTracesProtobuf(protobufBody(spans)));
    }
  });

  it('reads stable and old attribute names, ids, kind, status and exact durations', () => {
    const [server, db, redis] = decodeTracesJson(jsonBody(stableSpans()));
    expect(server).toMatchObject({
      service: 'shop-api',
      traceId: TRACE_ID,
      parentSpanId: '',
      kind: 2,
      attributes: {
        'http.request.method': 'GET',
        'http.route': '/users/:id',
        'http.response.status_code': 200,
      },
    });
    expect(db.durationMs).toBe(1.234567);
    expect(db.attributes['db.query.text']).toBe('SELECT id, name FROM users WHERE id = $1');
    expect(redis.attributes['net.flags']).toBe('a,b,c');
    const [oldServer] = decodeTracesJson(jsonBody(oldSpans()));
    expect(oldServer).toMatchObject({
      statusCode: 2,
      attributes: { 'http.status_code': 500, 'http.method': 'GET' },
    });
  });

  it('tells a Redis Cluster redirection by its status message, as the protobuf decoder does', () => {
    const decode = (status: unknown) =>
      decodeTracesJson(requestWith({ ...SPAN, startTimeUnixNano: '1', endTimeUnixNano: '2', status }))[0];
    expect(decode({ code: 2, message: 'MOVED 3999 127.0.0.1:7001' }).redirected).toBe(true);
    expect(decode({ code: 'STATUS_CODE_ERROR', message: 'ErrorReply ASK' }).redirected).toBe(true);
    expect(decode({ code: 2, message: 'ERR wrong number of arguments' })).not.toHaveProperty('redirected');
    expect(decode({ code: 2, message: 7 })).not.toHaveProperty('redirected');
  });

  it('accepts int64 values as decimal strings and as numbers', () => {
    const asStrings = requestWith({
      ...SPAN,
      startTimeUnixNano: '1700000000123456789',
      endTimeUnixNano: '1700000000124691356',
      attributes: [{ key: 'http.response.status_code', value: { intValue: '404' } }],
    });
    const [a] = decodeTracesJson(asStrings);
    expect(a.durationMs).toBe(1.234567);
    expect(a.attributes['http.response.status_code']).toBe(404);
    expect(a.startMs).toBe(1_700_000_000_123 + 0.456789);

    const asNumbers = requestWith({
      ...SPAN,
      startTimeUnixNano: 1_000,
      endTimeUnixNano: 1_235_567,
      attributes: [{ key: 'http.response.status_code', value: { intValue: 404 } }],
    });
    const [b] = decodeTracesJson(asNumbers);
    expect(b.durationMs).toBe(1.234567);
    expect(b.attributes['http.response.status_code']).toBe(404);
  });

  it('lowercases hex ids sent in upper case', () => {
    const [span] = decodeTracesJson(
      requestWith({ ...SPAN, traceId: TRACE_ID.toUpperCase(), parentSpanId: 'ABCDEF0123456789' }),
    );
    expect(span.traceId).toBe(TRACE_ID);
    expect(span.parentSpanId).toBe('abcdef0123456789');
  });

  it('flattens AnyValue kinds and drops bytes, kvlists and empty values', () => {
    const [span] = decodeTracesJson(
      requestWith({
        ...SPAN,
        attributes: [
          { key: 'd', value: { doubleValue: 0.5 } },
          { key: 'dInf', value: { doubleValue: 'Infinity' } },
          { key: 'b', value: { boolValue: false } },
          {
            key: 'arr',
            value: { arrayValue: { values: [{ stringValue: 'x' }, { intValue: '2' }, { arrayValue: {} }] } },
          },
          { key: 'bytes', value: { bytesValue: 'AAE=' } },
          { key: 'kv', value: { kvlistValue: { values: [] } } },
          { key: 'empty', value: {} },
        ],
      }),
    );
    expect(span.attributes).toEqual({ d: 0.5, dInf: Infinity, b: false, arr: 'x,2' });
  });

  it('ignores unknown keys and uses unknown_service without a resource', () => {
    const [span] = decodeTracesJson(
      JSON.stringify({
        future: 1,
        resourceSpans: [{ scopeSpans: [{ spans: [{ ...SPAN, newField: [1] }] }] }],
      }),
    );
    expect(span.service).toBe('unknown_service');
    expect(span.name).toBe('work');
  });

  it('takes service.name from the resource attributes', () => {
    const resource = { attributes: [{ key: 'service.name', value: { stringValue: 'billing' } }] };
    expect(decodeTracesJson(requestWith(SPAN, resource))[0].service).toBe('billing');
  });

  it('treats an empty body and an empty object as a request with no spans', () => {
    expect(decodeTracesJson('')).toEqual([]);
    expect(decodeTracesJson('{}')).toEqual([]);
  });

  it('rejects invalid JSON without quoting the body', () => {
    const err = decodeError(`{"resourceSpans": [ "SELECT * FROM t WHERE secret = 'hunter2'" `);
    expect(err.message).not.toContain('hunter2');
  });

  it('rejects ids that are not hex of the right length', () => {
    decodeError(requestWith({ ...SPAN, traceId: TRACE_ID.slice(2) }));
    decodeError(requestWith({ ...SPAN, spanId: 'zzzzzzzzzzzzzzzz' }));
    decodeError(requestWith({ ...SPAN, parentSpanId: 'abc' }));
    decodeError(requestWith({ ...SPAN, traceId: undefined }));
  });

  it('takes enums by name too, as the proto3 JSON mapping and the Collector do', () => {
    const [span] = decodeTracesJson(
      requestWith({ ...SPAN, kind: 'SPAN_KIND_SERVER', status: { code: 'STATUS_CODE_ERROR' } }),
    );
    expect(span).toMatchObject({ kind: 2, statusCode: 2 });
  });

  it('rejects unknown enum names, wrong types and malformed int64 strings', () => {
    decodeError(requestWith({ ...SPAN, kind: 'SERVER' }));
    decodeError(requestWith({ ...SPAN, status: { code: 'toString' } }));
    decodeError(requestWith({ ...SPAN, startTimeUnixNano: '17e17' }));
    decodeError(requestWith({ ...SPAN, startTimeUnixNano: -5 }));
    decodeError(requestWith({ ...SPAN, attributes: [{ key: 'n', value: { intValue: '12abc' } }] }));
    decodeError(requestWith({ ...SPAN, attributes: [{ key: 'n', value: { doubleValue: 'toString' } }] }));
    decodeError(requestWith({ ...SPAN, attributes: [{ key: 7, value: { stringValue: 'x' } }] }));
    decodeError(JSON.stringify({ resourceSpans: {} }));
    decodeError('[]');
    decodeError('null');
  });
});
