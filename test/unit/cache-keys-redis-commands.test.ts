import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../scripts/lib/seeded-random';
import {
  describeRedisCommand,
  MAX_SERIALIZED_KEY_CHARS,
  MAX_SERIALIZED_KEYS,
  parseRedisStatement,
  serializeRedisCommand,
} from '../../src/cache-keys';
import { parseAnyRedisStatement } from '../../src/cache-keys/redis-commands';

describe('parseRedisStatement', () => {
  it('reads every statement as the general reader does, fast path or not', () => {
    const rand = seededRandom(5);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)];
    const commands = [
      'get',
      'GET',
      'Set',
      'hget',
      'mget',
      'del',
      'evalsha',
      'zunion',
      'json.get',
      'xread',
      'ping',
      'frob',
    ];
    const tokens = [
      'user:1',
      'k',
      '[1 other arguments]',
      '[2 other arguments]',
      '2',
      '?',
      'ü:1',
      'a\tb',
      '',
      'STREAMS',
      '0-0',
      '[x]',
    ];
    const gaps = [' ', ' ', ' ', '  ', '\t', '\u00a0'];
    for (let i = 0; i < 3000; i++) {
      let text = pick(['', ' ', '']) + pick(commands);
      const count = Math.floor(rand() * 5);
      for (let j = 0; j < count; j++) text += pick(gaps) + pick(tokens);
      if (rand() < 0.1) text += ' ';
      expect(parseRedisStatement(text), JSON.stringify(text)).toEqual(parseAnyRedisStatement(text));
    }
  });

  it('reads the command and key of the ioredis default serialization', () => {
    expect(parseRedisStatement('get user:1')).toEqual({ command: 'get', keys: ['user:1'] });
    expect(parseRedisStatement('GET user:1')).toEqual({ command: 'get', keys: ['user:1'] });
    expect(parseRedisStatement('set session:x [1 other arguments]')).toEqual({
      command: 'set',
      keys: ['session:x'],
    });
  });

  it('returns every key of multi-key commands and only the key of field commands', () => {
    expect(parseRedisStatement('mget a b c').keys).toEqual(['a', 'b', 'c']);
    expect(parseRedisStatement('del a:1 a:2').keys).toEqual(['a:1', 'a:2']);
    expect(parseRedisStatement('hget h:1 field').keys).toEqual(['h:1']);
    expect(parseRedisStatement('HMGET h:2 f1 f2').keys).toEqual(['h:2']);
  });

  it('never returns a value argument as a key, even when a serializer includes values', () => {
    expect(parseRedisStatement('set session:x secret-token EX 60').keys).toEqual(['session:x']);
    expect(parseRedisStatement('mset a v1 b v2').keys).toEqual(['a', 'b']);
    expect(parseRedisStatement('hset h:1 email alice@example.com').keys).toEqual(['h:1']);
    expect(parseRedisStatement('lrem list:1 0 payload').keys).toEqual(['list:1']);
  });

  it('finds script keys after the key count and stream keys after STREAMS', () => {
    expect(parseRedisStatement('evalsha 1a2b 2 rl:a rl:b 10').keys).toEqual(['rl:a', 'rl:b']);
    expect(parseRedisStatement("eval return redis.call('get', KEYS[1]) 1 rl:x 60").keys).toEqual(['rl:x']);
    expect(parseRedisStatement('xread COUNT 10 STREAMS s:1 s:2 0 0').keys).toEqual(['s:1', 's:2']);
    expect(parseRedisStatement('blpop q:1 q:2 5').keys).toEqual(['q:1', 'q:2']);
  });

  it('reads keys-only serializations that drop key counts and timeouts', () => {
    expect(parseRedisStatement('evalsha rl:a rl:b').keys).toEqual(['rl:a', 'rl:b']);
    expect(parseRedisStatement('blpop q:1').keys).toEqual(['q:1']);
    expect(parseRedisStatement('mset k1 k2').keys[0]).toBe('k1');
  });

  it('returns no key for keyless commands, patterns and cursors, or when the serializer left keys out', () => {
    expect(parseRedisStatement('ping').keys).toEqual([]);
    expect(parseRedisStatement('keys user:*').keys).toEqual([]);
    expect(parseRedisStatement('scan 0 MATCH user:* COUNT 100').keys).toEqual([]);
    expect(parseRedisStatement('auth [1 other arguments]').keys).toEqual([]);
    expect(parseRedisStatement('mget [3 other arguments]')).toEqual({ command: 'mget', keys: [] });
    expect(parseRedisStatement('')).toEqual({ command: '', keys: [] });
  });

  it('takes the first argument of unknown (module) commands as the key', () => {
    expect(parseRedisStatement('JSON.GET doc:1 $.a')).toEqual({ command: 'json.get', keys: ['doc:1'] });
    expect(parseRedisStatement('CF.EXISTS filter:1 item')).toEqual({
      command: 'cf.exists',
      keys: ['filter:1'],
    });
  });
});

describe('describeRedisCommand', () => {
  it('classifies reads, writes and batched commands', () => {
    const reads = [
      'GET',
      'getex',
      'MGET',
      'HGET',
      'HMGET',
      'HGETALL',
      'EXISTS',
      'SMEMBERS',
      'SISMEMBER',
      'LRANGE',
      'ZRANGEBYSCORE',
      'ZSCORE',
      'TTL',
    ];
    for (const c of reads) expect(describeRedisCommand(c), c).toMatchObject({ read: true, write: false });
    const writes = [
      'SET',
      'SETEX',
      'PSETEX',
      'SETNX',
      'MSET',
      'HSET',
      'HMSET',
      'DEL',
      'UNLINK',
      'EXPIRE',
      'PEXPIRE',
      'INCR',
      'INCRBY',
      'LPUSH',
      'RPUSH',
      'SADD',
      'ZADD',
    ];
    for (const c of writes) expect(describeRedisCommand(c), c).toMatchObject({ read: false, write: true });
    expect(describeRedisCommand('GETDEL')).toMatchObject({ read: true, write: true });
    for (const c of ['MGET', 'HMGET', 'MSET', 'DEL']) expect(describeRedisCommand(c).multiKey, c).toBe(true);
    for (const c of ['GET', 'HGET', 'SET']) expect(describeRedisCommand(c).multiKey, c).toBe(false);
  });

  it('treats keyspace scans and unknown commands as neither read nor write', () => {
    for (const c of ['KEYS', 'SCAN', 'PING', 'FOO.BAR']) {
      expect(describeRedisCommand(c), c).toEqual({ read: false, write: false, multiKey: false });
    }
  });
});

describe('serializeRedisCommand', () => {
  it('names every key and replaces every value, and parseRedisStatement reads the keys back', () => {
    const cases: Array<[string, unknown[], string, string[]]> = [
      ['get', ['user:1'], 'get user:1', ['user:1']],
      ['mget', ['a:1', 'b:2', 'c:3'], 'mget a:1 b:2 c:3', ['a:1', 'b:2', 'c:3']],
      ['set', ['session:x', 'secret-token', 'EX', 60], 'set session:x [3 other arguments]', ['session:x']],
      ['mset', ['k1', 'v1', 'k2', 'v2'], 'mset k1 ? k2 [1 other arguments]', ['k1', 'k2']],
      ['hset', ['h:1', 'email', 'alice@example.com'], 'hset h:1 [2 other arguments]', ['h:1']],
      ['lrem', ['list:1', 0, 'payload'], 'lrem list:1 [2 other arguments]', ['list:1']],
      [
        'evalsha',
        ['1a2b', 2, 'rl:a', 'rl:b', 10],
        'evalsha ? 2 rl:a rl:b [1 other arguments]',
        ['rl:a', 'rl:b'],
      ],
      ['eval', ["return redis.call('get', KEYS[1])", 1, 'rl:x'], 'eval ? 1 rl:x', ['rl:x']],
      ['xread', ['COUNT', 5, 'STREAMS', 's:1', '0'], 'xread ? ? STREAMS s:1 ?', ['s:1']],
      ['get', [Buffer.from('bin:1')], 'get bin:1', ['bin:1']],
      ['ping', [], 'ping', []],
      ['auth', ['hunter2'], 'auth [1 other arguments]', []],
      ['get', ['spaced key'], 'get spaced_key', ['spaced_key']],
    ];
    for (const [command, args, text, keys] of cases) {
      expect(serializeRedisCommand(command, args), command).toBe(text);
      expect(parseRedisStatement(text).keys, text).toEqual(keys);
    }
  });

  it('names at most MAX_SERIALIZED_KEYS keys and counts the rest', () => {
    const keys = Array.from({ length: 100 }, (_, i) => `k:${i}`);
    const text = serializeRedisCommand('mget', keys);
    expect(parseRedisStatement(text).keys).toEqual(keys.slice(0, MAX_SERIALIZED_KEYS));
    expect(text.endsWith(`[${100 - MAX_SERIALIZED_KEYS} other arguments]`)).toBe(true);
    expect(serializeRedisCommand('get', ['x'.repeat(1000)]).length).toBe(4 + MAX_SERIALIZED_KEY_CHARS);
  });
});
