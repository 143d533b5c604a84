import type { WireBuffer } from './wire-strings';

/**
 * Recognises a fixed set of attribute keys straight from their wire bytes: keys of the same byte
 * length are compared byte by byte, so a key outside the set (most differ in their first bytes) is
 * known to be unread without hashing, interning or decoding it, and a key in the set comes back as
 * the set's own string. Interning every key (wire-strings.ts) was the decoder's hottest function in
 * a profile of the sidecar at saturation (~14% of its CPU), most of it on keys whose values are then
 * skipped.
 */
export class AttributeKeyMatcher {
  /** By byte length: the keys of that length and their UTF-8 bytes. */
  private readonly byLength: { keys: string[]; bytes: Uint8Array[] }[] = [];

  constructor(readonly keys: ReadonlySet<string>) {
    for (const key of keys) {
      const bytes = Buffer.from(key, 'utf8');
      let bucket = this.byLength[bytes.length];
      if (bucket === undefined) {
        for (let len = this.byLength.length; len < bytes.length; len++)
          this.byLength[len] = { keys: [], bytes: [] };
        bucket = { keys: [], bytes: [] };
        this.byLength[bytes.length] = bucket;
      }
      bucket.keys.push(key);
      bucket.bytes.push(bytes);
    }
  }

  /** The key in the set that buf[start, end) spells, or undefined; the caller has checked the bounds. */
  match(buf: WireBuffer, start: number, end: number): string | undefined {
    const bucket = this.byLength[end - start];
    if (bucket === undefined) return undefined;
    const candidates = bucket.bytes;
    for (let c = 0; c < candidates.length; c++) {
      const bytes = candidates[c];
      let i = 0;
      while (i < bytes.length && bytes[i] === buf[start + i]) i++;
      if (i === bytes.length) return bucket.keys[c];
    }
    return undefined;
  }
}
