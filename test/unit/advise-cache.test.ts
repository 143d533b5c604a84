import { describe, expect, it } from 'vitest';
import { evaluate, evaluateDetailed } from '../../src/advise/evaluate';
import { cacheRow, endpointCacheRow, input, thresholds } from './advise-fixtures';

const recs = (o: Parameters<typeof cacheRow>[0]) =>
  evaluate(input({ cache: [cacheRow(o)] }), thresholds(), 0);
/** 100 reads with a known result at a given hit rate. */
const rate = (hitRate: number) => ({
  hits: Math.round(hitRate * 100),
  misses: 100 - Math.round(hitRate * 100),
  hitRate,
  reads: 100,
});

describe('cache hit-rate rule', () => {
  it('does not report a namespace at the 80% target', () => {
    expect(recs(rate(0.8))).toEqual([]);
  });

  it('reports a namespace just under the target', () => {
    const [rec] = recs({ ...rate(0.79), writes: 21 });
    expect(rec).toMatchObject({
      kind: 'cache-hit-rate',
      severity: 'warning',
      target: { type: 'namespace', value: 'user:*' },
    });
    expect(rec.evidence).toMatchObject({ hits: 79, misses: 21, hitRate: 0.79, targetHitRate: 0.8 });
  });

  it('does not judge fewer than 100 reads', () => {
    expect(recs({ hits: 10, misses: 89, hitRate: 0.1, reads: 99 })).toEqual([]);
  });

  it('is critical under half the target', () => {
    expect(recs({ ...rate(0.39), writes: 61, maxTtlSeconds: 3600 })[0].severity).toBe('critical');
  });

  it('names a short TTL seen on writes as the likely cause and gives it', () => {
    const [rec] = recs({ ...rate(0.5), writes: 50, minTtlSeconds: 5, maxTtlSeconds: 5 });
    expect(rec.evidence.likelyReason).toBe('short-ttl');
    expect(rec.action).toContain('TTL of 5 s');
    expect(rec.action).toMatch(/EX 300/);
  });

  it('takes one refill per miss for cache-aside, not for a write-heavy namespace', () => {
    const [rec] = recs({
      hits: 0,
      misses: 150,
      hitRate: 0,
      reads: 150,
      writes: 150,
      minTtlSeconds: 5,
      maxTtlSeconds: 5,
    });
    expect(rec.evidence.likelyReason).toBe('short-ttl');
  });

  it('does not call a TTL just over the threshold short', () => {
    const [rec] = recs({ ...rate(0.5), writes: 50, minTtlSeconds: 61, maxTtlSeconds: 61 });
    expect(rec.evidence.likelyReason).not.toBe('short-ttl');
  });

  it('tells write-heavy, never-written and read-once namespaces apart', () => {
    expect(recs({ ...rate(0.5), writes: 150 })[0].evidence.likelyReason).toBe('write-heavy');
    expect(
      recs({ ...rate(0.5), writes: 0, maxTtlSeconds: null, minTtlSeconds: null })[0].evidence.likelyReason,
    ).toBe('no-writes');
    expect(recs({ ...rate(0.1), writes: 90 })[0].evidence.likelyReason).toBe('read-once');
    expect(recs({ ...rate(0.6), writes: 40 })[0].evidence.likelyReason).toBe('unexplained');
  });
});

describe('KEYS rule', () => {
  it('reports KEYS on a namespace with SCAN as the fix', () => {
    const [rec] = recs({ commands: { get: 1000, keys: 3 } });
    expect(rec).toMatchObject({ kind: 'cache-keys-command', evidence: { keysCalls: 3 } });
    expect(rec.action).toContain('SCAN');
  });

  it('stays silent without KEYS', () => {
    expect(recs({ commands: { get: 1000, scan: 3 } })).toEqual([]);
  });
});

describe('single-key reads rule', () => {
  const over = {
    requestsOverThreshold: 3,
    maxOpsPerRequest: 5,
    overThresholdMs: 30,
    singleReadsPerRequest: 5,
  };
  const single = (o: Parameters<typeof endpointCacheRow>[0]) =>
    evaluate(input({ endpointCache: [endpointCacheRow(o)] }), thresholds(), 0);

  it('reports 5 single reads per request in 3 requests with MGET/pipeline as the fix', () => {
    const [rec] = single(over);
    expect(rec).toMatchObject({
      kind: 'cache-single-reads',
      target: { type: 'namespace', value: 'post:*', route: 'GET /feed' },
      evidence: { requestsAffected: 3, maxOpsPerRequest: 5, msPerAffectedRequest: 10 },
      exampleTraceId: 'trace-c',
    });
    expect(rec.action).toContain('MGET');
    expect(rec.action).toContain('pipeline');
  });

  it('says per run for a job', () => {
    const [rec] = single({ ...over, method: 'JOB', route: 'warm-feed' });
    expect(rec.title).toBe('JOB warm-feed reads post:* key by key: up to 5 commands per run');
    expect(rec.action).toMatch(/ of runs issue ≥5 single-key reads of post:\* \(10 ms per affected run, /);
  });

  it('does not report 2 affected requests or 4 reads', () => {
    expect(single({ ...over, requestsOverThreshold: 2 })).toEqual([]);
    expect(single({ ...over, maxOpsPerRequest: 4 })).toEqual([]);
  });
});

describe('cache hit-rate causes from the commands used', () => {
  it('does not count an EXPIRE after each write as a second write (short TTL, not write-heavy)', () => {
    const [rec] = recs({
      hits: 4,
      misses: 112,
      hitRate: 4 / 116,
      reads: 116,
      writes: 224,
      commands: { hgetall: 116, hset: 112, expire: 112 },
      minTtlSeconds: 2,
      maxTtlSeconds: 2,
    });
    expect(rec.evidence.likelyReason).toBe('short-ttl');
  });

  it('does not call an invalidated namespace write-heavy for its deletes', () => {
    const [rec] = recs({ ...rate(0.5), writes: 150, commands: { get: 100, set: 50, del: 100 } });
    expect(rec.evidence.likelyReason).not.toBe('write-heavy');
  });

  it('gives no hit-rate advice for membership tests or consumed one-time keys', () => {
    // Idempotency keys: EXISTS, then SET NX on a miss.
    expect(recs({ ...rate(0), writes: 100, commands: { exists: 100, set: 100 } })).toEqual([]);
    // One-time tokens consumed with GETDEL.
    expect(recs({ ...rate(0.5), writes: 200, commands: { getdel: 100, set: 100 } })).toEqual([]);
  });
});

describe('cache no-expiry rule', () => {
  /** A namespace written `writes` times by `command` without an expiry, none set, nothing deleted. */
  const persistent = (o: Parameters<typeof cacheRow>[0] = {}) => ({
    namespace: 'session:*',
    writes: 300,
    commands: { get: 1000, set: 300 },
    noExpiryWrites: 300,
    untimedWrites: 0,
    noExpiryWritesPerMin: 60,
    expirySets: 0,
    minTtlSeconds: null,
    maxTtlSeconds: null,
    ...o,
  });
  const noExpiry = (o: Parameters<typeof cacheRow>[0] = {}) =>
    recs(persistent(o)).filter((r) => r.kind === 'cache-no-expiry');

  it('reports an id-bearing namespace written without an expiry, with the rate and a fix', () => {
    const [rec, ...rest] = noExpiry();
    expect(rest).toEqual([]);
    expect(rec).toMatchObject({
      kind: 'cache-no-expiry',
      severity: 'warning',
      target: { type: 'namespace', value: 'session:*' },
      evidence: { writesWithoutExpiry: 300, writesWithoutExpiryPerMin: 60, expirySets: 0, deletes: 0 },
    });
    expect(rec.title).toContain('session:*');
    expect(rec.title).toContain('without an expiry');
    expect(rec.action).toContain('SET key value EX <ttl>');
    expect(rec.action).toContain('EXPIRE key <ttl>');
  });

  it('reports hashes and sets written without any EXPIRE on the namespace', () => {
    const [rec] = noExpiry({
      namespace: 'user:*:profile',
      commands: { hgetall: 1000, hset: 300 },
      noExpiryWrites: 0,
      untimedWrites: 300,
    });
    expect(rec).toMatchObject({ evidence: { structureWritesWithoutTtl: 300 } });
  });

  it('rounds the rate in the title and the evidence (a window of 5 m 18 s gave 12.5822/min)', () => {
    const [rec] = noExpiry({ noExpiryWritesPerMin: 12.582214 });
    expect(rec.title).toContain('(13/min)');
    expect(rec.evidence.writesWithoutExpiryPerMin).toBe(12.58);
    const [slow] = noExpiry({ noExpiryWritesPerMin: 4.2517 });
    expect(slow.title).toContain('(4.3/min)');
  });

  it('leaves fixed-name keys alone: counters, config, a queue', () => {
    expect(noExpiry({ namespace: 'config' })).toEqual([]);
    expect(
      noExpiry({ namespace: 'queue:jobs', commands: { rpush: 300 }, noExpiryWrites: 0, untimedWrites: 300 }),
    ).toEqual([]);
  });

  it('leaves namespaces deleted after use alone', () => {
    expect(noExpiry({ commands: { set: 300, del: 150 } })).toEqual([]);
    expect(noExpiry({ commands: { set: 300, getdel: 290 } })).toEqual([]);
    // A few deletes do not stop the pile-up.
    expect(noExpiry({ commands: { set: 300, del: 20 } })).toHaveLength(1);
  });

  it('does not judge a namespace written with an expiry or with KEEPTTL (neither is counted)', () => {
    expect(noExpiry({ noExpiryWrites: 0, expirySets: 300, minTtlSeconds: 60, maxTtlSeconds: 60 })).toEqual(
      [],
    );
    expect(noExpiry({ noExpiryWrites: 0, noExpiryWritesPerMin: 0 })).toEqual([]);
  });

  it('does not judge fewer writes than the threshold', () => {
    expect(noExpiry({ noExpiryWrites: 19, noExpiryWritesPerMin: 4 })).toEqual([]);
    expect(noExpiry({ noExpiryWrites: 20, noExpiryWritesPerMin: 4 })).toHaveLength(1);
  });

  it('takes SET or HSET followed by EXPIRE, and SET read with GETEX … EX, as an expiry set', () => {
    expect(noExpiry({ commands: { set: 300, expire: 300 }, expirySets: 300, maxTtlSeconds: 600 })).toEqual(
      [],
    );
    expect(
      noExpiry({
        commands: { hset: 300, expire: 300 },
        noExpiryWrites: 0,
        untimedWrites: 300,
        expirySets: 300,
        maxTtlSeconds: 600,
      }),
    ).toEqual([]);
    // A sliding TTL: SET, then GETEX … EX on each read.
    expect(noExpiry({ commands: { set: 300, getex: 900 }, expirySets: 900, maxTtlSeconds: 600 })).toEqual([]);
  });

  it('reports plain SETs beside SET … EX: each clears the TTL the key had', () => {
    const [rec] = noExpiry({
      commands: { set: 400 },
      noExpiryWrites: 100,
      expirySets: 300,
      minTtlSeconds: 3600,
      maxTtlSeconds: 3600,
    });
    expect(rec).toMatchObject({
      kind: 'cache-no-expiry',
      evidence: { writesWithoutExpiry: 100, expirySets: 300 },
    });
    expect(rec.title).toContain('lose their expiry');
    expect(rec.action).toContain('clears the TTL');
    expect(rec.action).toContain('3600 s');
  });

  it('resolves once the namespace is written with an expiry: the target stays observed', () => {
    const fixed = evaluateDetailed(
      input({ cache: [cacheRow(persistent({ noExpiryWrites: 0, expirySets: 300, maxTtlSeconds: 60 }))] }),
      thresholds(),
      0,
    );
    const before = evaluateDetailed(input({ cache: [cacheRow(persistent())] }), thresholds(), 0);
    const id = before.recommendations.find((r) => r.kind === 'cache-no-expiry')?.id;
    expect(id).toBeDefined();
    expect(fixed.observed.has(id as string)).toBe(true);
    expect(fixed.recommendations.filter((r) => r.kind === 'cache-no-expiry')).toEqual([]);
  });
});
