/**
 * `db.query.text` for ioredis spans: serializeRedisCommand (src/cache-keys/redis-commands.ts, the
 * format the sidecar's parseRedisStatement reads back), with a fast path for the commonest
 * single-key commands. For those the result is always `<command> <key> [N other arguments]`;
 * the general serializer converts every argument and builds two Sets per call, which made it
 * ~1.7% of the app's CPU on the demo's GET/SET route (profile, --micro figures in the closing note).
 * test/unit/preload-redis-statement.test.ts pins the fast path to the general one.
 */
import { MAX_SERIALIZED_KEY_CHARS, serializeRedisCommand } from '../cache-keys/redis-commands';

/** Lower-case ioredis command names whose only key is the first argument (spec `first`). */
export const FAST_SINGLE_KEY = new Set([
  'get',
  'set',
  'setex',
  'psetex',
  'setnx',
  'getex',
  'getdel',
  'expire',
  'pexpire',
  'ttl',
  'pttl',
  'incr',
  'incrby',
  'decr',
  'decrby',
  'hget',
  'hset',
  'hgetall',
  'hdel',
  'hincrby',
  'sadd',
  'srem',
  'smembers',
  'lpush',
  'rpush',
  'lrange',
  'zadd',
  'zrange',
]);

/** Whitespace of any kind, as the general serializer replaces it. */
const SPACE = /\s/;

export function redisStatement(command: string, args: readonly unknown[]): string {
  if (FAST_SINGLE_KEY.has(command) && args.length > 0) {
    const key = args[0];
    if (typeof key === 'string' && key !== '' && key.length <= MAX_SERIALIZED_KEY_CHARS && !SPACE.test(key)) {
      const others = args.length - 1;
      return others === 0 ? `${command} ${key}` : `${command} ${key} [${others} other arguments]`;
    }
  }
  return serializeRedisCommand(command, args);
}
