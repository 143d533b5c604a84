import { describe, expect, it } from 'vitest';
import { Advisor, type LockWaitSource } from '../../src/advise/advisor';
import { recommendationsResponse } from '../../src/advise/api';
import { AdvisorDatabases } from '../../src/advise/databases';
import type { IndexInspector } from '../../src/advise/index-advisor';
import { createLockSampler, type LockSamplerStatus } from '../../src/advise/lock-sampler';
import { type LockWaitSummary, PRIVILEGE_HINT } from '../../src/advise/lock-waits';
import type { AdvisorConfig, AdvisorInput, IndexCandidate, IndexFinding } from '../../src/advise/types';
import { adviceText } from '../../src/cli/advise-command';
import { DEFAULTS } from '../../src/config/defaults';
import { isSpanstatError } from '../../src/errors';
import { endpointRow, input, queryRow } from './advise-fixtures';

const config = (o: Partial<AdvisorConfig> = {}): AdvisorConfig =>
  ({ ...structuredClone(DEFAULTS.advisor), intervalSeconds: 3600, ...o }) as AdvisorConfig;

/** Proposes an index for every statement it is asked about, and records what it was asked. */
class FakeInspector implements IndexInspector {
  asked: IndexCandidate[] = [];
  closed = 0;
  async inspect(c: IndexCandidate): Promise<IndexFinding> {
    this.asked.push(c);
    return {
      service: c.service,
      fingerprint: c.fingerprint,
      columns: [{ table: { name: 'orders' }, column: 'customer_id', use: 'eq' }],
      checked: true,
      proposals: [
        {
          table: 'orders',
          columns: ['customer_id'],
          statement: 'CREATE INDEX CONCURRENTLY orders_customer_id_idx ON orders (customer_id);',
          tableRows: 100_000,
          existingIndexes: [],
        },
      ],
      skipped: [],
    };
  }
  async close(): Promise<void> {
    this.closed++;
  }
}

/** Lock waits of a fake sampler: WAITS waits on a lock in 3 of 4 samples, held by an idle transaction. */
class FakeLockSampler implements LockWaitSource {
  started = 0;
  closed = 0;
  start(): void {
    this.started++;
  }
  summary(): LockWaitSummary {
    const blocker = {
      fingerprint: 'fp-holder',
      statement: 'UPDATE t SET x = $1',
      state: 'idle in transaction',
    };
    return {
      samples: 4,
      waits: [
        {
          fingerprint: 'fp1',
          statement: 'S',
          samples: 3,
          maxWaitMs: 900,
          blockers: [{ ...blocker, samples: 3, maxXactMs: 5_000 }],
        },
      ],
      idleInTransaction: [],
    };
  }
  state: LockSamplerStatus = {
    sampleMs: 1000,
    samples: 4,
    lastSampleMs: 1,
    lastError: null,
    readAllStats: true,
    lockWaitSeconds: 0,
    idleInTransactionSeconds: 0,
  };
  status(): LockSamplerStatus {
    return { ...this.state };
  }
  async close(): Promise<void> {
    this.closed++;
  }
}

describe('Advisor', () => {
  it('starts and closes its lock sampler, and reads its window into the slow-query advice and the status', async () => {
    const locks = new FakeLockSampler();
    const advisor = new Advisor(
      config(),
      () => input({ queries: [queryRow({ p95Ms: 150 })] }),
      new FakeInspector(),
      {
        lockSampler: locks,
      },
    );
    expect(advisor.status().lockSampling).toMatchObject({ samples: 4, readAllStats: true });
    await advisor.start();
    expect(locks.started).toBe(1);
    const [slow] = advisor.list({ kind: 'slow-query' });
    expect(slow.evidence).toMatchObject({ lockWaitSamples: 3, blockerFingerprints: ['fp-holder'] });
    await advisor.shutdown();
    expect(locks.closed).toBe(1);
    expect(new Advisor(config(), () => input()).status().lockSampling).toBeNull();
  });

  it('creates a lock sampler only with a Postgres URL and a sample interval', () => {
    const fingerprint = () => ({ fingerprint: '', statement: '', operation: '', table: '', parsed: false });
    const url = 'postgres://ro@127.0.0.1:1/app';
    expect(createLockSampler(config(), fingerprint)).toBeUndefined();
    expect(createLockSampler(config({ postgresUrl: url, lockSampleMs: 0 }), fingerprint)).toBeUndefined();
    expect(createLockSampler(config({ postgresUrl: url }), fingerprint)?.status()).toMatchObject({
      sampleMs: DEFAULTS.advisor.lockSampleMs,
      samples: 0,
    });
  });

  it('evaluates its source, checks slow statements for indexes and lists the recommendations', async () => {
    let now = 1000;
    let source: AdvisorInput = input({
      queries: [queryRow({ p95Ms: 150 })],
      endpoints: [endpointRow({ p95Ms: 350 })],
    });
    const pg = new FakeInspector();
    const advisor = new Advisor(config(), () => source, pg, { now: () => now });
    await advisor.start();
    expect(pg.asked.map((c) => c.reason)).toEqual(['slow']);
    expect(advisor.list().map((r) => r.kind)).toEqual(['slow-query', 'missing-index', 'endpoint-slow']);
    expect(advisor.list({ kind: 'missing-index' })[0].action).toContain(
      'CREATE INDEX CONCURRENTLY orders_customer_id_idx',
    );

    now = 2000;
    source = input({ queries: [queryRow()], endpoints: [endpointRow()] });
    const changes = await advisor.evaluateNow();
    expect(changes.resolved).toHaveLength(3);
    expect(advisor.list({ state: 'active' })).toEqual([]);
    expect(advisor.status()).toMatchObject({ lastEvaluatedMs: 2000, lastError: null, indexChecks: true });
    await advisor.shutdown();
    await advisor.shutdown();
    expect(pg.closed).toBe(1);
  });

  it('reports a failing source in its status instead of throwing', async () => {
    const advisor = new Advisor(config(), () => {
      throw new Error('reports unavailable');
    });
    await advisor.start();
    expect(advisor.status().lastError).toBe('reports unavailable');
    expect(advisor.list()).toEqual([]);
    await advisor.shutdown();
  });

  it('tells "not evaluated yet" and a failed evaluation apart from "nothing over threshold" (spanstat advise)', async () => {
    const none = new URLSearchParams();
    let fail = false;
    const advisor = new Advisor(config(), () => {
      if (fail) throw new Error('reports unavailable');
      return input();
    });
    const text = () => adviceText(recommendationsResponse(advisor, none), { nowMs: Date.now() });
    expect(advisor.status()).toMatchObject({ lastEvaluatedMs: null, intervalSeconds: 3600 });
    expect(text()).toEqual({
      out: 'No recommendations yet: the advisor has not evaluated yet (it runs at startup, then every 3600 s).',
    });
    await advisor.start();
    expect(text().out).toMatch(
      /^No recommendations: nothing over its threshold in the advisor window \(window 5m, evaluated 0s ago\)\.$/,
    );
    fail = true;
    await advisor.evaluateNow();
    expect(text().out).toMatch(
      /^No recommendations from the last successful evaluation \(.*\)\. Its last evaluation failed: reports unavailable$/,
    );
    await advisor.shutdown();

    const failing = new Advisor(config(), () => {
      throw new Error('reports unavailable');
    });
    await failing.start();
    expect(adviceText(recommendationsResponse(failing, none)).out).toBe(
      'No recommendations yet: the advisor has not evaluated yet (it runs at startup, then every 3600 s). Its last evaluation failed: reports unavailable',
    );
    await failing.shutdown();
  });

  it('notes a failed evaluation under the recommendations of the previous one (spanstat advise)', async () => {
    let fail = false;
    const advisor = new Advisor(config(), () => {
      if (fail) throw new Error('reports unavailable');
      return input({ endpoints: [endpointRow({ p95Ms: 350 })] });
    });
    await advisor.start();
    expect(adviceText(recommendationsResponse(advisor, new URLSearchParams())).note).toBeUndefined();
    fail = true;
    await advisor.evaluateNow();
    const { out, note } = adviceText(recommendationsResponse(advisor, new URLSearchParams()));
    expect(out).toMatch(/^Recommendations \(1\)/);
    expect(note).toMatch(
      /^note: the advisor's last evaluation failed: reports unavailable; these are from its evaluation \d+s ago$/,
    );
    await advisor.shutdown();
  });

  it("says under spanstat advise when lock sampling cannot see other roles' sessions or fails", async () => {
    const locks = new FakeLockSampler();
    const advisor = new Advisor(config(), () => input(), new FakeInspector(), { lockSampler: locks });
    await advisor.start();
    const note = () => adviceText(recommendationsResponse(advisor, new URLSearchParams())).note;
    expect(note()).toBeUndefined();
    locks.state.readAllStats = false;
    expect(note()).toBe(`note: lock sampling: ${PRIVILEGE_HINT}`);
    locks.state.lastError = 'connect ECONNREFUSED 127.0.0.1:1';
    expect(note()?.split('\n')).toEqual([
      `note: lock sampling: ${PRIVILEGE_HINT}`,
      'note: lock sampling failed: connect ECONNREFUSED 127.0.0.1:1',
    ]);
    await advisor.shutdown();

    // Several databases: each one's notes, named by its database.
    const billing = new FakeLockSampler();
    billing.state.readAllStats = false;
    const databases = new AdvisorDatabases([
      { label: 'billing@db2:5432', services: ['billing'], lockSampler: billing },
      { label: 'shop@db1:5432', services: null, lockSampler: new FakeLockSampler() },
    ]);
    const several = new Advisor(config(), () => input(), undefined, { databases });
    expect(adviceText(recommendationsResponse(several, new URLSearchParams())).note).toBe(
      `note: lock sampling (billing@db2:5432): ${PRIVILEGE_HINT}`,
    );
  });

  it('can be shut down before start and then never starts', async () => {
    let calls = 0;
    const advisor = new Advisor(config(), () => {
      calls++;
      return input();
    });
    await advisor.shutdown();
    await advisor.start();
    expect(calls).toBe(0);
  });

  it('does nothing when disabled', async () => {
    let calls = 0;
    const advisor = new Advisor(config({ enabled: false }), () => {
      calls++;
      return input();
    });
    await advisor.start();
    expect(calls).toBe(0);
    await advisor.shutdown();
  });

  it('serves the API filter and rejects unknown kinds and parameters with SPANSTAT_ERR_API_BAD_PARAM', async () => {
    const advisor = new Advisor(config(), () => input({ endpoints: [endpointRow({ p95Ms: 350 })] }));
    await advisor.start();
    const body = recommendationsResponse(
      advisor,
      new URLSearchParams('service=svc&kind=endpoint-slow&state=active'),
    );
    expect(body.count).toBe(1);
    expect(body.recommendations[0].target).toEqual({ type: 'route', value: 'GET /orders/:id' });
    expect(recommendationsResponse(advisor, new URLSearchParams('service=nope')).count).toBe(0);
    for (const bad of ['kind=slow', 'state=open', 'window=5m']) {
      let error: unknown;
      try {
        recommendationsResponse(advisor, new URLSearchParams(bad));
      } catch (err) {
        error = err;
      }
      expect(isSpanstatError(error, 'SPANSTAT_ERR_API_BAD_PARAM')).toBe(true);
    }
    await advisor.shutdown();
  });
});
