/**
 * `db.query.text` for ioredis spans: `<command> <key> [<key>…]`, keys only. Values never leave
 * the app (privacy, and a span stays ~60 bytes instead of carrying cached payloads); the sidecar
 * turns keys into namespaces. Pure; runs once per Redis command.
 */
import type { RedisArg } from './redis-cache';

/** At most this many keys are listed (MGET/DEL of thousands of keys stays a short attribute). */
export const MAX_LISTED_KEYS = 32;
/** Keys longer than this are cut (bytes of a binary key are not worth shipping). */
export const MAX_KEY_CHARS = 256;

/** Commands whose every argument is a key. */
const ALL_KEYS = new Set([
  'mget',
  'del',
  'exists',
  'unlink',
  'touch',
  'watch',
  'sinter',
  'sunion',
  'sdiff',
  'pfcount',
]);
/** Commands whose arguments alternate key, value. */
const KEY_VALUE_PAIRS = new Set(['mset', 'msetnx']);
/** Commands with no key (or whose arguments may be secrets, such as AUTH and HELLO). */
const NO_KEYS = new Set([
  'auth',
  'hello',
  'ping',
  'echo',
  'info',
  'select',
  'multi',
  'exec',
  'discard',
  'unwatch',
  'quit',
  'client',
  'config',
  'cluster',
  'command',
  'dbsize',
  'flushdb',
  'flushall',
  'time',
  'script',
  'function',
  'readonly',
  'readwrite',
  'role',
  'memory',
  'slowlog',
  'latency',
]);
/** EVAL-style commands: `script|sha numkeys key… arg…`. */
const SCRIPT_CALLS = new Set(['eval', 'evalsha', 'eval_ro', 'evalsha_ro', 'fcall', 'fcall_ro']);

/** Serializer with the ioredis `dbStatementSerializer` signature. */
export function serializeRedisStatement(command: string, args: readonly RedisArg[]): string {
  const name = command.toLowerCase();
  if (NO_KEYS.has(name) || args.length === 0) return name;
  if (ALL_KEYS.has(name)) return appendKeys(name, args, 0, 1);
  if (KEY_VALUE_PAIRS.has(name)) return appendKeys(name, args, 0, 2);
  if (SCRIPT_CALLS.has(name)) {
    const count = Number(keyText(args[1]));
    if (!Number.isInteger(count) || count <= 0) return name;
    return appendKeys(name, args.slice(2, 2 + count), 0, 1);
  }
  const key = keyText(args[0]);
  return key === undefined ? name : `${name} ${key}`;
}

function appendKeys(name: string, args: readonly RedisArg[], from: number, step: number): string {
  let text = name;
  let listed = 0;
  for (let i = from; i < args.length && listed < MAX_LISTED_KEYS; i += step) {
    const key = keyText(args[i]);
    if (key === undefined) continue;
    text += ` ${key}`;
    listed++;
  }
  return text;
}

function keyText(arg: RedisArg): string | undefined {
  let text: string;
  if (typeof arg === 'string') text = arg;
  else if (typeof arg === 'number') text = String(arg);
  else if (Buffer.isBuffer(arg)) text = arg.toString('utf8', 0, Math.min(arg.length, MAX_KEY_CHARS));
  else return undefined;
  if (text.length > MAX_KEY_CHARS) text = text.slice(0, MAX_KEY_CHARS);
  // A space inside a key would split it into two keys for the sidecar's parser.
  return text.includes(' ') ? text.replaceAll(' ', '_') : text;
}
