import { describe, expect, it } from 'vitest';
import {
  MAX_SERIALIZED_KEYS,
  parseRedisStatement,
  serializeRedisCommand,
} from '../../src/cache-keys/redis-commands';
import { FAST_SINGLE_KEY, redisStatement } from '../../src/preload/redis-text';

// The preload's ioredis dbStatementSerializer is serializeRedisCommand: what it writes must hold
// no values and read back to the same keys with the sidecar's parser.
const roundTrip = (command: string, args: unknown[]) =>
  parseRedisStatement(serializeRedisCommand(command, args));

describe('the Redis statement the preload writes', () => {
  it('names the key of single-key commands and none of the values', () => {
    expect(serializeRedisCommand('get', ['user:1'])).toBe('get user:1');
    const set = serializeRedisCommand('set', ['user:1', '{"email":"a@b.c"}', 'EX', 60]);
    expect(set).not.toContain('a@b.c');
    expect(roundTrip('set', ['user:1', '{"email":"a@b.c"}', 'EX', 60]).keys).toEqual(['user:1']);
    expect(serializeRedisCommand('hset', ['session:9', 'token', 'abc123'])).not.toContain('abc123');
  });

  it('reads back every key of multi-key commands, including MSET, XREAD and BITOP', () => {
    expect(roundTrip('mget', ['a:1', 'a:2', 'a:3']).keys).toEqual(['a:1', 'a:2', 'a:3']);
    const mset = serializeRedisCommand('mset', ['a:1', 'secret-1', 'a:2', 'secret-2']);
    expect(mset).not.toContain('secret-');
    expect(parseRedisStatement(mset).keys).toEqual(['a:1', 'a:2']);
    expect(roundTrip('xread', ['COUNT', 10, 'STREAMS', 's:1', 's:2', '0-0', '$']).keys).toEqual([
      's:1',
      's:2',
    ]);
    expect(roundTrip('bitop', ['AND', 'dest:1', 'src:1', 'src:2']).keys).toEqual([
      'dest:1',
      'src:1',
      'src:2',
    ]);
  });

  it('keeps credentials of AUTH and HELLO out', () => {
    expect(serializeRedisCommand('auth', ['user', 'hunter2'])).not.toContain('hunter2');
    expect(serializeRedisCommand('hello', ['3', 'AUTH', 'user', 'hunter2'])).not.toContain('hunter2');
  });

  it('takes script keys from their count and leaves script arguments out', () => {
    const text = serializeRedisCommand('eval', ["return redis.call('get', KEYS[1])", 2, 'k:1', 'k:2', 'arg']);
    expect(text).not.toContain('redis.call');
    expect(parseRedisStatement(text).keys).toEqual(['k:1', 'k:2']);
  });

  it('reads Buffer keys and keeps keys with spaces in one piece', () => {
    expect(serializeRedisCommand('get', [Buffer.from('user:1')])).toBe('get user:1');
    expect(roundTrip('get', ['odd key']).keys).toEqual(['odd_key']);
  });

  it('names at most MAX_SERIALIZED_KEYS keys of a huge MGET', () => {
    const keys = Array.from({ length: 1000 }, (_, i) => `k:${i}`);
    expect(roundTrip('mget', keys).keys).toHaveLength(MAX_SERIALIZED_KEYS);
  });
});

describe('the preload fast path for single-key commands', () => {
  it('writes exactly what the general serializer writes, for every fast command and argument shape', () => {
    const shapes: unknown[][] = [
      [],
      ['user:1'],
      ['user:1', '{"v":1}'],
      ['user:1', '{"v":1}', 'EX', 60],
      [Buffer.from('user:1'), 'v'],
      ['odd key', 'v'],
      ['tab\tkey'],
      [''],
      ['k'.repeat(300), 'v'],
      [42, 'v'],
    ];
    for (const command of FAST_SINGLE_KEY) {
      for (const args of shapes)
        expect(redisStatement(command, args)).toBe(serializeRedisCommand(command, args));
    }
    // And commands outside the fast path go to the general serializer.
    expect(redisStatement('mset', ['a', 'x', 'b', 'y'])).toBe(
      serializeRedisCommand('mset', ['a', 'x', 'b', 'y']),
    );
  });
});
