import { describe, expect, it } from 'vitest';
import { MAX_LISTED_KEYS, serializeRedisStatement } from '../../src/preload/redis-statement';

describe('Redis statements carry the command and its keys, never values', () => {
  it('keeps only the key of a GET or SET', () => {
    expect(serializeRedisStatement('get', ['user:1'])).toBe('get user:1');
    expect(serializeRedisStatement('set', ['user:1', '{"email":"a@b.c"}', 'EX', 60])).toBe('set user:1');
  });

  it('lists every argument of MGET, DEL, EXISTS, UNLINK and TOUCH as a key', () => {
    expect(serializeRedisStatement('mget', ['a:1', 'a:2', 'a:3'])).toBe('mget a:1 a:2 a:3');
    expect(serializeRedisStatement('del', ['a:1', 'b:2'])).toBe('del a:1 b:2');
    expect(serializeRedisStatement('exists', ['a:1', 'a:2'])).toBe('exists a:1 a:2');
    expect(serializeRedisStatement('unlink', ['a:1'])).toBe('unlink a:1');
    expect(serializeRedisStatement('touch', ['a:1', 'a:2'])).toBe('touch a:1 a:2');
  });

  it('keeps every other argument of MSET', () => {
    expect(serializeRedisStatement('mset', ['a:1', 'secret-1', 'a:2', 'secret-2'])).toBe('mset a:1 a:2');
  });

  it('keeps the hash key of HSET but not its fields or values', () => {
    expect(serializeRedisStatement('hset', ['session:9', 'token', 'abc123'])).toBe('hset session:9');
  });

  it('never includes AUTH or HELLO arguments, which hold credentials', () => {
    expect(serializeRedisStatement('auth', ['user', 'hunter2'])).toBe('auth');
    expect(serializeRedisStatement('hello', ['3', 'AUTH', 'user', 'hunter2'])).toBe('hello');
  });

  it('lists the keys of EVAL but not the script or its arguments', () => {
    expect(
      serializeRedisStatement('eval', ["return redis.call('get', KEYS[1])", 2, 'k:1', 'k:2', 'arg']),
    ).toBe('eval k:1 k:2');
  });

  it('lower-cases the command name', () => {
    expect(serializeRedisStatement('GET', ['k'])).toBe('get k');
  });

  it('decodes Buffer keys and replaces spaces so each key stays one token', () => {
    expect(serializeRedisStatement('get', [Buffer.from('user:1')])).toBe('get user:1');
    expect(serializeRedisStatement('get', ['odd key'])).toBe('get odd_key');
  });

  it('lists at most MAX_LISTED_KEYS keys', () => {
    const keys = Array.from({ length: 100 }, (_, i) => `k:${i}`);
    expect(serializeRedisStatement('mget', keys).split(' ')).toHaveLength(1 + MAX_LISTED_KEYS);
  });

  it('names a command that has no arguments', () => {
    expect(serializeRedisStatement('ping', [])).toBe('ping');
  });
});
