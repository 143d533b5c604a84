/**
 * Cache rules per namespace: hit rate under target with its likely cause, KEYS usage, keys of an
 * id-bearing namespace written without an expiry, and many single-key reads in one request that an
 * MGET or pipeline would merge.
 */
import { DELETE_COMMANDS, EXPIRE_COMMANDS, MEMBERSHIP_READ_COMMANDS } from '../../cache-keys/redis-commands';
import type { CacheRow } from '../../reports/types';
import type { AdvisorThresholds, Target } from '../types';
import {
  endpointLabel,
  fmtMs,
  fmtPct,
  fmtRate,
  OVERFLOW,
  type RuleContext,
  round,
  unitNoun,
} from './context';

export type MissReason = 'write-heavy' | 'short-ttl' | 'no-writes' | 'read-once' | 'unexplained';

/** Commands that may set the expiry of a key written before (GETEX: with EX/PX, a sliding TTL on read). */
const LATER_EXPIRY_COMMANDS = [...EXPIRE_COMMANDS, 'getex'];

/** Commands that scan the whole keyspace and block the server while they run. */
const BLOCKING_COMMANDS = ['keys'];

/**
 * Writes that refill no entry: expiry changes (an EXPIRE after each SET would double the count) and
 * deletions (invalidation, GETDEL consuming a one-time key).
 */
const NON_FILLING_WRITES = [...EXPIRE_COMMANDS, 'persist', ...DELETE_COMMANDS];

function commandCount(row: CacheRow, commands: readonly string[]): number {
  let n = 0;
  for (const c of commands) n += row.commands[c] ?? 0;
  return n;
}

/** Writes that store a value (SET, HSET, …), without expiry changes and deletions. */
export function fillingWrites(row: CacheRow): number {
  return Math.max(0, row.writes - commandCount(row, NON_FILLING_WRITES));
}

export function cacheRules(ctx: RuleContext): void {
  for (const row of ctx.input.cache) {
    if (row.namespace === OVERFLOW || row.system === OVERFLOW) continue;
    hitRateRule(ctx, row);
    keysRule(ctx, row);
    noExpiryRule(ctx, row);
  }
  singleReadsRule(ctx);
}

function namespaceTarget(row: { namespace: string }): Target {
  return { type: 'namespace', value: row.namespace };
}

function hitRateRule(ctx: RuleContext, row: CacheRow): void {
  const t = ctx.t.cache;
  const known = row.hits + row.misses;
  const target = namespaceTarget(row);
  if (known < t.minReads || row.hitRate === null) return;
  ctx.observe('cache-hit-rate', row.service, target);
  // Hysteresis on the miss rate (higher is worse): a raised one clears above ~82% with the defaults.
  const raised = ctx.raised('cache-hit-rate', row.service, target);
  const missRate = 1 - row.hitRate;
  if (row.hitRate >= t.targetHitRate && !ctx.holds(missRate, 1 - t.targetHitRate, raised !== undefined))
    return;
  const critical =
    row.hitRate < t.targetHitRate / 2 || ctx.holds(missRate, 1 - t.targetHitRate / 2, raised === 'critical');
  // Mostly membership tests or consumed keys: not a cache, so no hit rate to raise.
  if (commandCount(row, MEMBERSHIP_READ_COMMANDS) * 2 >= row.reads) return;
  const reason = missReason(row, ctx.t);
  ctx.emit({
    kind: 'cache-hit-rate',
    severity: critical ? 'critical' : 'warning',
    service: row.service,
    target,
    title: `Cache ${row.namespace}: hit rate ${fmtPct(row.hitRate)} under the ${fmtPct(t.targetHitRate)} target (${reason})`,
    evidence: {
      hits: row.hits,
      misses: row.misses,
      hitRate: round(row.hitRate, 4),
      targetHitRate: t.targetHitRate,
      reads: row.reads,
      writes: row.writes,
      writesPerRead: row.reads > 0 ? round(row.writes / row.reads, 3) : null,
      minTtlSeconds: row.minTtlSeconds,
      maxTtlSeconds: row.maxTtlSeconds,
      likelyReason: reason,
      topEndpoints: row.topEndpoints.map((e) => e.endpoint),
    },
    action: missAction(reason, row, ctx.t),
  });
}

/** The likeliest cause of a low hit rate from what the spans show (commands, TTLs set by writes). */
export function missReason(row: CacheRow, t: AdvisorThresholds): MissReason {
  // Cache-aside refills once per miss; only writes well beyond the misses mean rewriting unread entries.
  const fills = fillingWrites(row);
  if (fills > 0 && fills >= row.reads && fills > 1.5 * row.misses) return 'write-heavy';
  if (row.maxTtlSeconds !== null && row.maxTtlSeconds <= t.cache.shortTtlSeconds) return 'short-ttl';
  if (fills === 0) return 'no-writes';
  // Nearly every read misses and gets refilled although entries outlive the TTL threshold.
  if (row.hitRate !== null && row.hitRate < 0.2) return 'read-once';
  return 'unexplained';
}

function missAction(reason: MissReason, row: CacheRow, t: AdvisorThresholds): string {
  switch (reason) {
    case 'write-heavy':
      return (
        `Written ${fillingWrites(row)}× for ${row.reads} reads: entries are replaced before they are read. ` +
        'Write on change (invalidate or update the key when the data changes) instead of on every request, ' +
        'or stop caching this namespace.'
      );
    case 'short-ttl': {
      const suggested = Math.max(300, (row.maxTtlSeconds ?? 0) * 10);
      return (
        `Writes set a TTL of ${ttlRange(row)}: entries expire before they are read again, so reads miss and refill. ` +
        `Raise the TTL (e.g. EX ${suggested}) if the data may be that stale, and invalidate the key on change ` +
        `instead of relying on a short expiry (threshold: TTL ≤ ${t.cache.shortTtlSeconds} s).`
      );
    }
    case 'no-writes':
      return (
        'Reads miss but this service never writes the namespace: nothing fills it. Fill it on a miss ' +
        '(cache-aside: GET → on miss load from the database → SET key value EX <ttl>), or check that the ' +
        'writer uses the same key format.'
      );
    case 'read-once':
      return (
        'Nearly every read misses and is refilled: keys are read about once (a key per request, per timestamp ' +
        'or per rarely repeated id). Cache at a coarser grain that repeats across requests, or drop the cache here.'
      );
    default:
      return (
        'Misses without an evident cause in the spans: check evictions (INFO stats: evicted_keys, maxmemory-policy), ' +
        'keys that embed volatile parts, and invalidations that run too often.'
      );
  }
}

function ttlRange(row: CacheRow): string {
  if (row.maxTtlSeconds === null) return 'by EXPIRE';
  if (row.minTtlSeconds === null || row.minTtlSeconds === row.maxTtlSeconds) return `${row.maxTtlSeconds} s`;
  return `${row.minTtlSeconds}–${row.maxTtlSeconds} s`;
}

function keysRule(ctx: RuleContext, row: CacheRow): void {
  const target = namespaceTarget(row);
  if (row.calls > 0) ctx.observe('cache-keys-command', row.service, target);
  const used = BLOCKING_COMMANDS.filter((c) => (row.commands[c] ?? 0) > 0);
  if (used.length === 0) return;
  const count = used.reduce((sum, c) => sum + (row.commands[c] ?? 0), 0);
  ctx.emit({
    kind: 'cache-keys-command',
    severity: 'warning',
    service: row.service,
    target,
    title: `KEYS on ${row.namespace}: ${count} call(s) that block Redis while scanning every key`,
    evidence: {
      keysCalls: count,
      calls: row.calls,
      p99Ms: round(row.p99Ms),
      topEndpoints: row.topEndpoints.map((e) => e.endpoint),
    },
    action:
      'KEYS walks the whole keyspace in one blocking call. Use SCAN with MATCH and COUNT ' +
      "(ioredis: redis.scanStream({ match: 'prefix:*', count: 100 })), or keep the members in a SET " +
      '(SADD on write, SMEMBERS/SSCAN to list).',
  });
}

/**
 * Keys of an id-bearing namespace (`session:*`: one key per id) written without an expiry pile up
 * until Redis reaches maxmemory (then evictions, or OOM errors under `noeviction`), and what they
 * cache goes stale for good. Judged only where the spans show it: writes that left their key
 * without an expiry (SET without EX…, MSET, SETNX) or structure writes (HSET, SADD, …) that set no
 * TTL, while no command set an expiry on the namespace in the window. Not for fixed-name keys (no
 * `*`: a counter, a config key, a queue) nor for namespaces deleted about as often as written
 * (tokens, locks). A namespace where some writes set an expiry and plain SETs do not is reported
 * too: each such SET clears the TTL the key had.
 */
function noExpiryRule(ctx: RuleContext, row: CacheRow): void {
  if (!row.namespace.includes('*')) return;
  const t = ctx.t.cache;
  const untimed = row.noExpiryWrites + row.untimedWrites;
  const target = namespaceTarget(row);
  if (untimed + row.expirySets < t.minNoExpiryWrites) return;
  ctx.observe('cache-no-expiry', row.service, target);
  if (untimed < t.minNoExpiryWrites) return;
  const deletes = commandCount(row, DELETE_COMMANDS);
  if (deletes >= untimed * t.deletesPerWriteExempt) return;
  const mixed = row.expirySets > 0;
  // SET then EXPIRE is a TTL set in two commands, and GETEX EX on read a sliding one: only SETs beyond
  // those commands can have lost their TTL for good.
  if (mixed && row.noExpiryWrites - commandCount(row, LATER_EXPIRY_COMMANDS) < t.minNoExpiryWrites) return;
  const fix =
    'Give every write an expiry: SET key value EX <ttl> (ioredis: redis.set(key, value, "EX", ttl)), or ' +
    'EXPIRE key <ttl> right after HSET/SADD/RPUSH in the same MULTI or pipeline ' +
    '(redis.multi().hset(key, fields).expire(key, ttl).exec()); use SET … KEEPTTL to update a value without ' +
    'touching its expiry. Meanwhile, check used_memory and maxmemory-policy (INFO memory).';
  ctx.emit({
    kind: 'cache-no-expiry',
    severity: 'warning',
    service: row.service,
    target,
    title: mixed
      ? `Keys in ${row.namespace} lose their expiry: ${row.noExpiryWrites} write(s) without one ` +
        `beside ${row.expirySets} that set one`
      : `Keys in ${row.namespace} are written without an expiry ` +
        `(${fmtRate(row.noExpiryWritesPerMin)}/min): they stay until deleted or evicted`,
    evidence: {
      writesWithoutExpiry: row.noExpiryWrites,
      structureWritesWithoutTtl: row.untimedWrites,
      writesWithoutExpiryPerMin: round(row.noExpiryWritesPerMin),
      expirySets: row.expirySets,
      mixed,
      deletes,
      minTtlSeconds: row.minTtlSeconds,
      maxTtlSeconds: row.maxTtlSeconds,
      topEndpoints: row.topEndpoints.map((e) => e.endpoint),
    },
    action:
      (mixed
        ? `Some writes of ${row.namespace} set a TTL (${ttlRange(row)}) and others do not: a SET without EX/PX ` +
          'clears the TTL the key had, so those keys stay until deleted or evicted. '
        : `No write of ${row.namespace} set an expiry in the window, and keys are rarely deleted: one key per id ` +
          'piles up until Redis reaches maxmemory (then evictions of other keys, or OOM errors under noeviction), ' +
          'and cached data never refreshes. ') + fix,
  });
}

function singleReadsRule(ctx: RuleContext): void {
  const t = ctx.t.cache;
  for (const row of ctx.input.endpointCache) {
    if (row.route === OVERFLOW || row.namespace === OVERFLOW) continue;
    const route = endpointLabel(row.method, row.route);
    const target: Target = { type: 'namespace', value: row.namespace, route };
    if (row.requestsWithOps >= t.minAffectedRequests) ctx.observe('cache-single-reads', row.service, target);
    const affected = row.requestsOverThreshold;
    if (affected < t.minAffectedRequests || row.maxOpsPerRequest < t.minSingleReadsPerRequest) continue;
    const share = row.requests > 0 ? affected / row.requests : 0;
    const msPerAffected = row.overThresholdMs / affected;
    ctx.emit({
      kind: 'cache-single-reads',
      severity: 'warning',
      service: row.service,
      target,
      title: `${route} reads ${row.namespace} key by key: up to ${row.maxOpsPerRequest} commands per ${unitNoun(row.method)}`,
      evidence: {
        routeRequests: row.requests,
        requestsWithOps: row.requestsWithOps,
        requestsAffected: affected,
        shareOfRequestsAffected: round(share, 4),
        singleReadsPerRequest: round(row.singleReadsPerRequest),
        meanOpsPerRequest: round(row.meanOpsPerRequest),
        maxOpsPerRequest: row.maxOpsPerRequest,
        msPerAffectedRequest: round(msPerAffected),
      },
      action:
        `${fmtPct(share)} of ${unitNoun(row.method)}s issue ≥${t.minSingleReadsPerRequest} single-key reads of ${row.namespace} ` +
        `(${fmtMs(msPerAffected)} per affected ${unitNoun(row.method)}, one round trip each). Read them in one round trip: ` +
        'MGET k1 k2 … (ioredis: redis.mget(keys)), HMGET for hash fields, or a pipeline ' +
        '(redis.pipeline().get(a).get(b).exec()).',
      exampleTraceId: row.exampleTraceId || undefined,
    });
  }
}
