/** Per (service, system, namespace) statistics: the cache report's rows. */
import { EXPIRY_COMMANDS, UNTIMED_WRITE_COMMANDS } from '../cache-keys/redis-commands';
import { NO_EXPIRY } from '../model/attributes';
import type { CacheCall, NamespaceReads } from '../model/classified';
import { ms } from './acc-util';
import { OVERFLOW_LABEL } from './bounded-table';
import { Sketch } from './sketch';
import { TopK } from './top-k';
import type { AccumulatorOps, Windowed } from './windowed';

/** Distinct command names counted per bucket; further names are counted under `other`. */
export const MAX_COMMANDS = 32;

export interface CacheAcc {
  calls: number;
  errors: number;
  /** Keys read (see addCacheCall); writes count commands. */
  reads: number;
  writes: number;
  hits: number;
  misses: number;
  sketch: Sketch;
  /** Commands by lower-case name (bounded by MAX_COMMANDS). */
  commands: Map<string, number>;
  /** TTLs set by writes (s); +Infinity / −Infinity while none was seen. */
  minTtl: number;
  maxTtl: number;
  /** Writes that left their key without an expiry (the preload's ttl −1: SET without EX, MSET, …). */
  noExpiryWrites: number;
  /** Structure writes (HSET, SADD, INCR, …; UNTIMED_WRITE_COMMANDS) that set no TTL themselves. */
  untimedWrites: number;
  /** Writes and expiry commands that set a TTL (SET … EX, SETEX, EXPIRE, …). */
  expirySets: number;
  top: TopK;
}

export interface CacheState {
  readonly service: string;
  readonly system: string;
  namespace: string;
  readonly stats: Windowed<CacheAcc>;
}

function addCommand(commands: Map<string, number>, name: string, n: number): void {
  const seen = commands.get(name);
  if (seen !== undefined) commands.set(name, seen + n);
  else if (commands.size < MAX_COMMANDS) commands.set(name, n);
  else commands.set('other', (commands.get('other') ?? 0) + n);
}

export function cacheOps(relativeAccuracy: number, topCapacity: number): AccumulatorOps<CacheAcc> {
  return {
    create: () => ({
      calls: 0,
      errors: 0,
      reads: 0,
      writes: 0,
      hits: 0,
      misses: 0,
      sketch: new Sketch(relativeAccuracy),
      commands: new Map(),
      minTtl: Number.POSITIVE_INFINITY,
      maxTtl: Number.NEGATIVE_INFINITY,
      noExpiryWrites: 0,
      untimedWrites: 0,
      expirySets: 0,
      top: new TopK(topCapacity),
    }),
    merge(into, from, move) {
      into.calls += from.calls;
      into.errors += from.errors;
      into.reads += from.reads;
      into.writes += from.writes;
      into.hits += from.hits;
      into.misses += from.misses;
      into.sketch.merge(from.sketch, move);
      for (const [name, n] of from.commands) addCommand(into.commands, name, n);
      if (from.minTtl < into.minTtl) into.minTtl = from.minTtl;
      if (from.maxTtl > into.maxTtl) into.maxTtl = from.maxTtl;
      into.noExpiryWrites += from.noExpiryWrites;
      into.untimedWrites += from.untimedWrites;
      into.expirySets += from.expirySets;
      into.top.merge(from.top);
      if (move) {
        from.calls = from.errors = from.reads = from.writes = from.hits = from.misses = 0;
        from.noExpiryWrites = from.untimedWrites = from.expirySets = 0;
        from.commands.clear();
        from.minTtl = Number.POSITIVE_INFINITY;
        from.maxTtl = Number.NEGATIVE_INFINITY;
        from.top.clear();
      }
    },
  };
}

export function addCacheCall(acc: CacheAcc, call: CacheCall): void {
  const d = ms(call.durationMs);
  acc.calls++;
  if (call.error) acc.errors++;
  const hits = Math.max(call.hits, 0);
  const misses = Math.max(call.misses, 0);
  // Reads count keys looked up, as hits and misses do (an MGET of three keys is three reads), so
  // hits + misses never exceed reads; a read whose outcome is unknown (other SDKs) counts one.
  if (call.read) acc.reads += Math.max(hits + misses, 1);
  if (call.write) acc.writes++;
  acc.hits += hits;
  acc.misses += misses;
  acc.sketch.add(d);
  addCommand(acc.commands, call.command, 1);
  const ttl = call.ttlSeconds;
  if (ttl !== undefined && ttl >= 0) {
    acc.expirySets++;
    if (ttl < acc.minTtl) acc.minTtl = ttl;
    if (ttl > acc.maxTtl) acc.maxTtl = ttl;
  } else if (ttl === NO_EXPIRY) {
    acc.noExpiryWrites++;
  } else if (call.write && !call.error) {
    // No TTL attribute: other SDKs, an EXPIRE on a missing key, or a command that cannot tell.
    if (EXPIRY_COMMANDS.has(call.command)) acc.expirySets++;
    else if (UNTIMED_WRITE_COMMANDS.has(call.command)) acc.untimedWrites++;
  }
}

/** Keys of this namespace a multi-key read of another looked up (CacheCall.otherNamespaceReads): reads, hits and misses only. */
export function addOtherNamespaceReads(acc: CacheAcc, reads: NamespaceReads): void {
  acc.reads += reads.hits + reads.misses;
  acc.hits += reads.hits;
  acc.misses += reads.misses;
}

export function newCacheState(
  call: CacheCall,
  overflowService: string | null,
  stats: Windowed<CacheAcc>,
): CacheState {
  if (overflowService === null) {
    return { service: call.service, system: call.system, namespace: call.namespace, stats };
  }
  return { service: overflowService, system: OVERFLOW_LABEL, namespace: OVERFLOW_LABEL, stats };
}
