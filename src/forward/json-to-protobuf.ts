/**
 * An OTLP/JSON ExportTraceServiceRequest (ExportMetricsServiceRequest, ExportLogsServiceRequest)
 * re-encoded as protobuf, field for field, for an upstream that takes protobuf only (OTLP/gRPC). The
 * OTLP flavour of the JSON mapping (decode-json.ts): hex ids, integer enums, int64 as decimal strings
 * or numbers (kept exact through BigInt: times in nanoseconds do not fit a double), bytes as base64,
 * doubles as numbers or "NaN"/"Infinity"/"-Infinity". Unknown keys and values of the wrong type are
 * left out, as a protobuf parser would skip them. Field numbers from opentelemetry-proto
 * (collector/{trace,metrics,logs}/v1, trace/v1, metrics/v1, logs/v1, common/v1, resource/v1);
 * written with protobufjs's Writer because its `fromObject` reads ids as base64 and int64 strings
 * through a double.
 */
import { Writer } from 'protobufjs/minimal';
import type { OtlpSignal } from '../receiver/signals';

type Json = Record<string, unknown>;

/** Throws when the body is not a JSON object (the receiver checked it already). */
export function jsonToProtobuf(body: Buffer, signal: OtlpSignal = 'traces'): Buffer {
  const request = JSON.parse(body.toString('utf8')) as unknown;
  if (!isObject(request)) throw new Error('the body is not a JSON object');
  const layout = LAYOUTS[signal];
  const w = Writer.create();
  for (const resourceLevel of objects(request[layout.resources]))
    message(w, 1, resourceLevel, (inner, r) => writeResourceLevel(inner, r, layout));
  const bytes = w.finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Every signal's request nests alike — Resource{Spans,Metrics,Logs} (resource = 1, scope list = 2,
 * schema_url = 3) holding Scope{Spans,Metrics,Logs} (scope = 1, item list = 2, schema_url = 3) — and
 * differs only in the JSON names of the lists and in its items.
 */
interface SignalLayout {
  resources: string;
  scopes: string;
  items: string;
  writeItem: (w: Writer, item: Json) => void;
}

const LAYOUTS: Record<OtlpSignal, SignalLayout> = {
  traces: { resources: 'resourceSpans', scopes: 'scopeSpans', items: 'spans', writeItem: writeSpan },
  metrics: { resources: 'resourceMetrics', scopes: 'scopeMetrics', items: 'metrics', writeItem: writeMetric },
  logs: { resources: 'resourceLogs', scopes: 'scopeLogs', items: 'logRecords', writeItem: writeLogRecord },
};

function writeResourceLevel(w: Writer, resourceLevel: Json, layout: SignalLayout): void {
  if (isObject(resourceLevel.resource)) message(w, 1, resourceLevel.resource, writeResource);
  for (const scopeLevel of objects(resourceLevel[layout.scopes]))
    message(w, 2, scopeLevel, (inner, s) => writeScopeLevel(inner, s, layout));
  string(w, 3, resourceLevel.schemaUrl);
}

function writeScopeLevel(w: Writer, scopeLevel: Json, layout: SignalLayout): void {
  if (isObject(scopeLevel.scope)) message(w, 1, scopeLevel.scope, writeScope);
  for (const item of objects(scopeLevel[layout.items])) message(w, 2, item, layout.writeItem);
  string(w, 3, scopeLevel.schemaUrl);
}

function writeResource(w: Writer, resource: Json): void {
  keyValues(w, 1, resource.attributes);
  uint32(w, 2, resource.droppedAttributesCount);
}

function writeScope(w: Writer, scope: Json): void {
  string(w, 1, scope.name);
  string(w, 2, scope.version);
  keyValues(w, 3, scope.attributes);
  uint32(w, 4, scope.droppedAttributesCount);
}

function writeSpan(w: Writer, span: Json): void {
  hexBytes(w, 1, span.traceId);
  hexBytes(w, 2, span.spanId);
  string(w, 3, span.traceState);
  hexBytes(w, 4, span.parentSpanId);
  string(w, 5, span.name);
  uint32(w, 6, span.kind);
  fixed64(w, 7, span.startTimeUnixNano);
  fixed64(w, 8, span.endTimeUnixNano);
  keyValues(w, 9, span.attributes);
  uint32(w, 10, span.droppedAttributesCount);
  for (const event of objects(span.events)) message(w, 11, event, writeEvent);
  uint32(w, 12, span.droppedEventsCount);
  for (const link of objects(span.links)) message(w, 13, link, writeLink);
  uint32(w, 14, span.droppedLinksCount);
  if (isObject(span.status)) message(w, 15, span.status, writeStatus);
  fixed32(w, 16, span.flags);
}

function writeEvent(w: Writer, event: Json): void {
  fixed64(w, 1, event.timeUnixNano);
  string(w, 2, event.name);
  keyValues(w, 3, event.attributes);
  uint32(w, 4, event.droppedAttributesCount);
}

function writeLink(w: Writer, link: Json): void {
  hexBytes(w, 1, link.traceId);
  hexBytes(w, 2, link.spanId);
  string(w, 3, link.traceState);
  keyValues(w, 4, link.attributes);
  uint32(w, 5, link.droppedAttributesCount);
  fixed32(w, 6, link.flags);
}

function writeStatus(w: Writer, status: Json): void {
  string(w, 2, status.message);
  uint32(w, 3, status.code);
}

// metrics/v1

/** The `data` oneof: the first kind present wins, as a JSON parser given two would keep one. */
function writeMetric(w: Writer, metric: Json): void {
  string(w, 1, metric.name);
  string(w, 2, metric.description);
  string(w, 3, metric.unit);
  if (isObject(metric.gauge)) message(w, 5, metric.gauge, (inner, g) => points(inner, g, writeNumberPoint));
  else if (isObject(metric.sum))
    message(w, 7, metric.sum, (inner, sum) => {
      points(inner, sum, writeNumberPoint);
      uint32(inner, 2, sum.aggregationTemporality);
      bool(inner, 3, sum.isMonotonic);
    });
  else if (isObject(metric.histogram))
    message(w, 9, metric.histogram, (inner, h) => {
      points(inner, h, writeHistogramPoint);
      uint32(inner, 2, h.aggregationTemporality);
    });
  else if (isObject(metric.exponentialHistogram))
    message(w, 10, metric.exponentialHistogram, (inner, h) => {
      points(inner, h, writeExponentialPoint);
      uint32(inner, 2, h.aggregationTemporality);
    });
  else if (isObject(metric.summary))
    message(w, 11, metric.summary, (inner, summary) => points(inner, summary, writeSummaryPoint));
  keyValues(w, 12, metric.metadata);
}

/** data_points = 1 of any metric kind. */
function points(w: Writer, data: Json, write: (w: Writer, point: Json) => void): void {
  for (const point of objects(data.dataPoints)) message(w, 1, point, write);
}

function writeNumberPoint(w: Writer, point: Json): void {
  fixed64(w, 2, point.startTimeUnixNano);
  fixed64(w, 3, point.timeUnixNano);
  numberValue(w, point, 4, 6);
  for (const exemplar of objects(point.exemplars)) message(w, 5, exemplar, writeExemplar);
  keyValues(w, 7, point.attributes);
  uint32(w, 8, point.flags);
}

function writeHistogramPoint(w: Writer, point: Json): void {
  fixed64(w, 2, point.startTimeUnixNano);
  fixed64(w, 3, point.timeUnixNano);
  fixed64(w, 4, point.count);
  optionalDouble(w, 5, point.sum);
  packedFixed64(w, 6, point.bucketCounts);
  packedDouble(w, 7, point.explicitBounds);
  for (const exemplar of objects(point.exemplars)) message(w, 8, exemplar, writeExemplar);
  keyValues(w, 9, point.attributes);
  uint32(w, 10, point.flags);
  optionalDouble(w, 11, point.min);
  optionalDouble(w, 12, point.max);
}

function writeExponentialPoint(w: Writer, point: Json): void {
  keyValues(w, 1, point.attributes);
  fixed64(w, 2, point.startTimeUnixNano);
  fixed64(w, 3, point.timeUnixNano);
  fixed64(w, 4, point.count);
  optionalDouble(w, 5, point.sum);
  sint32(w, 6, point.scale);
  fixed64(w, 7, point.zeroCount);
  if (isObject(point.positive)) message(w, 8, point.positive, writeBuckets);
  if (isObject(point.negative)) message(w, 9, point.negative, writeBuckets);
  uint32(w, 10, point.flags);
  for (const exemplar of objects(point.exemplars)) message(w, 11, exemplar, writeExemplar);
  optionalDouble(w, 12, point.min);
  optionalDouble(w, 13, point.max);
  double(w, 14, point.zeroThreshold);
}

function writeBuckets(w: Writer, buckets: Json): void {
  sint32(w, 1, buckets.offset);
  const counts = (Array.isArray(buckets.bucketCounts) ? buckets.bucketCounts : [])
    .map((c) => longBits(c, false))
    .filter((c) => c !== undefined);
  if (counts.length === 0) return;
  w.uint32((2 << 3) | 2).fork();
  for (const c of counts) w.uint64(c as unknown as number);
  w.ldelim();
}

function writeSummaryPoint(w: Writer, point: Json): void {
  fixed64(w, 2, point.startTimeUnixNano);
  fixed64(w, 3, point.timeUnixNano);
  fixed64(w, 4, point.count);
  double(w, 5, point.sum);
  for (const q of objects(point.quantileValues))
    message(w, 6, q, (inner, value) => {
      double(inner, 1, value.quantile);
      double(inner, 2, value.value);
    });
  keyValues(w, 7, point.attributes);
  uint32(w, 8, point.flags);
}

function writeExemplar(w: Writer, exemplar: Json): void {
  fixed64(w, 2, exemplar.timeUnixNano);
  numberValue(w, exemplar, 3, 6);
  hexBytes(w, 4, exemplar.spanId);
  hexBytes(w, 5, exemplar.traceId);
  keyValues(w, 7, exemplar.filteredAttributes);
}

/** The `value` oneof of a number point or exemplar: asDouble (double) or asInt (sfixed64), the first present. */
function numberValue(w: Writer, point: Json, doubleField: number, intField: number): void {
  if (point.asDouble !== undefined && point.asDouble !== null) {
    const value = doubleOf(point.asDouble);
    if (value !== undefined) w.uint32((doubleField << 3) | 1).double(value);
  } else if (point.asInt !== undefined && point.asInt !== null) {
    const bits = longBits(point.asInt, true);
    if (bits !== undefined) w.uint32((intField << 3) | 1).sfixed64(bits as unknown as number);
  }
}

// logs/v1

function writeLogRecord(w: Writer, record: Json): void {
  fixed64(w, 1, record.timeUnixNano);
  uint32(w, 2, record.severityNumber);
  string(w, 3, record.severityText);
  if (isObject(record.body)) message(w, 5, record.body, writeAnyValue);
  keyValues(w, 6, record.attributes);
  uint32(w, 7, record.droppedAttributesCount);
  fixed32(w, 8, record.flags);
  hexBytes(w, 9, record.traceId);
  hexBytes(w, 10, record.spanId);
  fixed64(w, 11, record.observedTimeUnixNano);
  string(w, 12, record.eventName);
}

function keyValues(w: Writer, field: number, list: unknown): void {
  for (const kv of objects(list)) message(w, field, kv, writeKeyValue);
}

function writeKeyValue(w: Writer, kv: Json): void {
  string(w, 1, kv.key);
  if (isObject(kv.value)) message(w, 2, kv.value, writeAnyValue);
}

/** The oneof: the first value field present wins, as a JSON parser given two would keep one. */
function writeAnyValue(w: Writer, value: Json): void {
  if (typeof value.stringValue === 'string') w.uint32((1 << 3) | 2).string(value.stringValue);
  else if (typeof value.boolValue === 'boolean') w.uint32(2 << 3).bool(value.boolValue);
  else if (value.intValue !== undefined && value.intValue !== null) {
    const bits = longBits(value.intValue, true);
    if (bits !== undefined) w.uint32(3 << 3).int64(bits as unknown as number);
  } else if (value.doubleValue !== undefined && value.doubleValue !== null) {
    const double = Number(value.doubleValue);
    if (!Number.isNaN(double) || value.doubleValue === 'NaN') w.uint32((4 << 3) | 1).double(double);
  } else if (isObject(value.arrayValue)) {
    const values = value.arrayValue.values;
    message(w, 5, value.arrayValue, (inner) => {
      for (const item of objects(values)) message(inner, 1, item, writeAnyValue);
    });
  } else if (isObject(value.kvlistValue))
    message(w, 6, value.kvlistValue, (inner, kv) => keyValues(inner, 1, kv.values));
  else if (typeof value.bytesValue === 'string')
    w.uint32((7 << 3) | 2).bytes(Buffer.from(value.bytesValue, 'base64'));
}

/** A length-delimited sub-message: written even when empty, as presence is meaningful for messages. */
function message<T>(w: Writer, field: number, value: T, write: (w: Writer, value: T) => void): void {
  w.uint32((field << 3) | 2).fork();
  write(w, value);
  w.ldelim();
}

function string(w: Writer, field: number, value: unknown): void {
  if (typeof value === 'string' && value !== '') w.uint32((field << 3) | 2).string(value);
}

function uint32(w: Writer, field: number, value: unknown): void {
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n === 'number' && Number.isInteger(n) && n !== 0) w.uint32(field << 3).uint32(n);
}

function fixed32(w: Writer, field: number, value: unknown): void {
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n === 'number' && Number.isInteger(n) && n !== 0) w.uint32((field << 3) | 5).fixed32(n);
}

function bool(w: Writer, field: number, value: unknown): void {
  if (value === true) w.uint32(field << 3).bool(true);
}

function sint32(w: Writer, field: number, value: unknown): void {
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n === 'number' && Number.isInteger(n) && n !== 0) w.uint32(field << 3).sint32(n);
}

/** A proto3 double: left out when 0, as the protobuf encoders do. */
function double(w: Writer, field: number, value: unknown): void {
  const n = doubleOf(value);
  if (n !== undefined && !Object.is(n, 0)) w.uint32((field << 3) | 1).double(n);
}

/** A proto3 `optional double`: written whenever present, 0 included (presence is its meaning). */
function optionalDouble(w: Writer, field: number, value: unknown): void {
  const n = doubleOf(value);
  if (n !== undefined) w.uint32((field << 3) | 1).double(n);
}

function packedDouble(w: Writer, field: number, list: unknown): void {
  const values = (Array.isArray(list) ? list : []).map(doubleOf).filter((n) => n !== undefined);
  if (values.length === 0) return;
  w.uint32((field << 3) | 2).fork();
  for (const n of values) w.double(n);
  w.ldelim();
}

function packedFixed64(w: Writer, field: number, list: unknown): void {
  const values = (Array.isArray(list) ? list : [])
    .map((v) => longBits(v, false))
    .filter((bits) => bits !== undefined);
  if (values.length === 0) return;
  w.uint32((field << 3) | 2).fork();
  for (const bits of values) w.fixed64(bits as unknown as number);
  w.ldelim();
}

/** A JSON double: a number, or the proto3 JSON mapping's "NaN", "Infinity", "-Infinity" (or a numeric string). */
function doubleOf(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const n = Number(value);
  return Number.isNaN(n) && value !== 'NaN' ? undefined : n;
}

function fixed64(w: Writer, field: number, value: unknown): void {
  const bits = longBits(value, false);
  if (bits !== undefined && (bits.low !== 0 || bits.high !== 0))
    w.uint32((field << 3) | 1).fixed64(bits as unknown as number);
}

/** Ids: hex in OTLP/JSON; an empty or malformed id is left out (the span's parser would reject it too). */
function hexBytes(w: Writer, field: number, value: unknown): void {
  if (typeof value !== 'string' || value === '' || value.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(value))
    return;
  w.uint32((field << 3) | 2).bytes(Buffer.from(value, 'hex'));
}

/**
 * An int64 as the low and high 32 bits protobufjs's Writer takes (its LongBits accepts any
 * `{low, high}`), exact for decimal strings beyond 2^53; undefined for anything else.
 */
function longBits(value: unknown, signed: boolean): { low: number; high: number } | undefined {
  let big: bigint;
  try {
    if (typeof value === 'string' && /^-?\d+$/.test(value.trim())) big = BigInt(value.trim());
    else if (typeof value === 'number' && Number.isInteger(value)) big = BigInt(value);
    else return undefined;
  } catch {
    return undefined;
  }
  if (!signed && big < 0n) return undefined;
  const u = BigInt.asUintN(64, big);
  return { low: Number(u & 0xffffffffn), high: Number(u >> 32n) };
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function objects(v: unknown): Json[] {
  return Array.isArray(v) ? v.filter(isObject) : [];
}
