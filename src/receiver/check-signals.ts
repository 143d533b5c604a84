/**
 * The receipt-time check of an OTLP metrics or logs export body, which spanstat relays but never
 * reads (signals.ts): is it well-formed, and how many data points or log records does it carry (the
 * forwarder counts them, in the unit the upstream's partial_success refuses them in).
 *
 * Protobuf: a walk of the whole message against its schema (opentelemetry-proto
 * collector/metrics/v1, metrics/v1, collector/logs/v1, logs/v1, common/v1, resource/v1): every field
 * of a known number must have its wire type, every length must stay inside its message, ids must be
 * 16 or 8 bytes, nesting stops at protoc's 100 levels. Strings are not checked for UTF-8, as the
 * trace check does not, nor the Collector's own decoder. Nothing is materialised. The forwarder joins
 * protobuf bodies of a signal into one POST, so one malformed body would make the upstream refuse
 * the others with it: a body that fails here is answered 400 instead, as the trace check does.
 *
 * JSON: parsed (JSON bodies go upstream one by one, as received), the repeated fields down to the data
 * points or log records must be arrays of objects; what lies below them is the upstream's to judge.
 */
import { Reader } from 'protobufjs/minimal';
import { SpanstatError } from '../errors';
import { asBuffer, decodeError } from './decode-protobuf';
import type { OtlpEncoding } from './responses';
import type { RelayedSignal } from './signals';
import { enter, skipField } from './wire-reader';

/** Protobuf wire types: varint, 64-bit, length-delimited, 32-bit. */
type Wire = 0 | 1 | 2 | 5;

interface FieldSpec {
  /** The wire type the field must arrive in (2 for a packed repeated scalar). */
  readonly wire: Wire;
  /** A repeated scalar: its element's wire type, also accepted unpacked (one field per element). */
  readonly element?: 0 | 1;
  /** A sub-message, checked field by field. */
  readonly message?: Schema;
  /** An id: exactly this many bytes, or none. */
  readonly idBytes?: number;
  /** A data point or log record: what the body is counted in. */
  readonly counted?: true;
}

type Schema = Map<number, FieldSpec>;

/** protoc's default recursion limit (protobufjs's Reader.recursionLimit): deeper bodies are refused. */
const MAX_DEPTH = 100;

const msg = (message: Schema, counted?: true): FieldSpec => ({ wire: 2, message, counted });
const VARINT: FieldSpec = { wire: 0 };
const FIXED64: FieldSpec = { wire: 1 };
const FIXED32: FieldSpec = { wire: 5 };
const BYTES: FieldSpec = { wire: 2 };
const PACKED_FIXED64: FieldSpec = { wire: 2, element: 1 };
const PACKED_VARINT: FieldSpec = { wire: 2, element: 0 };
const TRACE_ID: FieldSpec = { wire: 2, idBytes: 16 };
const SPAN_ID: FieldSpec = { wire: 2, idBytes: 8 };

// common/v1 and resource/v1 (AnyValue, ArrayValue, KeyValueList and KeyValue nest in each other).
const ANY_VALUE: Schema = new Map();
const ARRAY_VALUE: Schema = new Map([[1, msg(ANY_VALUE)]]);
const KEY_VALUE: Schema = new Map([
  [1, BYTES],
  [2, msg(ANY_VALUE)],
  [3, VARINT],
]);
const KEY_VALUE_LIST: Schema = new Map([[1, msg(KEY_VALUE)]]);
for (const [field, spec] of [
  [1, BYTES],
  [2, VARINT],
  [3, VARINT],
  [4, FIXED64],
  [5, msg(ARRAY_VALUE)],
  [6, msg(KEY_VALUE_LIST)],
  [7, BYTES],
  [8, VARINT],
] as const)
  ANY_VALUE.set(field, spec);
const SCOPE: Schema = new Map([
  [1, BYTES],
  [2, BYTES],
  [3, msg(KEY_VALUE)],
  [4, VARINT],
]);
const ENTITY_REF: Schema = new Map([
  [1, BYTES],
  [2, BYTES],
  [3, BYTES],
  [4, BYTES],
]);
const RESOURCE: Schema = new Map([
  [1, msg(KEY_VALUE)],
  [2, VARINT],
  [3, msg(ENTITY_REF)],
]);

/**
 * Export{Metrics,Logs}ServiceRequest: resource_* = 1 of Resource{Metrics,Logs} (resource = 1, scope_* = 2,
 * schema_url = 3), each of Scope{Metrics,Logs} (scope = 1, the items = 2, schema_url = 3).
 */
const exportRequest = (item: FieldSpec): Schema =>
  new Map([
    [
      1,
      msg(
        new Map([
          [1, msg(RESOURCE)],
          [
            2,
            msg(
              new Map([
                [1, msg(SCOPE)],
                [2, item],
                [3, BYTES],
              ]),
            ),
          ],
          [3, BYTES],
        ]),
      ),
    ],
  ]);

// metrics/v1
const EXEMPLAR: Schema = new Map([
  [7, msg(KEY_VALUE)],
  [2, FIXED64],
  [3, FIXED64],
  [6, FIXED64],
  [4, SPAN_ID],
  [5, TRACE_ID],
]);
const NUMBER_POINT: Schema = new Map([
  [7, msg(KEY_VALUE)],
  [2, FIXED64],
  [3, FIXED64],
  [4, FIXED64],
  [6, FIXED64],
  [5, msg(EXEMPLAR)],
  [8, VARINT],
]);
const HISTOGRAM_POINT: Schema = new Map([
  [9, msg(KEY_VALUE)],
  [2, FIXED64],
  [3, FIXED64],
  [4, FIXED64],
  [5, FIXED64],
  [6, PACKED_FIXED64],
  [7, PACKED_FIXED64],
  [8, msg(EXEMPLAR)],
  [10, VARINT],
  [11, FIXED64],
  [12, FIXED64],
]);
const EXPONENTIAL_BUCKETS: Schema = new Map([
  [1, VARINT],
  [2, PACKED_VARINT],
]);
const EXPONENTIAL_POINT: Schema = new Map([
  [1, msg(KEY_VALUE)],
  [2, FIXED64],
  [3, FIXED64],
  [4, FIXED64],
  [5, FIXED64],
  [6, VARINT],
  [7, FIXED64],
  [8, msg(EXPONENTIAL_BUCKETS)],
  [9, msg(EXPONENTIAL_BUCKETS)],
  [10, VARINT],
  [11, msg(EXEMPLAR)],
  [12, FIXED64],
  [13, FIXED64],
  [14, FIXED64],
]);
const QUANTILE: Schema = new Map([
  [1, FIXED64],
  [2, FIXED64],
]);
const SUMMARY_POINT: Schema = new Map([
  [7, msg(KEY_VALUE)],
  [2, FIXED64],
  [3, FIXED64],
  [4, FIXED64],
  [5, FIXED64],
  [6, msg(QUANTILE)],
  [8, VARINT],
]);
/** Gauge, Sum, Histogram, ExponentialHistogram, Summary: data_points = 1 (and temporality, monotonic). */
const points = (point: Schema): Schema =>
  new Map([
    [1, msg(point, true)],
    [2, VARINT],
    [3, VARINT],
  ]);
const METRIC: Schema = new Map([
  [1, BYTES],
  [2, BYTES],
  [3, BYTES],
  [5, msg(points(NUMBER_POINT))],
  [7, msg(points(NUMBER_POINT))],
  [9, msg(points(HISTOGRAM_POINT))],
  [10, msg(points(EXPONENTIAL_POINT))],
  [11, msg(points(SUMMARY_POINT))],
  [12, msg(KEY_VALUE)],
]);
const METRICS_REQUEST = exportRequest(msg(METRIC));

// logs/v1
const LOG_RECORD: Schema = new Map([
  [1, FIXED64],
  [11, FIXED64],
  [2, VARINT],
  [3, BYTES],
  [5, msg(ANY_VALUE)],
  [6, msg(KEY_VALUE)],
  [7, VARINT],
  [8, FIXED32],
  [9, TRACE_ID],
  [10, SPAN_ID],
  [12, BYTES],
]);
const LOGS_REQUEST = exportRequest(msg(LOG_RECORD, true));

const REQUESTS: Record<RelayedSignal, Schema> = { metrics: METRICS_REQUEST, logs: LOGS_REQUEST };

/**
 * Data points (metrics) or log records (logs) in an export body, in either encoding; throws
 * SPANSTAT_ERR_OTLP_DECODE when it is malformed. Messages name fields and offsets, never content.
 */
export function countSignalItems(signal: RelayedSignal, body: Buffer, encoding: OtlpEncoding): number {
  return encoding === 'protobuf' ? countProtobuf(signal, body) : countJson(signal, body.toString('utf8'));
}

function countProtobuf(signal: RelayedSignal, body: Uint8Array): number {
  const r = Reader.create(asBuffer(body));
  try {
    return walk(r, REQUESTS[signal], 0);
  } catch (err) {
    throw decodeError(err, r.pos);
  }
}

/** Checks the fields up to r.len against `schema`; answers how many counted messages lie within. */
function walk(r: Reader, schema: Schema, depth: number): number {
  if (depth > MAX_DEPTH) throw new Error(`messages nested deeper than ${MAX_DEPTH}`);
  let counted = 0;
  while (r.pos < r.len) {
    const tag = r.tag();
    const field = tag >>> 3;
    const wire = tag & 7;
    const spec = schema.get(field);
    if (spec === undefined) {
      skipField(r, tag, 0);
    } else if (spec.element !== undefined && wire === spec.element) {
      skipScalar(r, wire);
    } else if (wire !== spec.wire) {
      throw new Error(`field ${field} has unexpected wire type ${wire}`);
    } else if (spec.message !== undefined) {
      const parentLen = enter(r);
      counted += walk(r, spec.message, depth + 1);
      r.len = parentLen;
      if (spec.counted) counted++;
    } else if (spec.element !== undefined) {
      const parentLen = enter(r);
      if (spec.element === 1 && (r.len - r.pos) % 8 !== 0)
        throw new Error(`packed field ${field} is not 8-byte aligned`);
      while (r.pos < r.len) skipScalar(r, spec.element);
      r.len = parentLen;
    } else if (spec.idBytes !== undefined) {
      const len = r.size();
      if (len !== 0 && len !== spec.idBytes)
        throw new Error(`id field ${field} is ${len} bytes, expected ${spec.idBytes}`);
      r.skip(len);
    } else {
      skipScalar(r, wire);
    }
  }
  return counted;
}

function skipScalar(r: Reader, wire: number): void {
  if (wire === 0) r.skip();
  else if (wire === 1) r.skip(8);
  else if (wire === 5) r.skip(4);
  else r.skip(r.size());
}

type Json = Record<string, unknown>;

/** Metric kinds in OTLP/JSON, each with `dataPoints`. */
const METRIC_KINDS = ['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary'] as const;

function countJson(signal: RelayedSignal, text: string): number {
  // An empty body is an empty request, which the spec says to accept.
  if (text.trim() === '') return 0;
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch {
    // V8's SyntaxError message quotes the body, so it is not passed on.
    throw fail('body is not valid JSON');
  }
  const request = object(root, 'request');
  let counted = 0;
  if (signal === 'metrics') {
    for (const rm of objects(request.resourceMetrics, 'resourceMetrics'))
      for (const sm of objects(rm.scopeMetrics, 'scopeMetrics'))
        for (const metric of objects(sm.metrics, 'metrics'))
          for (const kind of METRIC_KINDS) {
            const data = metric[kind];
            if (data !== undefined && data !== null)
              counted += objects(object(data, kind).dataPoints, `${kind}.dataPoints`).length;
          }
  } else {
    for (const rl of objects(request.resourceLogs, 'resourceLogs'))
      for (const sl of objects(rl.scopeLogs, 'scopeLogs'))
        counted += objects(sl.logRecords, 'logRecords').length;
  }
  return counted;
}

function fail(detail: string): SpanstatError {
  return new SpanstatError('SPANSTAT_ERR_OTLP_DECODE', `invalid OTLP/JSON: ${detail}`);
}

function object(v: unknown, field: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw fail(`${field} must be an object`);
  return v as Json;
}

/** A repeated message field: absent or null is empty, as in proto3; each element must be an object. */
function objects(v: unknown, field: string): Json[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw fail(`${field} must be an array`);
  return v.map((item) => object(item, `${field}[]`));
}
