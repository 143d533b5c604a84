/**
 * Lock waits from fake pg_stat_activity samples: the aggregation over the window (bounded), the
 * slow-query advice of a statement that waits on a lock, the idle-in-transaction rule, and no raw
 * literal of the sampled texts anywhere in what comes out.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { evaluate, evaluateDetailed } from '../../src/advise/evaluate';
import { type LockSession, LockWaitAggregator, type LockWaitSummary } from '../../src/advise/lock-waits';
import { loadParser } from '../../src/advise/predicate-columns';
import { RecommendationStore } from '../../src/advise/store';
import { DEFAULTS } from '../../src/config/defaults';
import { SqlFingerprinter } from '../../src/sql';
import { input, queryRow, thresholds } from './advise-fixtures';

let fp: SqlFingerprinter;
const HOLDER = 'UPDATE accounts SET balance = balance + 250 WHERE id = 4242';
const WAITER = "UPDATE accounts SET balance = balance - 9137, note = 'secret-note' WHERE id = 4242";
const LITERALS = ['4242', '9137', '250', 'secret-note'];

function session(pid: number, raw: string, o: Partial<LockSession> = {}): LockSession {
  const shape = fp.fingerprint('postgresql', raw);
  return {
    pid,
    state: 'active',
    fingerprint: shape.fingerprint,
    statement: shape.statement,
    application: 'bank',
    xactMs: 1_000,
    stateMs: 500,
    waitingOnLock: false,
    blockedBy: [],
    ...o,
  };
}

/** A holder idle in transaction for `idleMs` and `waiters` sessions of WAITER blocked by it. */
function lockSample(atMs: number, idleMs = 2_000, waiters = 1) {
  const holder = session(10, HOLDER, { state: 'idle in transaction', stateMs: idleMs, xactMs: idleMs + 100 });
  const waiting = Array.from({ length: waiters }, (_, i) =>
    session(20 + i, WAITER, { waitingOnLock: true, blockedBy: [10], stateMs: 300 + i * 100 }),
  );
  return { atMs, sessions: [holder, ...waiting] };
}

function aggregator(window: '1m' | '5m' | 'all' = '5m', maxRows?: number) {
  return new LockWaitAggregator({ window, idleInTransactionMs: 1_000, maxRows });
}

const waiterShape = () => fp.fingerprint('postgresql', WAITER);
const holderShape = () => fp.fingerprint('postgresql', HOLDER);

/** A report row of `raw`'s shape, as the classifier would have made it. */
function shapeRow(raw: string, o: Parameters<typeof queryRow>[0] = {}) {
  const { fingerprint, statement, operation, table } = fp.fingerprint('postgresql', raw);
  return queryRow({ fingerprint, statement, operation, table, ...o });
}

const slowWaiter = () => shapeRow(WAITER, { p95Ms: 800, calls: 50 });

function expectNoLiterals(value: unknown): void {
  const text = JSON.stringify(value);
  for (const literal of LITERALS) expect(text).not.toContain(literal);
}

beforeAll(async () => {
  await loadParser();
  fp = await SqlFingerprinter.create(DEFAULTS.sql);
});

describe('lock-wait aggregation', () => {
  it('counts a fingerprint once per sample, keeps the longest wait and who held the lock', () => {
    const agg = aggregator();
    agg.add(lockSample(1_000, 2_000, 2));
    agg.add(lockSample(2_000, 3_000, 1));
    agg.add({ atMs: 3_000, sessions: [] });
    const s = agg.summary(3_000);
    expect(s.samples).toBe(3);
    expect(s.waits).toHaveLength(1);
    expect(s.waits[0]).toMatchObject({
      fingerprint: waiterShape().fingerprint,
      statement: waiterShape().statement,
      samples: 2,
      maxWaitMs: 400,
    });
    expect(s.waits[0].blockers).toEqual([
      {
        fingerprint: holderShape().fingerprint,
        statement: holderShape().statement,
        state: 'idle in transaction',
        samples: 2,
        maxXactMs: 3_100,
      },
    ]);
    expect(s.idleInTransaction).toEqual([
      {
        fingerprint: holderShape().fingerprint,
        statement: holderShape().statement,
        application: 'bank',
        samples: 2,
        maxSessions: 1,
        maxIdleMs: 3_000,
        maxXactMs: 3_100,
        blocking: true,
      },
    ]);
    expectNoLiterals(s);
  });

  it('reports idle-in-transaction sessions only from the threshold on', () => {
    const agg = aggregator();
    agg.add(lockSample(1_000, 999, 0));
    expect(agg.summary(1_000).idleInTransaction).toEqual([]);
    agg.add(lockSample(2_000, 1_000, 0));
    expect(agg.summary(2_000).idleInTransaction).toMatchObject([{ samples: 1, blocking: false }]);
  });

  it('names a blocker it cannot see as unknown', () => {
    const agg = aggregator();
    agg.add({ atMs: 0, sessions: [session(20, WAITER, { waitingOnLock: true, blockedBy: [99] })] });
    expect(agg.summary(0).waits[0].blockers).toEqual([
      { fingerprint: '', statement: '', state: 'unknown', samples: 1, maxXactMs: 0 },
    ]);
  });

  it('forgets samples older than the window', () => {
    const agg = aggregator('1m');
    agg.add(lockSample(0));
    agg.add(lockSample(50_000));
    expect(agg.summary(50_000)).toMatchObject({ samples: 2, waits: [{ samples: 2 }] });
    expect(agg.summary(100_000)).toMatchObject({ samples: 1, waits: [{ samples: 1 }] });
    expect(agg.summary(200_000)).toEqual({ samples: 0, waits: [], idleInTransaction: [] });
  });

  it('keeps everything in one bucket for the all window', () => {
    const agg = aggregator('all');
    for (let i = 0; i < 10; i++) agg.add(lockSample(i * 3_600_000));
    expect(agg.summary(10 * 3_600_000)).toMatchObject({ samples: 10, waits: [{ samples: 10 }] });
  });

  it('bounds the rows it keeps', () => {
    const agg = aggregator('5m', 3);
    const sessions = Array.from({ length: 10 }, (_, i) =>
      session(100 + i, `UPDATE t${i} SET x = 1 WHERE id = 2`, { waitingOnLock: true, blockedBy: [] }),
    );
    agg.add({ atMs: 0, sessions });
    expect(agg.summary(0).waits).toHaveLength(3);
  });
});

function lockWaits(samples: number, idleMs = 2_000): LockWaitSummary {
  const agg = aggregator();
  for (let i = 0; i < samples; i++) agg.add(lockSample(i * 1_000, idleMs));
  agg.add({ atMs: samples * 1_000, sessions: [] });
  return agg.summary(samples * 1_000);
}

describe('slow-query advice of a statement that waits on locks', () => {
  it('says it waits, on whom, and what to do, before any index advice', () => {
    const [rec] = evaluate(
      input({ queries: [slowWaiter()], lockWaits: lockWaits(3) }),
      thresholds(),
      0,
    ).filter((r) => r.kind === 'slow-query');
    expect(rec.severity).toBe('critical');
    expect(rec.title).toBe(
      `Slow query: ${waiterShape().statement.slice(0, 59)}… p95 800 ms over 50 calls — waits on locks held by UPDATE accounts SET balance = balance + $1 WHERE id = $2 (idle in transaction)`,
    );
    expect(rec.evidence).toMatchObject({
      lockWaitSamples: 3,
      lockSamples: 4,
      lockWaitShare: 0.75,
      maxLockWaitMs: 300,
      blockerFingerprints: [holderShape().fingerprint],
      blockers: [
        '`UPDATE accounts SET balance = balance + $1 WHERE id = $2` (idle in transaction, transaction open 2100 ms, 3 samples)',
      ],
    });
    expect(rec.action).toMatch(
      /^It waits on locks held by `UPDATE accounts SET balance = balance \+ \$1 WHERE id = \$2` \(idle in transaction, .*\): seen waiting in 3 of 4 samples \(75%\), up to 300 ms — an index will not shorten that\. Keep the transaction that runs `UPDATE accounts SET balance = balance \+ \$1 WHERE id = \$2` short: don't await Redis\/HTTP/,
    );
    for (const words of [
      'consistent order',
      'FOR UPDATE SKIP LOCKED',
      'lock_timeout',
      'idle_in_transaction_session_timeout',
    ])
      expect(rec.action).toContain(words);
    expect(rec.action.indexOf('lock_timeout')).toBeLessThan(rec.action.indexOf('EXPLAIN'));
    expectNoLiterals(rec);
  });

  it('points to the idle-in-transaction recommendation only when the blocker was idle past its threshold', () => {
    const action = (idleMs: number) =>
      evaluate(input({ queries: [slowWaiter()], lockWaits: lockWaits(3, idleMs) }), thresholds(), 0).find(
        (r) => r.kind === 'slow-query',
      )?.action ?? '';
    expect(action(2_000)).toContain('(see the idle-in-transaction recommendation)');
    expect(action(500)).toContain('The blocker sat idle in transaction');
    expect(action(500)).not.toContain('see the idle-in-transaction');
  });

  it('keeps the index advice alone under lockMinSamples samples, or without samples', () => {
    for (const lockWaitsInput of [lockWaits(1), undefined]) {
      const [rec] = evaluate(
        input({ queries: [slowWaiter()], lockWaits: lockWaitsInput }),
        thresholds(),
        0,
      ).filter((r) => r.kind === 'slow-query');
      expect(rec.title).not.toContain('waits on locks');
      expect(rec.action).toMatch(/^Run EXPLAIN/);
      expect(rec.evidence.lockWaitSamples).toBeUndefined();
    }
  });

  it('keeps the recommendation id of the slow query', () => {
    const id = (lw?: LockWaitSummary) =>
      evaluate(input({ queries: [slowWaiter()], lockWaits: lw }), thresholds(), 0).find(
        (r) => r.kind === 'slow-query',
      )?.id;
    expect(id(lockWaits(3))).toBe(id(undefined));
  });
});

describe('idle-in-transaction rule', () => {
  const holderRow = () => shapeRow(HOLDER, { service: 'api' });

  it('is critical when the idle session held a lock others waited on, on the service that runs its statement', () => {
    const recs = evaluate(
      input({ queries: [holderRow()], lockWaits: lockWaits(2, 12_000) }),
      thresholds(),
      0,
    ).filter((r) => r.kind === 'idle-in-transaction');
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({
      severity: 'critical',
      service: 'api',
      target: { type: 'fingerprint', value: holderShape().fingerprint, statement: holderShape().statement },
      title:
        'Idle in transaction for up to 12 s after UPDATE accounts SET balance = balance + $1 WHERE id = $2, holding locks others wait on',
      evidence: { idleSamples: 2, maxSessions: 1, maxIdleMs: 12_000, thresholdMs: 10_000, blocking: true },
    });
    expect(recs[0].action).toContain('idle_in_transaction_session_timeout');
    expect(recs[0].action).toContain('await');
    expectNoLiterals(recs);
  });

  it('is a warning when it blocked nobody, named after the application when no span has its statement', () => {
    const agg = aggregator();
    agg.add({
      atMs: 0,
      sessions: [
        session(10, HOLDER, { state: 'idle in transaction', stateMs: 5_000, application: 'worker' }),
      ],
    });
    const [rec] = evaluate(
      input({ lockWaits: agg.summary(0) }),
      thresholds({ idleInTransactionMs: 1_000 }),
      0,
    );
    expect(rec).toMatchObject({ kind: 'idle-in-transaction', severity: 'warning', service: 'worker' });
    expect(rec.title).not.toContain('holding locks');
  });

  it('resolves once the window has samples and no idle session after the statement', () => {
    const store = new RecommendationStore({
      maxEntries: 100,
      resolvedRetentionMs: 1e9,
      unobservedResolveMs: 1e9,
    });
    const queries = [holderRow()];
    store.update(evaluateDetailed(input({ queries, lockWaits: lockWaits(2, 12_000) }), thresholds(), 1), 1);
    expect(store.list({ kind: 'idle-in-transaction', state: 'active' })).toHaveLength(1);
    const quiet = aggregator();
    quiet.add({ atMs: 0, sessions: [] });
    const changes = store.update(
      evaluateDetailed(input({ queries, lockWaits: quiet.summary(0) }), thresholds(), 2),
      2,
    );
    expect(changes.resolved.map((r) => r.kind)).toEqual(['idle-in-transaction']);
  });
});
