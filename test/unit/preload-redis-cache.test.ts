import { describe, expect, it } from 'vitest';
import { cacheOutcome, cacheTtlSeconds, keysFound } from '../../src/preload/redis-cache';

const NOW = 1_700_000_000_000;

describe('cache hits and misses read from Redis replies', () => {
  it('counts a GET that returned a value as a hit and a null reply as a miss', () => {
    expect(cacheOutcome('get', ['user:1'], Buffer.from('x'))).toEqual({ hits: 1, misses: 0 });
    expect(cacheOutcome('get', ['user:1'], null)).toEqual({ hits: 0, misses: 1 });
  });

  it('counts an empty string value as a hit, because the key exists', () => {
    expect(cacheOutcome('get', ['k'], '')).toEqual({ hits: 1, misses: 0 });
  });

  it('treats GETEX, GETDEL and HGET like GET', () => {
    expect(cacheOutcome('getex', ['k', 'EX', '5'], 'v')).toEqual({ hits: 1, misses: 0 });
    expect(cacheOutcome('getdel', ['k'], null)).toEqual({ hits: 0, misses: 1 });
    expect(cacheOutcome('hget', ['h', 'f'], null)).toEqual({ hits: 0, misses: 1 });
  });

  it('counts MGET and HMGET per element', () => {
    expect(cacheOutcome('mget', ['a', 'b', 'c'], ['1', null, Buffer.from('3')])).toEqual({
      hits: 2,
      misses: 1,
    });
    expect(cacheOutcome('hmget', ['h', 'f1', 'f2'], [null, null])).toEqual({ hits: 0, misses: 2 });
  });

  it('says which keys an MGET of several found, in key order, and nothing for other reads', () => {
    expect(keysFound('mget', ['1', null, Buffer.from('3'), null])).toBe('1010');
    expect(keysFound('MGET', [null, 'x'])).toBe('01');
    expect(keysFound('mget', ['only one'])).toBeUndefined();
    expect(keysFound('hmget', ['1', null])).toBeUndefined();
    expect(keysFound('mget', 'QUEUED')).toBeUndefined();
  });

  it('counts an HGETALL with no fields as a miss, in both the raw array and the object form', () => {
    expect(cacheOutcome('hgetall', ['h'], [])).toEqual({ hits: 0, misses: 1 });
    expect(cacheOutcome('hgetall', ['h'], {})).toEqual({ hits: 0, misses: 1 });
    expect(cacheOutcome('hgetall', ['h'], ['f', 'v'])).toEqual({ hits: 1, misses: 0 });
    expect(cacheOutcome('hgetall', ['h'], { f: 'v' })).toEqual({ hits: 1, misses: 0 });
  });

  it('reads EXISTS as the number of keys found among the keys asked for', () => {
    expect(cacheOutcome('exists', ['a', 'b', 'c'], 1)).toEqual({ hits: 1, misses: 2 });
    expect(cacheOutcome('exists', ['a'], 0)).toEqual({ hits: 0, misses: 1 });
  });

  it('reads HEXISTS as one lookup', () => {
    expect(cacheOutcome('hexists', ['h', 'f'], 1)).toEqual({ hits: 1, misses: 0 });
    expect(cacheOutcome('hexists', ['h', 'f'], 0)).toEqual({ hits: 0, misses: 1 });
  });

  it('accepts upper-case command names as redis.call passes them', () => {
    expect(cacheOutcome('GET', ['k'], null)).toEqual({ hits: 0, misses: 1 });
  });

  it('counts nothing for a command queued in MULTI, whose reply is only QUEUED', () => {
    expect(cacheOutcome('get', ['k'], 'QUEUED')).toBeUndefined();
    // ioredis 5 and 6 answer queued commands with a Buffer.
    expect(cacheOutcome('get', ['k'], Buffer.from('QUEUED'))).toBeUndefined();
    expect(cacheOutcome('get', ['k'], Buffer.from('QUEUE!'))).toEqual({ hits: 1, misses: 0 });
    expect(cacheTtlSeconds('setex', ['k', 30, 'v'], 'QUEUED', NOW)).toBeUndefined();
  });

  it('does not count writes, set membership or range reads as cache lookups', () => {
    expect(cacheOutcome('set', ['k', 'v'], 'OK')).toBeUndefined();
    expect(cacheOutcome('sismember', ['s', 'm'], 0)).toBeUndefined();
    expect(cacheOutcome('lrange', ['l', '0', '-1'], [])).toBeUndefined();
  });
});

describe('TTL read from Redis writes', () => {
  it('reads SET … EX in seconds and SET … PX in milliseconds', () => {
    expect(cacheTtlSeconds('set', ['k', 'v', 'EX', '60'], 'OK', NOW)).toBe(60);
    expect(cacheTtlSeconds('set', ['k', 'v', 'px', 1500], 'OK', NOW)).toBe(1.5);
  });

  it('finds the expiry option after NX or GET', () => {
    expect(cacheTtlSeconds('set', ['k', 'v', 'NX', 'EX', '10'], 'OK', NOW)).toBe(10);
    expect(cacheTtlSeconds('set', ['k', 'v', 'GET', 'EX', '10'], null, NOW)).toBe(10);
  });

  it('does not mistake a value that reads "EX" for the option', () => {
    expect(cacheTtlSeconds('set', ['k', 'EX'], 'OK', NOW)).toBeUndefined();
  });

  it('reports no TTL when SET NX did not set the key', () => {
    expect(cacheTtlSeconds('set', ['k', 'v', 'EX', '10', 'NX'], null, NOW)).toBeUndefined();
  });

  it('resolves EXAT and PXAT against the clock', () => {
    expect(cacheTtlSeconds('set', ['k', 'v', 'EXAT', String(NOW / 1000 + 30)], 'OK', NOW)).toBe(30);
    expect(cacheTtlSeconds('set', ['k', 'v', 'PXAT', String(NOW + 2500)], 'OK', NOW)).toBe(2.5);
  });

  it('reads SETEX, PSETEX, EXPIRE and PEXPIRE', () => {
    expect(cacheTtlSeconds('setex', ['k', 30, 'v'], 'OK', NOW)).toBe(30);
    expect(cacheTtlSeconds('psetex', ['k', '250', 'v'], 'OK', NOW)).toBe(0.25);
    expect(cacheTtlSeconds('expire', ['k', '120'], 1, NOW)).toBe(120);
    expect(cacheTtlSeconds('pexpire', ['k', '5000'], 1, NOW)).toBe(5);
  });

  it('reports no TTL for an EXPIRE on a key that does not exist', () => {
    expect(cacheTtlSeconds('expire', ['k', '120'], 0, NOW)).toBeUndefined();
  });

  it('reads GETEX EX only when the key was found', () => {
    expect(cacheTtlSeconds('getex', ['k', 'EX', '45'], 'v', NOW)).toBe(45);
    expect(cacheTtlSeconds('getex', ['k', 'EX', '45'], null, NOW)).toBeUndefined();
  });

  it('reads expiry options given as Buffers', () => {
    expect(cacheTtlSeconds('set', ['k', 'v', Buffer.from('EX'), Buffer.from('7')], 'OK', NOW)).toBe(7);
  });

  it('reports no TTL for writes without one', () => {
    expect(cacheTtlSeconds('set', ['k', 'v'], 'OK', NOW)).toBeUndefined();
    expect(cacheTtlSeconds('hset', ['h', 'f', 'v'], 1, NOW)).toBeUndefined();
  });
});
