/**
 * The receipt-time check of an OTLP/HTTP protobuf trace body: walks the same structure as
 * decode-protobuf.ts with the same bounds, wire-type and id checks, but materialises nothing, and
 * counts the spans. The receiver answers 400 when it throws; the pipeline decodes the body later
 * (forEachTraceSpan), one span at a time. test/unit/receiver-check-protobuf.test.ts holds the two
 * walks to the same verdict on thousands of corrupted bodies.
 *
 * Why a second walk: holding decoded batches until the pipeline reached them kept ~1 KB of heap
 * objects per pending span alive across young-generation collections, which made a small V8 heap
 * (the sidecar's memory target) expensive in GC time.
 */
import { Reader } from 'protobufjs/minimal';
import {
  asBuffer,
  decodeError,
  MASK_KEY_VALUE,
  MASK_REQUEST,
  MASK_RESOURCE,
  MASK_RESOURCE_SPANS,
  MASK_SCOPE_SPANS,
  MASK_SPAN,
  MASK_STATUS,
} from './decode-protobuf';
import { MASK_ANY_VALUE, MASK_ARRAY } from './decode-protobuf-attributes';
import { enter, readInt64, skipField } from './wire-reader';

/** Spans in a trace export body; throws SPANSTAT_ERR_OTLP_DECODE exactly when decoding would. */
export function countTraceSpans(body: Uint8Array): number {
  const r = Reader.create(asBuffer(body));
  let spans = 0;
  try {
    while (r.pos < r.len) {
      const tag = r.tag();
      if (tag === 10) {
        const parentLen = enter(r);
        spans += checkResourceSpans(r);
        r.len = parentLen;
      } else {
        skipField(r, tag, MASK_REQUEST);
      }
    }
  } catch (err) {
    throw decodeError(err, r.pos);
  }
  return spans;
}

function checkResourceSpans(r: Reader): number {
  let spans = 0;
  while (r.pos < r.len) {
    const tag = r.tag();
    if (tag === 18) {
      const parentLen = enter(r);
      spans += checkScopeSpans(r);
      r.len = parentLen;
    } else if (tag === 10) {
      const parentLen = enter(r);
      checkResource(r);
      r.len = parentLen;
    } else {
      skipField(r, tag, MASK_RESOURCE_SPANS);
    }
  }
  return spans;
}

function checkResource(r: Reader): void {
  while (r.pos < r.len) {
    const tag = r.tag();
    if (tag === 10) {
      const parentLen = enter(r);
      checkKeyValue(r);
      r.len = parentLen;
    } else {
      skipField(r, tag, MASK_RESOURCE);
    }
  }
}

function checkScopeSpans(r: Reader): number {
  let spans = 0;
  while (r.pos < r.len) {
    const tag = r.tag();
    if (tag === 18) {
      const parentLen = enter(r);
      checkSpan(r);
      r.len = parentLen;
      spans++;
    } else {
      skipField(r, tag, MASK_SCOPE_SPANS);
    }
  }
  return spans;
}

function checkSpan(r: Reader): void {
  let hasTraceId = false;
  let hasSpanId = false;
  while (r.pos < r.len) {
    const tag = r.tag();
    switch (tag) {
      case 10:
        checkId(r, 16, 'trace_id');
        hasTraceId = true;
        break;
      case 18:
        checkId(r, 8, 'span_id');
        hasSpanId = true;
        break;
      case 34:
        checkId(r, 8, 'parent_span_id');
        break;
      case 42:
        skipBytes(r, 'string');
        break;
      case 48:
        r.int32();
        break;
      case 57:
      case 65:
        r.skip(8);
        break;
      case 74: {
        const parentLen = enter(r);
        checkKeyValue(r);
        r.len = parentLen;
        break;
      }
      case 122: {
        const parentLen = enter(r);
        checkStatus(r);
        r.len = parentLen;
        break;
      }
      default:
        skipField(r, tag, MASK_SPAN);
    }
  }
  if (!hasTraceId) throw new Error('span without trace_id');
  if (!hasSpanId) throw new Error('span without span_id');
}

function checkId(r: Reader, size: number, field: string): void {
  const len = r.size();
  if (len !== size) {
    if (len === 0 && field === 'parent_span_id') return;
    throw new Error(`${field} is ${len} bytes, expected ${size}`);
  }
  if (r.pos + len > r.len) throw new Error(`${field} runs past the enclosing message`);
  r.pos += len;
}

function skipBytes(r: Reader, what: string): void {
  const len = r.size();
  if (r.pos + len > r.len) throw new Error(`${what} of ${len} bytes runs past the enclosing message`);
  r.pos += len;
}

function checkStatus(r: Reader): void {
  while (r.pos < r.len) {
    const tag = r.tag();
    if (tag === 24) r.int32();
    else if (tag === 18) skipBytes(r, 'status message');
    else skipField(r, tag, MASK_STATUS);
  }
}

function checkKeyValue(r: Reader): void {
  while (r.pos < r.len) {
    const tag = r.tag();
    if (tag === 10) skipBytes(r, 'string');
    else if (tag === 18) {
      const parentLen = enter(r);
      checkAnyValue(r, false);
      r.len = parentLen;
    } else skipField(r, tag, MASK_KEY_VALUE);
  }
}

function checkAnyValue(r: Reader, inArray: boolean): void {
  while (r.pos < r.len) {
    const tag = r.tag();
    switch (tag) {
      case 10:
        skipBytes(r, 'string');
        break;
      case 16:
        r.bool();
        break;
      case 24:
        readInt64(r);
        break;
      case 33:
        r.skip(8);
        break;
      case 42:
        if (inArray) r.skip(r.size());
        else {
          const parentLen = enter(r);
          checkArray(r);
          r.len = parentLen;
        }
        break;
      default:
        skipField(r, tag, MASK_ANY_VALUE);
    }
  }
}

function checkArray(r: Reader): void {
  while (r.pos < r.len) {
    const tag = r.tag();
    if (tag === 10) {
      const parentLen = enter(r);
      checkAnyValue(r, true);
      r.len = parentLen;
    } else {
      skipField(r, tag, MASK_ARRAY);
    }
  }
}
