import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../scripts/lib/seeded-random';
import { StringInterner, type WireBuffer } from '../../src/receiver/wire-strings';

/**
 * `text` at a random offset inside a larger buffer, as strings sit in an OTLP body. Strings are
 * values in JS (no identity to compare), so a hit shows as a get that decoded nothing: `decodes`
 * counts the buffer's utf8Slice calls.
 */
function onWire(
  text: string,
  random: () => number,
  decodes: { count: number },
): [WireBuffer, number, number] {
  const bytes = Buffer.from(text, 'utf8');
  const start = Math.floor(random() * 16);
  const buf = Buffer.alloc(start + bytes.length + 8, 0x7a) as WireBuffer;
  bytes.copy(buf, start);
  const slice = buf.utf8Slice;
  buf.utf8Slice = (from: number, to: number) => {
    decodes.count++;
    return slice.call(buf, from, to);
  };
  return [buf, start, start + bytes.length];
}

describe('StringInterner', () => {
  it('returns the decoded text for any bytes, short or long, ASCII or not', () => {
    const random = seededRandom(3);
    const decodes = { count: 0 };
    const interner = new StringInterner(64);
    const alphabet = ['a', 'b', 'é', '字', '😀', ':', '1', ' '];
    for (let i = 0; i < 3000; i++) {
      let text = '';
      const length = Math.floor(random() * 40);
      for (let k = 0; k < length; k++) text += alphabet[Math.floor(random() * alphabet.length)];
      expect(interner.get(...onWire(text, random, decodes))).toBe(text);
    }
  });

  it('keeps two strings that hash to the same place: one pair of slots holds both', () => {
    const random = seededRandom(7);
    const decodes = { count: 0 };
    const interner = new StringInterner(2);
    // These two share a slot under a direct-mapped cache of 2 slots with the FNV hash used before.
    const texts = ['http.request.method', 'http.response.status_code'];
    for (const text of texts) interner.get(...onWire(text, random, decodes));
    expect(decodes.count).toBe(2);
    for (let i = 0; i < 10; i++)
      for (const text of texts) expect(interner.get(...onWire(text, random, decodes))).toBe(text);
    expect(decodes.count).toBe(2);
  });

  it('keeps hot strings while one-off values stream past', () => {
    const random = seededRandom(5);
    const interner = new StringInterner(512);
    const hot = Array.from({ length: 60 }, (_, i) => `attribute.key.${i}`);
    const warm = { count: 0 };
    for (const text of hot) interner.get(...onWire(text, random, warm));
    const hotDecodes = { count: 0 };
    const oneOff = { count: 0 };
    for (let round = 0; round < 50; round++) {
      for (const text of hot) {
        expect(interner.get(...onWire(text, random, hotDecodes))).toBe(text);
        // A one-off value between every two hot look-ups, as ids and paths arrive.
        interner.get(...onWire(`get quote:Q${Math.floor(random() * 1e9).toString(36)}`, random, oneOff));
      }
    }
    expect(hotDecodes.count / (50 * hot.length)).toBeLessThan(0.05);
  });
});
