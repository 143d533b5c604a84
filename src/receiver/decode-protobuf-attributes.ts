/**
 * OTLP KeyValue / AnyValue (common/v1/common.proto) → flat scalar attributes, off the wire.
 */
import type { Reader } from 'protobufjs/minimal';
import type { Attributes, AttributeValue } from '../model/span';
import type { AttributeKeyMatcher } from './attribute-keys';
import { enter, readInt64, readString, skipField } from './wire-reader';
import { StringInterner, type WireBuffer } from './wire-strings';

/** Fields each message materialises, as bit masks of field numbers (wrong wire type → error). */
const MASK_KEY_VALUE = (1 << 1) | (1 << 2);
export const MASK_ANY_VALUE = (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 5);
export const MASK_ARRAY = 1 << 1;

// Decoding is synchronous and never re-entered, so the interners can be module-wide.
/** Attribute keys: a few dozen distinct ones in practice. */
const keys = new StringInterner(512);
/** Short string values ('postgresql', 'GET', '127.0.0.1', routes); a miss only costs a copy. */
const values = new StringInterner(2048);

/**
 * One KeyValue into `attributes` (last duplicate wins; empty keys and dropped values skipped). With
 * `kept`, only keys it matches are kept and any other key's value is skipped by length, unread (its
 * bytes were checked on receipt, check-protobuf.ts).
 */
export function readAttribute(r: Reader, attributes: Attributes, kept?: AttributeKeyMatcher): void {
  // undefined: a key `kept` does not match.
  let key: string | undefined = '';
  let value: AttributeValue | undefined;
  while (r.pos < r.len) {
    const tag = r.tag();
    if (tag === 10) {
      // key = 1
      key = kept === undefined ? readString(r, keys) : readKeptKey(r, kept);
    } else if (tag === 18) {
      // value = 2, AnyValue (the key nearly always comes first, so an unread one is known here)
      if (key === undefined) {
        r.skip(r.size());
        continue;
      }
      const parentLen = enter(r);
      value = readAnyValue(r, false);
      r.len = parentLen;
    } else {
      skipField(r, tag, MASK_KEY_VALUE);
    }
  }
  if (key !== undefined && key !== '' && value !== undefined) attributes[key] = value;
}

/**
 * A length-delimited key (bounds checked like readString) → the kept key it spells, or undefined.
 * The check is written out here and in readString rather than shared: one helper that both called
 * cost the decode 3.3% more instructions per span (bench:instructions), V8 not inlining it everywhere.
 */
function readKeptKey(r: Reader, kept: AttributeKeyMatcher): string | undefined {
  const len = r.size();
  const start = r.pos;
  const end = start + len;
  if (end > r.len) throw new Error(`string of ${len} bytes runs past the enclosing message`);
  r.pos = end;
  return kept.match(r.buf as WireBuffer, start, end);
}

/**
 * AnyValue → scalar. Arrays of scalars are joined with ','; kvlists, bytes and (inside an
 * array) nested arrays yield undefined. The oneof's last field wins, as in protobuf.
 */
export function readAnyValue(r: Reader, inArray: boolean): AttributeValue | undefined {
  let value: AttributeValue | undefined;
  while (r.pos < r.len) {
    const tag = r.tag();
    switch (tag) {
      case 10: // string_value = 1
        value = readString(r, values);
        break;
      case 16: // bool_value = 2
        value = r.bool();
        break;
      case 24: // int_value = 3, int64
        value = readInt64(r);
        break;
      case 33: // double_value = 4
        value = r.double();
        break;
      case 42: // array_value = 5
        if (inArray) {
          r.skip(r.size());
          value = undefined;
        } else {
          const parentLen = enter(r);
          value = readArray(r);
          r.len = parentLen;
        }
        break;
      default:
        // kvlist_value = 6, bytes_value = 7, string_value_strindex = 8 (profiles only): not kept.
        if (tag === 50 || tag === 58 || tag === 64) value = undefined;
        skipField(r, tag, MASK_ANY_VALUE);
    }
  }
  return value;
}

function readArray(r: Reader): string {
  let joined = '';
  let first = true;
  while (r.pos < r.len) {
    const tag = r.tag();
    if (tag === 10) {
      // values = 1, AnyValue
      const parentLen = enter(r);
      const v = readAnyValue(r, true);
      r.len = parentLen;
      if (v === undefined) continue;
      joined = first ? String(v) : `${joined},${v}`;
      first = false;
    } else {
      skipField(r, tag, MASK_ARRAY);
    }
  }
  return joined;
}
