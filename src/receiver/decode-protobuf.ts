/**
 * OTLP ExportTraceServiceRequest (binary protobuf) → DecodedSpan[], read straight off the wire.
 *
 * Field numbers follow opentelemetry-proto: collector/trace/v1/trace_service.proto,
 * trace/v1/trace.proto, common/v1/common.proto, resource/v1/resource.proto. Each message is a
 * switch on the whole tag ((field << 3) | wire type), so only the fields the pipeline reads are
 * materialised; events, links, trace_state, flags, dropped counts and the scope are skipped by
 * length without being decoded.
 *
 * Measured with bench/decode.bench.ts (512-span batches of http/pg/redis spans from the OTel JS
 * encoder, 328 B/span, one core of the shared 2-vCPU VM, Node 20): ~410k spans/s vs protobufjs
 * full decode ~230k spans/s (1.7–2.2x across runs). Before interning strings (wire-strings.ts)
 * it was ~300k; behind node:http on loopback the receiver takes ~370k spans/s (~270k gzip).
 *
 * Bounds: every nested message narrows `reader.len` to its own end, so the Reader's own checks
 * reject any field that runs past its parent; nothing recurses on input depth (nested arrays and
 * kvlists are skipped by length, groups by protobufjs's depth-limited skipType).
 */
import { Reader } from 'protobufjs/minimal';
import { SpanstatError } from '../errors';
import { isRedisRedirectionBytes } from '../model/redis-redirection';
import type { Attributes, AttributeValue, DecodedSpan, SpanSender } from '../model/span';
import type { AttributeKeyMatcher } from './attribute-keys';
import { readAnyValue, readAttribute } from './decode-protobuf-attributes';
import { type SenderFields, setSenderField, unknownSender } from './span-sender';
import { enter, nanosToMs, readString, skipField, TWO_POW_32 } from './wire-reader';
import { HexIdCache, StringInterner, type WireBuffer } from './wire-strings';

/** Spans of a ResourceSpans without a resource (or before it, until it is read). */
const UNKNOWN_SENDER = unknownSender();

/** Fields each message materialises, as bit masks of field numbers (wrong wire type → error). */
export const MASK_REQUEST = 1 << 1;
export const MASK_RESOURCE_SPANS = (1 << 1) | (1 << 2);
export const MASK_RESOURCE = 1 << 1;
export const MASK_SCOPE_SPANS = 1 << 2;
export const MASK_SPAN =
  (1 << 1) | (1 << 2) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 15);
export const MASK_STATUS = (1 << 2) | (1 << 3);
export const MASK_KEY_VALUE = (1 << 1) | (1 << 2);

// Decoding is synchronous and never re-entered, so these caches can be module-wide.
/** Span names and resource attribute keys: low cardinality. */
const names = new StringInterner(512);
const traceIds = new HexIdCache();
const parentIds = new HexIdCache();

type Visit = (span: DecodedSpan) => void;
type OnSender = ((sender: SpanSender) => void) | undefined;

/** Decodes an OTLP/HTTP protobuf trace export body; throws SPANSTAT_ERR_OTLP_DECODE when malformed. */
export function decodeTracesProtobuf(body: Uint8Array): DecodedSpan[] {
  const out: DecodedSpan[] = [];
  forEachTraceSpan(body, (span) => out.push(span));
  return out;
}

/**
 * Decodes a body span by span into `visit` (the pipeline's path: it holds at most a chunk of decoded
 * spans, never a body's). On a malformed body it throws after visiting the spans before the fault, so
 * a body should be checked with countTraceSpans (check-protobuf.ts) first. With `keptAttributes` (the
 * pipeline passes the keys it reads, protobuf-batch.ts) span attributes with other keys are skipped
 * unread.
 */
export function forEachTraceSpan(
  body: Uint8Array,
  visit: Visit,
  keptAttributes?: AttributeKeyMatcher,
  onSender?: (sender: SpanSender) => void,
): void {
  const r = Reader.create(asBuffer(body));
  traceIds.reset();
  parentIds.reset();
  try {
    while (r.pos < r.len) {
      const tag = r.tag();
      if (tag === 10) {
        // resource_spans = 1
        const parentLen = enter(r);
        readResourceSpans(r, visit, keptAttributes, onSender);
        r.len = parentLen;
      } else {
        skipField(r, tag, MASK_REQUEST);
      }
    }
  } catch (err) {
    throw decodeError(err, r.pos);
  } finally {
    // Do not keep the body alive through the caches until the next request.
    traceIds.reset();
    parentIds.reset();
  }
}

/** BufferReader decodes strings with Buffer#utf8Slice (native); wrapping a Uint8Array is free. */
export function asBuffer(body: Uint8Array): Buffer {
  return Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

/** The SpanstatError a malformed body is reported with (Reader messages hold offsets, never payload). */
export function decodeError(err: unknown, pos: number): SpanstatError {
  if (err instanceof SpanstatError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new SpanstatError('SPANSTAT_ERR_OTLP_DECODE', `invalid protobuf near byte ${pos}: ${detail}`);
}

function readResourceSpans(
  r: Reader,
  visit: Visit,
  kept: AttributeKeyMatcher | undefined,
  onSender: OnSender,
): void {
  let sender: SpanSender | undefined;
  let announced = false;
  // Field order is not guaranteed: spans read before their resource wait for its service.name.
  let early: DecodedSpan[] | undefined;
  while (r.pos < r.len) {
    const tag = r.tag();
    if (tag === 18) {
      // scope_spans = 2
      const parentLen = enter(r);
      if (sender !== undefined) {
        if (!announced) {
          announced = true;
          onSender?.(sender);
        }
        readScopeSpans(r, sender, visit, kept);
      } else {
        const held: DecodedSpan[] = early ?? [];
        early = held;
        readScopeSpans(r, UNKNOWN_SENDER, (span) => held.push(span), kept);
      }
      r.len = parentLen;
    } else if (tag === 10) {
      // resource = 1 (a second one, which no encoder writes, replaces the first)
      const parentLen = enter(r);
      sender = readResource(r);
      announced = false;
      r.len = parentLen;
    } else {
      skipField(r, tag, MASK_RESOURCE_SPANS);
    }
  }
  if (early === undefined) return;
  onSender?.(sender ?? UNKNOWN_SENDER);
  for (const span of early) {
    if (sender !== undefined) span.service = sender.service;
    visit(span);
  }
}

/** The resource's attributes the pipeline reads (service.name and the sender's process), once per resource. */
function readResource(r: Reader): SpanSender {
  const sender = unknownSender();
  while (r.pos < r.len) {
    const tag = r.tag();
    if (tag === 10) {
      // attributes = 1 (KeyValue)
      const parentLen = enter(r);
      readResourceAttribute(r, sender);
      r.len = parentLen;
    } else {
      skipField(r, tag, MASK_RESOURCE);
    }
  }
  return sender;
}

function readResourceAttribute(r: Reader, sender: SenderFields): void {
  let key = '';
  let value: AttributeValue | undefined;
  while (r.pos < r.len) {
    const tag = r.tag();
    if (tag === 10) key = readString(r, names);
    else if (tag === 18) {
      const parentLen = enter(r);
      value = readAnyValue(r, false);
      r.len = parentLen;
    } else skipField(r, tag, MASK_KEY_VALUE);
  }
  setSenderField(sender, key, value);
}

function readScopeSpans(
  r: Reader,
  sender: SpanSender,
  visit: Visit,
  kept: AttributeKeyMatcher | undefined,
): void {
  while (r.pos < r.len) {
    const tag = r.tag();
    if (tag === 18) {
      // spans = 2
      const parentLen = enter(r);
      const span = readSpan(r, sender, kept);
      r.len = parentLen;
      visit(span);
    } else {
      skipField(r, tag, MASK_SCOPE_SPANS);
    }
  }
}

function readSpan(r: Reader, sender: SpanSender, kept: AttributeKeyMatcher | undefined): DecodedSpan {
  let traceId = '';
  let spanId = '';
  let parentSpanId = '';
  let name = '';
  let kind = 0;
  let statusCode = 0;
  let redirected = false;
  let startLo = 0;
  let startHi = 0;
  let endLo = 0;
  let endHi = 0;
  const attributes: Attributes = {};
  while (r.pos < r.len) {
    const tag = r.tag();
    switch (tag) {
      case 10: // trace_id = 1, bytes
        traceId = readId(r, 16, 'trace_id', traceIds);
        break;
      case 18: // span_id = 2, bytes
        spanId = readId(r, 8, 'span_id', undefined);
        break;
      case 34: // parent_span_id = 4, bytes (empty for a root span)
        parentSpanId = readId(r, 8, 'parent_span_id', parentIds);
        break;
      case 42: // name = 5, string
        name = readString(r, names);
        break;
      case 48: // kind = 6, enum
        kind = r.int32();
        break;
      case 57: // start_time_unix_nano = 7, fixed64 kept as two uint32 halves (exact)
        startLo = r.fixed32();
        startHi = r.fixed32();
        break;
      case 65: // end_time_unix_nano = 8, fixed64
        endLo = r.fixed32();
        endHi = r.fixed32();
        break;
      case 74: {
        // attributes = 9, KeyValue
        const parentLen = enter(r);
        readAttribute(r, attributes, kept);
        r.len = parentLen;
        break;
      }
      case 122: {
        // status = 15, Status
        const parentLen = enter(r);
        readStatus(r);
        statusCode = status.code;
        redirected = status.redirected;
        r.len = parentLen;
        break;
      }
      default:
        skipField(r, tag, MASK_SPAN);
    }
  }
  if (traceId === '') throw new Error('span without trace_id');
  if (spanId === '') throw new Error('span without span_id');
  // Differences of the halves are exact integers; recombined they stay below 2^53 for any
  // span shorter than ~104 days, so the duration carries full nanosecond precision.
  const durationNs = (endHi - startHi) * TWO_POW_32 + (endLo - startLo);
  const span: DecodedSpan = {
    service: sender.service,
    traceId,
    spanId,
    parentSpanId,
    name,
    kind,
    startMs: nanosToMs(startHi, startLo),
    // A span that never ended (end 0) or with a skewed clock would go negative: count it as 0.
    durationMs: durationNs > 0 ? durationNs / 1e6 : 0,
    statusCode,
    attributes,
  };
  if (redirected) span.redirected = true;
  return span;
}

function readId(r: Reader, size: number, field: string, cache: HexIdCache | undefined): string {
  const len = r.size();
  if (len !== size) {
    if (len === 0 && field === 'parent_span_id') return '';
    throw new Error(`${field} is ${len} bytes, expected ${size}`);
  }
  const start = r.pos;
  if (start + len > r.len) throw new Error(`${field} runs past the enclosing message`);
  r.pos = start + len;
  const buf = r.buf as WireBuffer;
  return cache ? cache.get(buf, start, len) : buf.hexSlice(start, start + len);
}

/** readStatus's result, one object reused (a span's status is read before the next one's). */
const status = { code: 0, redirected: false };

/** Status.code into `status`, and whether its message is a Redis Cluster redirection (read as bytes). */
function readStatus(r: Reader): void {
  status.code = 0;
  status.redirected = false;
  while (r.pos < r.len) {
    const tag = r.tag();
    if (tag === 24)
      status.code = r.int32(); // code = 3, enum
    else if (tag === 18) {
      // message = 2, string
      const len = r.size();
      const start = r.pos;
      if (start + len > r.len)
        throw new Error(`status message of ${len} bytes runs past the enclosing message`);
      r.pos = start + len;
      status.redirected = isRedisRedirectionBytes(r.buf, start, start + len);
    } else skipField(r, tag, MASK_STATUS);
  }
}
