/**
 * An OTLP/JSON ExportTraceServiceRequest re-encoded as protobuf, field for field, for an upstream
 * that takes protobuf only (OTLP/gRPC). The OTLP flavour of the JSON mapping (decode-json.ts): hex
 * ids, integer enums, int64 as decimal strings or numbers (kept exact through BigInt: span times in
 * nanoseconds do not fit a double), bytes as base64. Unknown keys and values of the wrong type are
 * left out, as a protobuf parser would skip them. Field numbers from opentelemetry-proto
 * (collector/trace/v1, trace/v1, common/v1, resource/v1); written with protobufjs's Writer because
 * its `fromObject` reads ids as base64 and int64 strings through a double.
 */
import { Writer } from 'protobufjs/minimal';

type Json = Record<string, unknown>;

/** Throws when the body is not a JSON object (the receiver checked it already). */
export function jsonToProtobuf(body: Buffer): Buffer {
  const request = JSON.parse(body.toString('utf8')) as unknown;
  if (!isObject(request)) throw new Error('the body is not a JSON object');
  const w = Writer.create();
  for (const rs of objects(request.resourceSpans)) message(w, 1, rs, writeResourceSpans);
  const bytes = w.finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function writeResourceSpans(w: Writer, rs: Json): void {
  if (isObject(rs.resource)) message(w, 1, rs.resource, writeResource);
  for (const ss of objects(rs.scopeSpans)) message(w, 2, ss, writeScopeSpans);
  string(w, 3, rs.schemaUrl);
}

function writeResource(w: Writer, resource: Json): void {
  keyValues(w, 1, resource.attributes);
  uint32(w, 2, resource.droppedAttributesCount);
}

function writeScopeSpans(w: Writer, ss: Json): void {
  if (isObject(ss.scope)) message(w, 1, ss.scope, writeScope);
  for (const span of objects(ss.spans)) message(w, 2, span, writeSpan);
  string(w, 3, ss.schemaUrl);
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
