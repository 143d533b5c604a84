/**
 * Cache hit/miss and TTL read off a Redis command and its reply, for the ioredis responseHook.
 * Pure; called once per Redis reply, so each function is a switch on the command name and
 * allocates nothing on the common paths.
 *
 * What counts as a cache lookup: reads that fetch a value by key (GET, GETEX, GETDEL, HGET, MGET,
 * HMGET, HGETALL) and existence probes (EXISTS, HEXISTS). Set membership (SISMEMBER, SMISMEMBER)
 * and range reads (LRANGE, ZRANGE, …) are not: an empty answer there is data, not a miss.
 */

import { NO_EXPIRY } from '../model/attributes';

/** Redis command arguments as ioredis passes them to hooks. */
export type RedisArg = string | number | Buffer | unknown;

export interface CacheOutcome {
  hits: number;
  misses: number;
}

const QUEUED = Buffer.from('QUEUED');

/**
 * A command queued inside MULTI is answered `QUEUED` (a Buffer from ioredis 5 on, a string before);
 * its real reply arrives inside EXEC's (redis-transaction.ts). QUEUED says nothing about hits or
 * TTLs: read as a hit, every GET inside MULTI would count as one.
 */
export function isQueuedReply(reply: unknown): boolean {
  return reply === 'QUEUED' || (Buffer.isBuffer(reply) && reply.equals(QUEUED));
}

/** Hit/miss counts for a cache-lookup reply; undefined for commands that are not lookups. */
export function cacheOutcome(
  command: string,
  args: readonly RedisArg[],
  reply: unknown,
): CacheOutcome | undefined {
  if (isQueuedReply(reply)) return undefined;
  switch (lower(command)) {
    case 'get':
    case 'getex':
    case 'getdel':
    case 'hget':
      return reply == null ? { hits: 0, misses: 1 } : { hits: 1, misses: 0 };
    case 'mget':
    case 'hmget':
      return Array.isArray(reply) ? countFound(reply) : undefined;
    case 'hgetall':
      return isEmptyReply(reply) ? { hits: 0, misses: 1 } : { hits: 1, misses: 0 };
    case 'exists': {
      // The reply counts keys found, repeats included, so args.length is the number asked for.
      const found = toCount(reply);
      if (found === undefined) return undefined;
      const asked = args.length;
      return { hits: Math.min(found, asked), misses: Math.max(asked - found, 0) };
    }
    case 'hexists': {
      const found = toCount(reply);
      if (found === undefined) return undefined;
      return found > 0 ? { hits: 1, misses: 0 } : { hits: 0, misses: 1 };
    }
    default:
      return undefined;
  }
}

/**
 * For an MGET of more than one key, `1` per key found and `0` per key not, in key order
 * (SPANSTAT_ATTR.cacheKeyHits); undefined otherwise. Only MGET: its keys may belong to different
 * namespaces, where HMGET's fields share one key and EXISTS answers a count.
 */
export function keysFound(command: string, reply: unknown): string | undefined {
  if (!Array.isArray(reply) || reply.length < 2 || lower(command) !== 'mget') return undefined;
  let found = '';
  for (const item of reply) found += item == null ? '0' : '1';
  return found;
}

/**
 * TTL in seconds that a successful write or expiry command set; NO_EXPIRY (−1) when it left its key
 * without any (SET without EX/PX/EXAT/PXAT/KEEPTTL, which also clears a TTL the key had; MSET,
 * MSETNX, SETNX, GETSET; PERSIST, GETEX PERSIST); undefined when the command says nothing about the
 * key's expiry (HSET, SADD, … keep an existing key's TTL) or did not take effect (SET NX that lost,
 * EXPIRE on a missing key). `nowMs` resolves the absolute forms (EXAT, PXAT, EXPIREAT, PEXPIREAT).
 */
export function cacheTtlSeconds(
  command: string,
  args: readonly RedisArg[],
  reply: unknown,
  nowMs: number,
): number | undefined {
  if (isQueuedReply(reply)) return undefined;
  switch (lower(command)) {
    case 'set':
      // SET key value [NX|XX] [GET] [EX s|PX ms|EXAT ts|PXAT ms|KEEPTTL]; null = not set (NX/XX).
      if (reply == null && !hasToken(args, 2, 'GET')) return undefined;
      return (
        expiryOption(args, 2, nowMs) ??
        (args.length > 2 && hasToken(args, 2, 'KEEPTTL') ? undefined : NO_EXPIRY)
      );
    case 'getex':
      // GETEX key [EX|PX|EXAT|PXAT|PERSIST]; a miss sets nothing.
      if (reply == null) return undefined;
      return (
        expiryOption(args, 1, nowMs) ??
        (args.length > 1 && hasToken(args, 1, 'PERSIST') ? NO_EXPIRY : undefined)
      );
    case 'mset':
    case 'getset':
      return NO_EXPIRY;
    case 'msetnx':
    case 'setnx':
    case 'persist':
      // 0: nothing was set (a key existed) or the key had no TTL to remove.
      return toCount(reply) === 1 ? NO_EXPIRY : undefined;
    case 'setex':
      return seconds(args[1], 1);
    case 'psetex':
      return seconds(args[1], 0.001);
    case 'expire':
      return toCount(reply) === 1 ? seconds(args[1], 1) : undefined;
    case 'pexpire':
      return toCount(reply) === 1 ? seconds(args[1], 0.001) : undefined;
    case 'expireat':
      return toCount(reply) === 1 ? untilSeconds(args[1], 1000, nowMs) : undefined;
    case 'pexpireat':
      return toCount(reply) === 1 ? untilSeconds(args[1], 1, nowMs) : undefined;
    default:
      return undefined;
  }
}

function lower(command: string): string {
  // ioredis names commands in lower case; `redis.call('GET', …)` keeps the caller's case.
  const first = command.charCodeAt(0);
  return first >= 65 && first <= 90 ? command.toLowerCase() : command;
}

function countFound(reply: readonly unknown[]): CacheOutcome {
  let hits = 0;
  for (const item of reply) if (item != null) hits++;
  return { hits, misses: reply.length - hits };
}

function isEmptyReply(reply: unknown): boolean {
  if (reply == null) return true;
  if (Array.isArray(reply)) return reply.length === 0;
  if (reply instanceof Map) return reply.size === 0;
  if (typeof reply === 'object' && !Buffer.isBuffer(reply)) {
    for (const _ in reply) return false;
    return true;
  }
  return false;
}

function toCount(reply: unknown): number | undefined {
  if (typeof reply === 'number') return reply;
  if (typeof reply === 'string' && reply !== '') {
    const n = Number(reply);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

function argText(arg: RedisArg): string | undefined {
  if (typeof arg === 'string') return arg;
  if (typeof arg === 'number') return String(arg);
  if (Buffer.isBuffer(arg)) return arg.length <= 32 ? arg.toString('latin1') : undefined;
  return undefined;
}

function hasToken(args: readonly RedisArg[], from: number, token: string): boolean {
  for (let i = from; i < args.length; i++) {
    const text = argText(args[i]);
    if (text !== undefined && text.length === token.length && text.toUpperCase() === token) return true;
  }
  return false;
}

/** Reads EX/PX/EXAT/PXAT from the option tail of SET or GETEX. */
function expiryOption(args: readonly RedisArg[], from: number, nowMs: number): number | undefined {
  for (let i = from; i < args.length - 1; i++) {
    const text = argText(args[i]);
    if (text === undefined || text.length > 4) continue;
    switch (text.toUpperCase()) {
      case 'EX':
        return seconds(args[i + 1], 1);
      case 'PX':
        return seconds(args[i + 1], 0.001);
      case 'EXAT':
        return untilSeconds(args[i + 1], 1000, nowMs);
      case 'PXAT':
        return untilSeconds(args[i + 1], 1, nowMs);
    }
  }
  return undefined;
}

function seconds(arg: RedisArg, factor: number): number | undefined {
  const text = argText(arg);
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) return undefined;
  return n * factor;
}

function untilSeconds(arg: RedisArg, toMs: number, nowMs: number): number | undefined {
  const text = argText(arg);
  if (text === undefined) return undefined;
  const at = Number(text);
  if (!Number.isFinite(at)) return undefined;
  return Math.max(0, Math.round(at * toMs - nowMs) / 1000);
}
