/**
 * Wire-level helpers over protobufjs's Reader shared by the OTLP protobuf decoders: bounded
 * sub-messages, skipping with wire-type checks, interned strings and exact 64-bit integers.
 */
import type { Reader } from 'protobufjs/minimal';
import type { StringInterner, WireBuffer } from './wire-strings';

export const TWO_POW_32 = 4294967296;

/** Reads a length prefix and narrows the reader to that sub-message; returns the parent's end. */
export function enter(r: Reader): number {
  const size = r.size();
  const end = r.pos + size;
  if (end > r.len) throw new Error(`length ${size} runs past the enclosing message`);
  const parentLen = r.len;
  r.len = end;
  return parentLen;
}

/** Skips an unread field; a materialised field (bit set in `materialised`) with another wire type is an error. */
export function skipField(r: Reader, tag: number, materialised: number): void {
  const field = tag >>> 3;
  if (field === 0) throw new Error('field number 0');
  if (field < 32 && (materialised >>> field) & 1) {
    throw new Error(`field ${field} has unexpected wire type ${tag & 7}`);
  }
  r.skipType(tag & 7, 0, field);
}

/** A length-delimited string through an interner (bounds checked like Reader#string). */
export function readString(r: Reader, interner: StringInterner): string {
  const len = r.size();
  const start = r.pos;
  const end = start + len;
  if (end > r.len) throw new Error(`string of ${len} bytes runs past the enclosing message`);
  r.pos = end;
  return interner.get(r.buf as WireBuffer, start, end);
}

/**
 * hi·2^32 + lo nanoseconds → ms. 2^32 = 4294·10^6 + 967296, so whole milliseconds and the
 * sub-millisecond rest come out of exact integer arithmetic (hi·967296 + lo < 2^53) and the
 * result is rounded once, like BigInt division would.
 */
export function nanosToMs(hi: number, lo: number): number {
  const rest = hi * 967296 + lo;
  const restMs = Math.floor(rest / 1e6);
  return hi * 4294 + restMs + (rest - restMs * 1e6) / 1e6;
}

/**
 * int64 varint → number (exact up to 2^53, nearest double beyond). Reader#int64 would allocate
 * a LongBits and a Long per value; ports, status codes and counters make ints common.
 */
export function readInt64(r: Reader): number {
  const buf = r.buf;
  const len = r.len;
  let pos = r.pos;
  let lo = 0;
  let b = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    if (pos >= len) throw new Error('truncated varint');
    b = buf[pos++];
    lo |= (b & 127) << shift;
    if (b < 128) {
      r.pos = pos;
      return lo;
    }
  }
  if (pos >= len) throw new Error('truncated varint');
  b = buf[pos++];
  lo |= (b & 15) << 28;
  let hi = (b & 127) >> 4;
  if (b < 128) {
    r.pos = pos;
    return hi * TWO_POW_32 + (lo >>> 0);
  }
  for (let shift = 3; shift < 38; shift += 7) {
    if (pos >= len) throw new Error('truncated varint');
    b = buf[pos++];
    hi |= (b & 127) << shift;
    if (b < 128) {
      r.pos = pos;
      // hi is the signed upper word: negative int64 values are ten-byte two's complement.
      return (hi | 0) * TWO_POW_32 + (lo >>> 0);
    }
  }
  throw new Error('varint longer than 10 bytes');
}
