/**
 * Turning wire bytes into strings without paying for it twice. Profiling the decoder on the
 * bench mix showed ~37% of its time in Buffer#utf8Slice and ~13% in hex conversion, for strings
 * that mostly repeat: attribute keys, span names, 'postgresql', the trace id shared by a
 * request's spans. An interned string is also already internalised when used as a property key.
 */

/**
 * Node's native slices behind Buffer#toString('utf8' | 'hex', start, end), minus its argument
 * checks (protobufjs's BufferReader uses utf8Slice the same way). Present on every Node Buffer.
 */
export type WireBuffer = Buffer & {
  utf8Slice(start: number, end: number): string;
  hexSlice(start: number, end: number): string;
};

/** Strings longer than this are decoded every time (SQL text, URLs: little repetition). */
const MAX_INTERNED_BYTES = 64;

/**
 * A fixed-size, direct-mapped cache of short UTF-8 strings keyed by their bytes. A miss costs a
 * hash and a copy into a preallocated arena; memory stays bounded whatever the cardinality.
 */
export class StringInterner {
  private readonly mask: number;
  private readonly lengths: Int32Array;
  private readonly arena: Uint8Array;
  private readonly strings: string[];

  /** slots: a power of two. */
  constructor(slots: number) {
    this.mask = slots - 1;
    this.lengths = new Int32Array(slots).fill(-1);
    this.arena = new Uint8Array(slots * MAX_INTERNED_BYTES);
    this.strings = new Array<string>(slots).fill('');
  }

  /** The string for buf[start, end); the caller has checked the bounds. */
  get(buf: WireBuffer, start: number, end: number): string {
    const len = end - start;
    if (len > MAX_INTERNED_BYTES) return buf.utf8Slice(start, end);
    let h = len;
    for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i], 16777619);
    const slot = (h ^ (h >>> 15)) & this.mask;
    const arena = this.arena;
    const base = slot * MAX_INTERNED_BYTES;
    if (this.lengths[slot] === len) {
      let i = 0;
      while (i < len && arena[base + i] === buf[start + i]) i++;
      if (i === len) return this.strings[slot];
    }
    const s = buf.utf8Slice(start, end);
    for (let i = 0; i < len; i++) arena[base + i] = buf[start + i];
    this.lengths[slot] = len;
    this.strings[slot] = s;
    return s;
  }
}

/**
 * Lowercase hex of an id, reusing the previous result when the bytes match: consecutive spans of
 * one request share the trace id and usually the parent span id.
 */
export class HexIdCache {
  private buf: Buffer | undefined;
  private start = -1;
  private len = 0;
  private hex = '';

  /** Forget the previous body (its bytes may be reused by the next one). */
  reset(): void {
    this.buf = undefined;
    this.start = -1;
  }

  get(buf: WireBuffer, start: number, len: number): string {
    if (this.buf === buf && this.len === len) {
      const prev = this.start;
      let i = 0;
      while (i < len && buf[prev + i] === buf[start + i]) i++;
      if (i === len) return this.hex;
    }
    this.buf = buf;
    this.start = start;
    this.len = len;
    this.hex = buf.hexSlice(start, start + len);
    return this.hex;
  }
}
