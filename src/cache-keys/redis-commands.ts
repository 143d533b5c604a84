/**
 * Redis commands as the OpenTelemetry instrumentations report them in `db.query.text` /
 * `db.statement`: `get user:1`, `mget a b c`, `set session:x [1 other arguments]`,
 * `hget h:1 field`. The default serializer (@opentelemetry/redis-common) joins the command and
 * the arguments it deems safe with spaces and ends with `[N other arguments]` for the rest, so
 * values are usually absent — but other SDKs and custom serializers send them, which is why only
 * arguments in key positions are ever returned.
 */

export interface RedisCommandInfo {
  /** Reads a value: the command a hit or a miss belongs to (GET, HGET, MGET, SMEMBERS, TTL…). */
  read: boolean;
  /** Writes, deletes or expires a value (SET, DEL, EXPIRE, INCR, LPUSH…). */
  write: boolean;
  /** Reads or writes several items in one round trip (MGET, MSET, HMGET, DEL k1 k2…). */
  multiKey: boolean;
}

export interface RedisStatement {
  /** Lower-case command name: `get`, `mget`, `json.get`; '' for empty text. */
  command: string;
  /** Arguments in key positions that the text carries (may be fewer than the command had). */
  keys: string[];
}

/**
 * Which arguments are keys: `first`, `all`, `pairs` (MSET k v k v), `firstTwo` (RENAME src dst),
 * `allButLast` (BLPOP k1 k2 timeout), `numkeys` (ZUNION 2 k1 k2), `script` (EVAL script 2 k1 k2 …),
 * `second` (BITOP AND dest k…: dest and sources after the operation), `streams` (XREAD … STREAMS
 * k1 k2 id1 id2), `none`.
 */
type KeySpec =
  | 'first'
  | 'all'
  | 'pairs'
  | 'firstTwo'
  | 'allButLast'
  | 'numkeys'
  | 'script'
  | 'second'
  | 'streams'
  | 'none';

interface Spec {
  info: Readonly<RedisCommandInfo>;
  keys: KeySpec;
  /** Lower-case name, one string per command ('' for commands not in the table). */
  name: string;
}

const SPECS = new Map<string, Readonly<Spec>>();

function define(names: string, read: boolean, write: boolean, multiKey: boolean, keys: KeySpec): void {
  const info = Object.freeze({ read, write, multiKey });
  for (const name of names.split(' ')) {
    const spec = { info, keys, name: name.toLowerCase() };
    // Lower case too: spans name commands in lower case, and specOf then needs no toUpperCase per span.
    SPECS.set(name, spec);
    SPECS.set(name.toLowerCase(), spec);
  }
}

// Single-key reads.
define(
  'GET GETEX GETRANGE SUBSTR STRLEN GETBIT BITCOUNT BITPOS HGET HGETALL HKEYS HVALS HLEN HEXISTS HSTRLEN ' +
    'HRANDFIELD HSCAN HTTL SMEMBERS SISMEMBER SCARD SRANDMEMBER SSCAN LRANGE LINDEX LLEN LPOS ZRANGE ' +
    'ZRANGEBYSCORE ZRANGEBYLEX ZREVRANGE ZREVRANGEBYSCORE ZREVRANGEBYLEX ZSCORE ZRANK ZREVRANK ZCARD ' +
    'ZCOUNT ZLEXCOUNT ZSCAN ZRANDMEMBER TTL PTTL EXPIRETIME PEXPIRETIME TYPE DUMP XRANGE XREVRANGE XLEN ' +
    'GEOPOS GEODIST GEOHASH GEOSEARCH GEORADIUS_RO GEORADIUSBYMEMBER_RO JSON.GET JSON.TYPE JSON.STRLEN ' +
    'JSON.ARRLEN JSON.OBJKEYS',
  true,
  false,
  false,
  'first',
);
// Reads of several items in one round trip.
define('MGET EXISTS SINTER SUNION SDIFF PFCOUNT', true, false, true, 'all');
define('HMGET SMISMEMBER ZMSCORE JSON.MGET', true, false, true, 'first');
define('SINTERCARD ZUNION ZINTER ZDIFF ZINTERCARD', true, false, true, 'numkeys');
define('XREAD', true, false, true, 'streams');
// Reads that also remove what they return.
define('GETDEL GETSET LPOP RPOP SPOP ZPOPMIN ZPOPMAX', true, true, false, 'first');
define('BLPOP BRPOP BZPOPMIN BZPOPMAX', true, true, true, 'allButLast');
define('LMOVE RPOPLPUSH BLMOVE BRPOPLPUSH SMOVE', true, true, false, 'firstTwo');
// Single-key writes, deletes and expiries.
define(
  'SET SETEX PSETEX SETNX SETRANGE APPEND EXPIRE PEXPIRE EXPIREAT PEXPIREAT PERSIST INCR INCRBY ' +
    'INCRBYFLOAT DECR DECRBY HSET HSETNX HMSET HDEL HINCRBY HINCRBYFLOAT HEXPIRE HPEXPIRE HPERSIST ' +
    'LPUSH RPUSH LPUSHX RPUSHX LINSERT LSET LREM LTRIM SADD SREM ZADD ZREM ZINCRBY ZREMRANGEBYSCORE ' +
    'ZREMRANGEBYRANK ZREMRANGEBYLEX ZUNIONSTORE ZINTERSTORE ZDIFFSTORE ZRANGESTORE PFADD SETBIT RESTORE ' +
    'XADD XDEL XTRIM XACK GEOADD JSON.SET JSON.DEL JSON.NUMINCRBY JSON.ARRAPPEND',
  false,
  true,
  false,
  'first',
);
define('MSET MSETNX', false, true, true, 'pairs');
define('DEL UNLINK TOUCH SINTERSTORE SUNIONSTORE SDIFFSTORE PFMERGE', false, true, true, 'all');
define('RENAME RENAMENX COPY', false, true, false, 'firstTwo');
define('BITOP', false, true, true, 'second');
define('FLUSHDB FLUSHALL', false, true, false, 'none');
// Scripts: keys follow the script and its key count.
define('EVAL EVALSHA EVAL_RO EVALSHA_RO FCALL FCALL_RO', false, false, false, 'script');
// Keyless or keyspace-wide: KEYS takes a pattern and SCAN a cursor, neither names a key.
define(
  'PING ECHO INFO SELECT AUTH HELLO CLIENT CONFIG ACL CLUSTER COMMAND DBSIZE TIME MULTI EXEC DISCARD ' +
    'UNWATCH QUIT RESET SCRIPT FUNCTION SLOWLOG LATENCY MONITOR SUBSCRIBE PSUBSCRIBE SSUBSCRIBE ' +
    'UNSUBSCRIBE PUNSUBSCRIBE PUBLISH SPUBLISH PUBSUB KEYS SCAN RANDOMKEY WAIT SAVE BGSAVE LASTSAVE ' +
    'SWAPDB READONLY READWRITE',
  false,
  false,
  false,
  'none',
);
define('WATCH', false, false, true, 'all');

/** Commands not in the table: their first argument is taken as the key (JSON.*, FT.*, modules). */
const UNKNOWN: Readonly<Spec> = {
  info: Object.freeze({ read: false, write: false, multiKey: false }),
  keys: 'first',
  name: '',
};

function specOf(command: string): Readonly<Spec> {
  return SPECS.get(command) ?? SPECS.get(command.toUpperCase()) ?? UNKNOWN;
}

/**
 * A command name safe to show and to use as a label: one the table knows, or one shaped like a command
 * (`json.get`, `ft.search`: letters, digits, `_`, `-`, one optional `.`); anything else — a span name
 * with a key in it, a statement whose first word is data — is `other`, so it cannot carry a value.
 */
export function commandLabel(command: string): string {
  if (specOf(command) !== UNKNOWN) return command;
  return COMMAND_SHAPE.test(command) ? command : OTHER_COMMAND;
}

const COMMAND_SHAPE = /^[a-z][a-z0-9_-]{0,23}(\.[a-z0-9_-]{1,24})?$/;
export const OTHER_COMMAND = 'other';

/**
 * Reads that test membership or consume a key rather than look up a cached value (idempotency
 * keys, one-time tokens, dedupe sets): a miss there is the expected answer, not a cache miss. The
 * advisor gives no hit-rate advice to namespaces read mostly by these; the hit-rate alerts in
 * config/alerts.yml leave them out of the rate (`command!~…`, kept equal by a unit test).
 */
export const MEMBERSHIP_READ_COMMANDS: readonly string[] = ['exists', 'sismember', 'smismember', 'getdel'];

/**
 * Writes that create their key without an expiry when it does not exist and leave an existing key's
 * TTL as it is (HSET, SADD, LPUSH, INCR, …): what they do to the key's expiry depends on the key, so
 * the preload leaves them unmarked, and the sidecar counts them per namespace as writes that set no
 * TTL (the no-expiry advice judges a namespace by whether any expiry was ever set on it).
 */
export const UNTIMED_WRITE_COMMANDS: ReadonlySet<string> = new Set([
  'hset',
  'hsetnx',
  'hmset',
  'hincrby',
  'hincrbyfloat',
  'lpush',
  'rpush',
  'linsert',
  'sadd',
  'zadd',
  'zincrby',
  'pfadd',
  'setbit',
  'setrange',
  'append',
  'incr',
  'incrby',
  'incrbyfloat',
  'decr',
  'decrby',
  'xadd',
  'geoadd',
  'json.set',
]);

/** Commands that set the expiry of a key written before. */
export const EXPIRE_COMMANDS: readonly string[] = ['expire', 'pexpire', 'expireat', 'pexpireat'];

/**
 * Commands that set a key's expiry whatever else the span says (other SDKs send no TTL attribute);
 * the `SpanstatCacheKeysWithoutExpiry` alert's `command=~` list is this one (a unit test keeps them equal).
 */
export const EXPIRY_COMMANDS: ReadonlySet<string> = new Set([...EXPIRE_COMMANDS, 'setex', 'psetex']);

/** Commands that remove a key: a namespace deleted as often as written does not pile up. */
export const DELETE_COMMANDS: readonly string[] = ['del', 'unlink', 'getdel'];

/** What a command does with the cache; unknown commands neither read nor write. */
export function describeRedisCommand(command: string): RedisCommandInfo {
  return specOf(command).info;
}

/** The serializer's tail for arguments it left out. */
const OMITTED = /\s*\[\d+ other arguments?\]\s*$/;

function numberAt(args: readonly string[], at: number): number {
  const n = Number(args[at]);
  return Number.isInteger(n) && n >= 0 ? n : 0;
}

function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = Math.max(0, from); i < to; i++) out.push(i);
  return out;
}

interface KeyIndexes {
  keys: number[];
  /** Arguments that locate the keys (a key count, the STREAMS keyword): not data, kept. */
  structure: number[];
}

/**
 * Positions of the keys in `args`. `countAt` is where a script's key count sits: 1 in real
 * arguments (EVAL script numkeys …); in serialized text the script's words are split apart, so
 * the caller passes the first bare integer after it (a guess when the script holds integers).
 */
function keyIndexes(spec: KeySpec, args: readonly string[], countAt: number): KeyIndexes {
  const n = args.length;
  switch (spec) {
    case 'none':
      return { keys: [], structure: [] };
    case 'first':
      return { keys: range(0, Math.min(1, n)), structure: [] };
    case 'all':
      return { keys: range(0, n), structure: [] };
    case 'pairs':
      return { keys: range(0, n).filter((i) => i % 2 === 0), structure: [] };
    case 'firstTwo':
      return { keys: range(0, Math.min(2, n)), structure: [] };
    case 'allButLast':
      // A lone argument is a key whose timeout the serializer dropped (BLPOP needs both).
      return { keys: range(0, n === 1 ? 1 : n - 1), structure: [] };
    case 'second':
      return { keys: range(1, n), structure: [] };
    case 'numkeys':
      return { keys: range(1, Math.min(n, 1 + numberAt(args, 0))), structure: [0] };
    case 'script':
      // No key count at all: a keys-only serializer (the preload's) listed just the keys.
      if (countAt < 0) return { keys: range(0, n), structure: [] };
      if (countAt >= n) return { keys: [], structure: [] };
      return {
        keys: range(countAt + 1, Math.min(n, countAt + 1 + numberAt(args, countAt))),
        structure: [countAt],
      };
    case 'streams': {
      const at = args.findIndex((a) => a.toUpperCase() === 'STREAMS');
      if (at < 0) return { keys: [], structure: [] };
      return { keys: range(at + 1, at + 1 + Math.floor((n - at - 1) / 2)), structure: [at] };
    }
  }
}

/** Command and keys of a serialized Redis statement (`get user:1`, `SET s:x [1 other arguments]`). */
export function parseRedisStatement(text: string): RedisStatement {
  return parseFirstKeyStatement(text) ?? parseAnyRedisStatement(text);
}

/**
 * The commonest statement, `<command> <key>[ …]` for a command whose key is its first argument,
 * read with no regular expression and no array of parts: printable ASCII and single spaces only,
 * else undefined (parseAnyRedisStatement reads it). ~1.0 → ~0.2 µs per `get user:123`-style text.
 */
function parseFirstKeyStatement(text: string): RedisStatement | undefined {
  const n = text.length;
  let firstSpace = -1;
  let secondSpace = n;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 32) {
      // A leading, trailing or doubled space: the general reader trims and splits those.
      if (i === 0 || i === n - 1 || text.charCodeAt(i + 1) === 32) return undefined;
      if (firstSpace < 0) firstSpace = i;
      else if (secondSpace === n) secondSpace = i;
    } else if (c < 33 || c > 126) {
      return undefined;
    }
  }
  // `[` may open the `[N other arguments]` tail, which is no key.
  if (firstSpace < 0 || text.charCodeAt(firstSpace + 1) === 91) return undefined;
  const raw = text.slice(0, firstSpace);
  const spec = specOf(raw);
  if (spec.keys !== 'first') return undefined;
  // The table's own string for a known command: its hash is cached, so the classifier's and the
  // aggregator's look-ups by command do not hash a fresh slice each.
  const command = spec === UNKNOWN ? raw.toLowerCase() : spec.name;
  return { command, keys: [text.slice(firstSpace + 1, secondSpace)] };
}

/** parseRedisStatement for any text: the reference the fast path must agree with (tests compare them). */
export function parseAnyRedisStatement(text: string): RedisStatement {
  const trimmed = text.replace(OMITTED, '').trim();
  if (trimmed === '') return { command: '', keys: [] };
  const parts = trimmed.split(/\s+/);
  const command = parts[0].toLowerCase();
  const args = parts.slice(1);
  const countAt = args.findIndex((a, i) => i > 0 && /^[0-9]+$/.test(a));
  return { command, keys: keyIndexes(specOf(command).keys, args, countAt).keys.map((i) => args[i]) };
}

/** Keys named at most by serializeRedisCommand (an MGET of thousands stays a short attribute). */
export const MAX_SERIALIZED_KEYS = 32;
/** Longest key written; longer ones are cut. */
export const MAX_SERIALIZED_KEY_CHARS = 256;

function argText(arg: unknown): string {
  if (typeof arg === 'string') return arg;
  if (Buffer.isBuffer(arg)) return arg.toString('latin1', 0, Math.min(arg.length, MAX_SERIALIZED_KEY_CHARS));
  return String(arg);
}

function keyText(arg: string): string {
  const cut = arg.length > MAX_SERIALIZED_KEY_CHARS ? arg.slice(0, MAX_SERIALIZED_KEY_CHARS) : arg;
  // A space would split the key in two for parseRedisStatement.
  return cut.replace(/\s/g, '_') || '""';
}

/**
 * A `db.query.text` for the preload's ioredis `dbStatementSerializer` that names keys and no
 * value, keeping argument positions so parseRedisStatement reads the keys back for every command:
 * `mget a b c`, `mset k1 ? k2 [1 other arguments]`, `evalsha ? 2 k1 k2 [1 other arguments]`,
 * `hset h:1 [2 other arguments]`. The default serializer drops MGET's keys (`mget [3 other
 * arguments]`) and keeps values of some commands (`lrem list 0 <value>`). At most
 * MAX_SERIALIZED_KEYS keys are named; the rest are counted in the tail.
 */
export function serializeRedisCommand(command: string, args: readonly unknown[]): string {
  const texts = args.map(argText);
  const spec = specOf(command).keys;
  const { keys, structure } = keyIndexes(spec, texts, 1);
  const named = new Set(keys.slice(0, MAX_SERIALIZED_KEYS));
  const kept = new Set(structure);
  let last = -1;
  for (const i of named) last = Math.max(last, i);
  for (const i of kept) last = Math.max(last, i);
  // XREAD's stream ids are counted to find its keys, so they stay as placeholders.
  if (spec === 'streams' && keys.length > 0 && keys.length <= MAX_SERIALIZED_KEYS) last = texts.length - 1;
  const parts = [command];
  for (let i = 0; i <= last; i++) parts.push(named.has(i) ? keyText(texts[i]) : kept.has(i) ? texts[i] : '?');
  const omitted = texts.length - last - 1;
  if (omitted > 0) parts.push(`[${omitted} other arguments]`);
  return parts.join(' ');
}
