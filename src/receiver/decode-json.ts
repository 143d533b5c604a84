/**
 * OTLP/JSON ExportTraceServiceRequest → DecodedSpan[]. The OTLP flavour of the proto3 JSON
 * mapping: lowerCamelCase keys, hex trace/span ids (case-insensitive), integer enums, int64 as
 * decimal strings or numbers. Unknown keys are ignored, as the spec requires.
 *
 * Error messages name the field and what was expected but never echo a value from the body:
 * bodies carry SQL text and Redis keys, and the message goes back to the client and the log.
 */
import { SpanstatError } from '../errors';
import { isRedisRedirection } from '../model/redis-redirection';
import type { Attributes, AttributeValue, DecodedSpan, SpanBatch, SpanSender } from '../model/span';
import { isSenderKey, setSenderField, unknownSender } from './span-sender';

type Json = Record<string, unknown>;

/** Decodes an OTLP/HTTP JSON trace export body; throws SPANSTAT_ERR_OTLP_DECODE when invalid. */
export function decodeTracesJson(text: string): DecodedSpan[] {
  return decodeResourceSpansJson(text).flatMap((group) => group.spans);
}

/** As decodeTracesJson, as the batch the receiver hands the pipeline: each resource's sender before its spans. */
export function jsonBatch(text: string): SpanBatch {
  const groups = decodeResourceSpansJson(text);
  let size = 0;
  for (const group of groups) size += group.spans.length;
  return {
    size,
    forEach(visit, onSender) {
      for (const group of groups) {
        onSender?.(group.sender);
        for (const span of group.spans) visit(span);
      }
    },
  };
}

function decodeResourceSpansJson(text: string): { sender: SpanSender; spans: DecodedSpan[] }[] {
  // An empty body is an empty request, which the spec says to accept.
  if (text.trim() === '') return [];
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch {
    // V8's SyntaxError message quotes the body, so it is not passed on.
    throw fail('body is not valid JSON');
  }
  const out: { sender: SpanSender; spans: DecodedSpan[] }[] = [];
  const request = asObject(root, 'request');
  for (const rs of asArray(request.resourceSpans, 'resourceSpans')) {
    const resourceSpans = asObject(rs, 'resourceSpans[]');
    const sender = readSender(resourceSpans.resource);
    const spans: DecodedSpan[] = [];
    for (const ss of asArray(resourceSpans.scopeSpans, 'scopeSpans')) {
      const scopeSpans = asObject(ss, 'scopeSpans[]');
      for (const s of asArray(scopeSpans.spans, 'spans'))
        spans.push(readSpan(asObject(s, 'spans[]'), sender));
    }
    out.push({ sender, spans });
  }
  return out;
}

function fail(detail: string): SpanstatError {
  return new SpanstatError('SPANSTAT_ERR_OTLP_DECODE', `invalid OTLP/JSON: ${detail}`);
}

function asObject(v: unknown, field: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw fail(`${field} must be an object`);
  return v as Json;
}

/** Absent or null repeated fields are empty, as in proto3. */
function asArray(v: unknown, field: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw fail(`${field} must be an array`);
  return v;
}

function readSender(resource: unknown): SpanSender {
  const sender = unknownSender();
  if (resource === undefined || resource === null) return sender;
  const attrs = asArray(asObject(resource, 'resource').attributes, 'resource.attributes');
  for (const kv of attrs) {
    const o = asObject(kv, 'resource.attributes[]');
    if (typeof o.key !== 'string' || !isSenderKey(o.key)) continue;
    setSenderField(sender, o.key, anyValue(o.value, 'resource.attributes[].value', false));
  }
  return sender;
}

function readSpan(s: Json, sender: SpanSender): DecodedSpan {
  const start = nanos(s.startTimeUnixNano, 'startTimeUnixNano');
  const end = nanos(s.endTimeUnixNano, 'endTimeUnixNano');
  // Seconds and nanoseconds are subtracted separately, so the difference is exact.
  const durationNs = (end.sec - start.sec) * 1e9 + (end.ns - start.ns);
  const attributes: Attributes = {};
  for (const kv of asArray(s.attributes, 'attributes')) {
    const o = asObject(kv, 'attributes[]');
    if (typeof o.key !== 'string') throw fail('attributes[].key must be a string');
    const v = anyValue(o.value, 'attributes[].value', false);
    if (o.key !== '' && v !== undefined) attributes[o.key] = v;
  }
  let statusCode = 0;
  let redirected = false;
  if (s.status !== undefined && s.status !== null) {
    const status = asObject(s.status, 'status');
    statusCode = enumValue(status.code, 'status.code', STATUS_CODE_NAMES);
    redirected = typeof status.message === 'string' && isRedisRedirection(status.message);
  }
  const span: DecodedSpan = {
    service: sender.service,
    traceId: hexId(s.traceId, 16, 'traceId', false),
    spanId: hexId(s.spanId, 8, 'spanId', false),
    parentSpanId: hexId(s.parentSpanId, 8, 'parentSpanId', true),
    name: optionalString(s.name, 'name'),
    kind: enumValue(s.kind, 'kind', SPAN_KIND_NAMES),
    startMs: toMs(start),
    durationMs: durationNs > 0 ? durationNs / 1e6 : 0,
    statusCode,
    attributes,
  };
  if (redirected) span.redirected = true;
  return span;
}

const HEX = /^[0-9a-fA-F]*$/;

function hexId(v: unknown, bytes: number, field: string, optional: boolean): string {
  if (optional && (v === undefined || v === null || v === '')) return '';
  if (typeof v !== 'string' || v.length !== bytes * 2 || !HEX.test(v)) {
    throw fail(`${field} must be ${bytes * 2} hex digits`);
  }
  return v.toLowerCase();
}

function optionalString(v: unknown, field: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw fail(`${field} must be a string`);
  return v;
}

/**
 * An enum as a number, or by its name as the proto3 JSON mapping also allows (`SPAN_KIND_SERVER`,
 * `STATUS_CODE_ERROR`; the OpenTelemetry Collector accepts both).
 */
function enumValue(v: unknown, field: string, names: Readonly<Record<string, number>>): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'string' && Object.hasOwn(names, v)) return names[v];
  if (typeof v !== 'number' || !Number.isInteger(v))
    throw fail(`${field} must be an integer enum value or one of ${Object.keys(names).join(', ')}`);
  return v;
}

const SPAN_KIND_NAMES = {
  SPAN_KIND_UNSPECIFIED: 0,
  SPAN_KIND_INTERNAL: 1,
  SPAN_KIND_SERVER: 2,
  SPAN_KIND_CLIENT: 3,
  SPAN_KIND_PRODUCER: 4,
  SPAN_KIND_CONSUMER: 5,
} as const;

const STATUS_CODE_NAMES = { STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 } as const;

const UINT64 = /^\d{1,20}$/;

/**
 * fixed64 nanoseconds split into whole seconds and the rest. A decimal string is split by digits,
 * so 1.7e18 ns keeps every nanosecond; a JSON number above 2^53 was already rounded by the parser.
 */
function nanos(v: unknown, field: string): { sec: number; ns: number } {
  if (v === undefined || v === null) return { sec: 0, ns: 0 };
  if (typeof v === 'string') {
    if (!UINT64.test(v)) throw fail(`${field} must be an unsigned decimal integer`);
    const cut = v.length - 9;
    return cut > 0 ? { sec: Number(v.slice(0, cut)), ns: Number(v.slice(cut)) } : { sec: 0, ns: Number(v) };
  }
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) {
    const sec = Math.floor(v / 1e9);
    return { sec, ns: v - sec * 1e9 };
  }
  throw fail(`${field} must be an unsigned integer or decimal string`);
}

/** Whole ms exactly, then the sub-ms rest: the same single rounding as the protobuf decoder. */
function toMs(t: { sec: number; ns: number }): number {
  const ms = Math.floor(t.ns / 1e6);
  return t.sec * 1e3 + ms + (t.ns - ms * 1e6) / 1e6;
}

const INT64 = /^-?\d{1,19}$/;

/** AnyValue → scalar; arrays of scalars joined with ','; kvlist, bytes and empty values → undefined. */
function anyValue(v: unknown, field: string, inArray: boolean): AttributeValue | undefined {
  if (v === undefined || v === null) return undefined;
  const o = asObject(v, field);
  if (o.stringValue !== undefined) {
    if (typeof o.stringValue !== 'string') throw fail(`${field}.stringValue must be a string`);
    return o.stringValue;
  }
  if (o.boolValue !== undefined) {
    if (typeof o.boolValue !== 'boolean') throw fail(`${field}.boolValue must be a boolean`);
    return o.boolValue;
  }
  if (o.intValue !== undefined) {
    const iv = o.intValue;
    if (typeof iv === 'number' && Number.isInteger(iv)) return iv;
    if (typeof iv === 'string' && INT64.test(iv)) return Number(iv);
    throw fail(`${field}.intValue must be an integer or decimal string`);
  }
  if (o.doubleValue !== undefined) {
    const dv = o.doubleValue;
    if (typeof dv === 'number') return dv;
    if (typeof dv === 'string') {
      // proto3 JSON writes non-finite doubles as words and allows numeric strings.
      if (dv === 'NaN') return Number.NaN;
      const n = Number(dv);
      if (dv.trim() !== '' && !Number.isNaN(n)) return n;
    }
    throw fail(`${field}.doubleValue must be a number`);
  }
  if (o.arrayValue !== undefined) {
    if (inArray) return undefined;
    const parts: string[] = [];
    for (const item of asArray(
      asObject(o.arrayValue, `${field}.arrayValue`).values,
      `${field}.arrayValue.values`,
    )) {
      const p = anyValue(item, `${field}.arrayValue.values[]`, true);
      if (p !== undefined) parts.push(String(p));
    }
    return parts.join(',');
  }
  return undefined;
}
