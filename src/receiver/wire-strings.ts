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
/** Bytes at the end of a string that go into its interner hash (see StringInterner.get). */
const HASHED_TAIL = 16;

/**
 * A fixed-size cache of short UTF-8 strings keyed by their bytes, two-way set-associative: a string
 * may sit in either slot of its pair, so two hot strings that hash alike (say two attribute keys of
 * every request span) both stay, and one-off values (ids, paths) replace each other before they
 * replace a string that is being hit. A miss costs a hash and a copy into a preallocated arena;
 * memory stays bounded whatever the cardinality.
 */
export class StringInterner {
  private readonly pairMask: number;
  private readonly lengths: Int32Array;
  private readonly arena: Uint8Array;
  private readonly strings: string[];
  /** 1 when the slot was hit since it was filled (the pair's replacement choice, see get). */
  private readonly used: Uint8Array;
  /** Per pair, which slot (0 or 1) was filled less recently. */
  private readonly older: Uint8Array;

  /** slots: a power of two, at least 2. */
  constructor(slots: number) {
    this.pairMask = (slots >> 1) - 1;
    this.lengths = new Int32Array(slots).fill(-1);
    this.arena = new Uint8Array(slots * MAX_INTERNED_BYTES);
    this.strings = new Array<string>(slots).fill('');
    this.used = new Uint8Array(slots);
    this.older = new Uint8Array(slots >> 1);
  }

  /** The string for buf[start, end); the caller has checked the bounds. */
  get(buf: WireBuffer, start: number, end: number): string {
    const len = end - start;
    if (len > MAX_INTERNED_BYTES) return buf.utf8Slice(start, end);
    // The length, the first and middle bytes and at most the last HASHED_TAIL bytes: strings that differ
    // mostly do so at the end (ids, counters, verbs), and the compare reads every byte anyway, so a
    // collision costs a re-decode, never a wrong string. (Five sampled bytes were cheaper but let keys
    // differing in one middle digit thrash one pair.)
    let h = len === 0 ? 0 : Math.imul(len ^ (buf[start] << 8) ^ (buf[start + (len >> 1)] << 16), 0x9e3779b1);
    for (let i = len <= HASHED_TAIL ? start : end - HASHED_TAIL; i < end; i++) {
      h = Math.imul(h ^ buf[i], 16777619);
    }
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h ^= h >>> 13;
    const first = (h & this.pairMask) << 1;
    const used = this.used;
    if (this.matches(first, buf, start, len)) {
      used[first] = 1;
      return this.strings[first];
    }
    if (this.matches(first + 1, buf, start, len)) {
      used[first + 1] = 1;
      return this.strings[first + 1];
    }
    // Second chance: a slot not hit since it was filled goes first (both such: the older one), so a run
    // of one-off values keeps replacing each other rather than the pair's hot string.
    const pair = first >> 1;
    let slot: number;
    if (used[first] === used[first + 1]) {
      if (used[first] === 1) used[first] = used[first + 1] = 0;
      slot = first + this.older[pair];
    } else slot = used[first] === 0 ? first : first + 1;
    this.older[pair] = slot === first ? 1 : 0;
    used[slot] = 0;
    const s = buf.utf8Slice(start, end);
    const arena = this.arena;
    const base = slot * MAX_INTERNED_BYTES;
    for (let i = 0; i < len; i++) arena[base + i] = buf[start + i];
    this.lengths[slot] = len;
    this.strings[slot] = s;
    return s;
  }

  private matches(slot: number, buf: WireBuffer, start: number, len: number): boolean {
    if (this.lengths[slot] !== len) return false;
    const arena = this.arena;
    const base = slot * MAX_INTERNED_BYTES;
    let i = 0;
    while (i < len && arena[base + i] === buf[start + i]) i++;
    return i === len;
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
