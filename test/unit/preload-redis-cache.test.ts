import { describe, expect, it } from 'vitest';
import { cacheOutcome, cacheTtlSeconds, keysFound } from '../../src/preload/redis-cache';

/** `spanstat.cache.ttl_s` of a write that left its key without an expiry: a wire value, so a literal here. */
const NO_EXPIRY = -1;
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

  it('does not mistake a value that reads "EX" or "KEEPTTL" for an option', () => {
    expect(cacheTtlSeconds('set', ['k', 'EX'], 'OK', NOW)).toBe(NO_EXPIRY);
    expect(cacheTtlSeconds('set', ['k', 'KEEPTTL'], 'OK', NOW)).toBe(NO_EXPIRY);
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

  it('marks writes that leave their key without an expiry', () => {
    expect(cacheTtlSeconds('set', ['k', 'v'], 'OK', NOW)).toBe(NO_EXPIRY);
    expect(cacheTtlSeconds('SET', ['k', 'v', 'XX'], 'OK', NOW)).toBe(NO_EXPIRY);
    expect(cacheTtlSeconds('set', ['k', 'v', 'NX'], 'OK', NOW)).toBe(NO_EXPIRY);
    expect(cacheTtlSeconds('set', ['k', 'v', 'GET'], null, NOW)).toBe(NO_EXPIRY);
    expect(cacheTtlSeconds('mset', ['a', '1', 'b', '2'], 'OK', NOW)).toBe(NO_EXPIRY);
    expect(cacheTtlSeconds('msetnx', ['a', '1', 'b', '2'], 1, NOW)).toBe(NO_EXPIRY);
    expect(cacheTtlSeconds('setnx', ['k', 'v'], 1, NOW)).toBe(NO_EXPIRY);
    expect(cacheTtlSeconds('getset', ['k', 'v'], null, NOW)).toBe(NO_EXPIRY);
    expect(cacheTtlSeconds('persist', ['k'], 1, NOW)).toBe(NO_EXPIRY);
    expect(cacheTtlSeconds('getex', ['k', 'PERSIST'], 'v', NOW)).toBe(NO_EXPIRY);
  });

  it('does not mark writes that keep the TTL, set nothing, or cannot tell', () => {
    // KEEPTTL keeps the key's expiry; NX that lost and SETNX/MSETNX answering 0 wrote nothing.
    expect(cacheTtlSeconds('set', ['k', 'v', 'KEEPTTL'], 'OK', NOW)).toBeUndefined();
    expect(cacheTtlSeconds('set', ['k', 'v', Buffer.from('keepttl')], 'OK', NOW)).toBeUndefined();
    expect(cacheTtlSeconds('set', ['k', 'v', 'NX'], null, NOW)).toBeUndefined();
    expect(cacheTtlSeconds('setnx', ['k', 'v'], 0, NOW)).toBeUndefined();
    expect(cacheTtlSeconds('msetnx', ['a', '1'], 0, NOW)).toBeUndefined();
    expect(cacheTtlSeconds('persist', ['k'], 0, NOW)).toBeUndefined();
    expect(cacheTtlSeconds('getex', ['k'], 'v', NOW)).toBeUndefined();
    expect(cacheTtlSeconds('getex', ['k', 'PERSIST'], null, NOW)).toBeUndefined();
    // Queued in MULTI: the outcome comes with EXEC's reply.
    expect(cacheTtlSeconds('set', ['k', 'v'], 'QUEUED', NOW)).toBeUndefined();
    // Structure writes keep an existing key's TTL: the command alone does not say.
    expect(cacheTtlSeconds('hset', ['h', 'f', 'v'], 1, NOW)).toBeUndefined();
    expect(cacheTtlSeconds('sadd', ['s', 'm'], 1, NOW)).toBeUndefined();
  });
});
