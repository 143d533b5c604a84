import { describe, expect, it } from 'vitest';
import { READ_ATTRIBUTE_KEYS } from '../../src/model/attributes';
import { AttributeKeyMatcher } from '../../src/receiver/attribute-keys';
import type { WireBuffer } from '../../src/receiver/wire-strings';

/** `text`'s UTF-8 bytes at an offset inside a larger buffer, as a key sits in an OTLP body. */
function onWire(text: string, offset = 5): [WireBuffer, number, number] {
  const bytes = Buffer.from(text, 'utf8');
  const buf = Buffer.alloc(offset + bytes.length + 3, 0x2e) as WireBuffer;
  bytes.copy(buf, offset);
  return [buf, offset, offset + bytes.length];
}

describe('AttributeKeyMatcher', () => {
  const matcher = new AttributeKeyMatcher(new Set(['db.system', 'http.route', 'ключ', 'a', 'db.systen']));

  it('returns the set’s own string for every key in it, whatever its length or script', () => {
    for (const key of matcher.keys) expect(matcher.match(...onWire(key))).toBe(key);
  });

  it('matches none of the keys outside the set, same length or not', () => {
    for (const other of ['db.systel', 'db.system.name', 'http.routE', 'ключи', 'b', '', 'server.port', 'кл'])
      expect(matcher.match(...onWire(other))).toBeUndefined();
  });

  it('reads only the given range of the buffer', () => {
    const [buf, start] = onWire('http.route.extra');
    expect(matcher.match(buf, start, start + 'http.route'.length)).toBe('http.route');
    expect(matcher.match(buf, start, start + 4)).toBeUndefined();
  });

  it('knows every key the pipeline reads', () => {
    const pipeline = new AttributeKeyMatcher(READ_ATTRIBUTE_KEYS);
    for (const key of READ_ATTRIBUTE_KEYS) expect(pipeline.match(...onWire(key))).toBe(key);
    expect(pipeline.match(...onWire('user_agent.original'))).toBeUndefined();
  });
});
