/**
 * Lock advice against a real PostgreSQL: one session holds a row lock in an open transaction and
 * sits idle, another's UPDATE waits on it. The sampler sees the wait, the blocker's fingerprint and
 * `idle in transaction`; the advisor's recommendations name them; no literal of either statement
 * appears in a recommendation, the sampler's summary, the status or the log.
 */
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, type LocalServer, startPostgres } from '../../scripts/lib/local-servers';
import { Advisor } from '../../src/advise/advisor';
import { createLockSampler, PgLockSampler } from '../../src/advise/lock-sampler';
import type { LockWaitSummary } from '../../src/advise/lock-waits';
import type { AdvisorConfig, AdvisorInput } from '../../src/advise/types';
import { DEFAULTS } from '../../src/config/defaults';
import type { QueryRow } from '../../src/reports/types';
import { SqlFingerprinter } from '../../src/sql';
import { getJson, startTestSidecar, waitFor } from '../helpers/sidecar';

const SERVICE = 'bank';
const HOLDER_SQL = 'UPDATE accounts SET balance = balance + 1 WHERE id = 42';
const WAITER_SQL = 'UPDATE accounts SET balance = balance - $1 WHERE id = $2';
/** The waiter's amount: distinctive, so finding it anywhere means a literal leaked. */
const AMOUNT = 7319;
/** Literal spellings of the two statements that must never appear in the output. */
// Whole numbers only: a measured duration such as `599.42` ms, or an id's hex, holds no literal of these statements.
const LITERALS = [
  /(?<!\d\.?)42(?!\.?\d)/,
  /(?<!\d\.?)7319(?!\.?\d)/,
  /balance \+ 1\b/,
  /987654/,
  /alice@example\.com/,
];

let pg: LocalServer;
let admin: Client;
let fingerprinter: SqlFingerprinter;
const clients: Client[] = [];

async function connect(url = pg.url): Promise<Client> {
  // An application_name is the client's to set: the e-mail in it must not be shown.
  const c = new Client({ connectionString: url, application_name: 'bank-app:alice@example.com' });
  await c.connect();
  clients.push(c);
  return c;
}

function row(statement: string, o: Partial<QueryRow> = {}): QueryRow {
  const shape = fingerprinter.fingerprint('postgresql', statement);
  return {
    service: SERVICE,
    system: 'postgresql',
    fingerprint: shape.fingerprint,
    statement: shape.statement,
    operation: shape.operation,
    table: shape.table,
    calls: 200,
    errors: 0,
    totalMs: 160_000,
    meanMs: 800,
    p50Ms: 700,
    p95Ms: 1_500,
    p99Ms: 2_000,
    maxMs: 2_500,
    shareOfDbTime: 0.8,
    topEndpoints: [],
    exampleTraceId: 'trace-1',
    maxCallsPerRequest: 1,
    ...o,
  };
}

/**
 * Runs `body` while a holder session sits idle in transaction on row 42 and a waiter's UPDATE of
 * that row waits; then rolls the holder back and checks the waiter went through.
 */
async function withLockWait(body: () => Promise<void>): Promise<void> {
  const holder = await connect();
  const waiter = await connect();
  // Neither can outlive a broken test.
  await holder.query("SET idle_in_transaction_session_timeout = '60s'");
  await waiter.query("SET statement_timeout = '30s'");
  await holder.query('BEGIN');
  await holder.query(HOLDER_SQL);
  const waiting = waiter.query(WAITER_SQL, [AMOUNT, 42]);
  waiting.catch(() => undefined);
  try {
    await body();
  } finally {
    await holder.query('ROLLBACK').catch(() => undefined);
    await waiting.catch(() => undefined);
  }
  expect((await waiting).rowCount).toBe(1);
}

/** A sampler of its own (no timer: samples are taken by the test), its warnings in `warnings`. */
function sampler(url: string, warnings: string[], now?: () => number, infos?: string[]): PgLockSampler {
  return new PgLockSampler({
    now,
    url,
    sampleMs: 60_000,
    timeoutMs: 1_000,
    window: '5m',
    idleInTransactionMs: 100,
    fingerprint: (t) => fingerprinter.fingerprint('postgresql', t),
    logger: {
      warn: (_obj, msg) => warnings.push(msg),
      ...(infos ? { info: (_obj: object, msg: string) => infos.push(msg) } : {}),
    },
  });
}

function expectNoLiterals(text: string): void {
  for (const literal of LITERALS) expect(text).not.toMatch(literal);
}

beforeAll(async () => {
  fingerprinter = await SqlFingerprinter.create(DEFAULTS.sql);
  pg = await startPostgres();
  admin = await connect();
  await admin.query(`
    CREATE TABLE accounts (id int PRIMARY KEY, balance numeric(12,2) NOT NULL);
    INSERT INTO accounts SELECT i, 987654 FROM generate_series(1, 100) AS i;
    CREATE ROLE limited LOGIN;
    GRANT SELECT ON accounts TO limited;
  `);
});

afterAll(async () => {
  for (const c of clients) await c.end().catch(() => undefined);
  await pg?.stop();
});

describe('lock advice on PostgreSQL', () => {
  it('samples the wait and its idle-in-transaction blocker, and the advice names them without literals', async () => {
    const logged: string[] = [];
    const logger = {
      info: (obj: object, msg: string) => logged.push(JSON.stringify({ obj, msg })),
      warn: (obj: object, msg: string) => logged.push(JSON.stringify({ obj, msg })),
    };
    const config = {
      ...structuredClone(DEFAULTS.advisor),
      intervalSeconds: 3600,
      postgresUrl: pg.url,
      lockSampleMs: 200,
      idleInTransactionMs: 500,
    } as AdvisorConfig;
    const waiterRow = row(WAITER_SQL);
    const holderRow = row('UPDATE accounts SET balance = balance + $1 WHERE id = $2', {
      p95Ms: 2,
      meanMs: 1,
      totalMs: 200,
      shareOfDbTime: 0.001,
    });
    const source = (): AdvisorInput => ({
      queries: [waiterRow, holderRow],
      cache: [],
      endpoints: [],
      endpointQueries: [],
      endpointCache: [],
      pools: [],
    });
    const lockSampler = createLockSampler(config, (t) => fingerprinter.fingerprint('postgresql', t), logger);
    expect(lockSampler).toBeInstanceOf(PgLockSampler);
    const advisor = new Advisor(config, source, undefined, { logger, lockSampler });
    try {
      await withLockWait(async () => {
        await advisor.start();
        const seen = await waitFor(async () => {
          const s = lockSampler?.summary();
          const wait = s?.waits.find((w) => w.fingerprint === waiterRow.fingerprint);
          const idle = s?.idleInTransaction.find((i) => i.fingerprint === holderRow.fingerprint);
          return wait && wait.samples >= 2 && idle ? s : undefined;
        });
        expect(seen, 'the wait in two samples and the idle blocker').toBeDefined();
        const summary = seen as LockWaitSummary;
        const wait = summary.waits.find((w) => w.fingerprint === waiterRow.fingerprint);
        expect(wait?.statement).toBe(WAITER_SQL);
        expect(wait?.blockers[0]).toMatchObject({
          fingerprint: holderRow.fingerprint,
          statement: holderRow.statement,
          state: 'idle in transaction',
        });
        expect(wait?.blockers[0].maxXactMs).toBeGreaterThan(0);
        expect(summary.idleInTransaction[0]).toMatchObject({
          fingerprint: holderRow.fingerprint,
          application: 'bank-app::id',
          blocking: true,
        });
        expectNoLiterals(JSON.stringify(summary));

        await advisor.evaluateNow();
        const [slow] = advisor.list({ kind: 'slow-query' });
        expect(slow.target.value).toBe(waiterRow.fingerprint);
        expect(slow.title).toContain('waits on locks held by UPDATE accounts SET balance = balance + $1');
        expect(slow.title).toContain('(idle in transaction)');
        expect(slow.evidence.blockerFingerprints).toEqual([holderRow.fingerprint]);
        expect(slow.evidence.lockWaitSamples).toBeGreaterThanOrEqual(2);
        expect(slow.action).toMatch(
          /^It waits on locks held by `UPDATE accounts SET balance = balance \+ \$1/,
        );
        expect(slow.action).toContain('SKIP LOCKED');
        expect(slow.action).toContain('lock_timeout');

        const [idle] = advisor.list({ kind: 'idle-in-transaction' });
        expect(idle).toMatchObject({
          service: SERVICE,
          severity: 'critical',
          target: { type: 'fingerprint', value: holderRow.fingerprint },
          evidence: { blocking: true, application: 'bank-app::id' },
        });
        expect(idle.action).toContain('idle_in_transaction_session_timeout');

        const sampling = advisor.status().lockSampling;
        expect(sampling).toMatchObject({ readAllStats: true, lastError: null });
        // Each sample counts the waiting session for one period (config.lockSampleMs).
        expect(sampling?.lockWaitSeconds).toBeGreaterThanOrEqual((2 * config.lockSampleMs) / 1000);
        expect(sampling?.idleInTransactionSeconds).toBeGreaterThan(0);
        expectNoLiterals(JSON.stringify(advisor.list()));
        expectNoLiterals(JSON.stringify(advisor.status()));
      });
    } finally {
      await advisor.shutdown();
    }
    expect(logged.some((l) => l.includes('idle-in-transaction'))).toBe(true);
    expectNoLiterals(logged.join('\n'));
  });

  it("the sidecar samples with the advisor's URL, shows the sampler in the advisor status and its counts in /metrics", async () => {
    const sidecar = await startTestSidecar({ advisor: { postgresUrl: pg.url, lockSampleMs: 100 } });
    try {
      type Status = { advisor: { lockSampling: { samples: number; readAllStats: boolean | null } | null } };
      const url = `${sidecar.apiUrl}/api/v1/recommendations`;
      const status = await waitFor(async () => {
        const body = await getJson<Status>(url);
        return (body.advisor.lockSampling?.samples ?? 0) >= 2 ? body.advisor.lockSampling : undefined;
      });
      expect(status).toMatchObject({ readAllStats: true, lastError: null });
      const metricValue = (text: string, name: string) =>
        Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
      const scrape = async () => (await fetch(`${sidecar.apiUrl}/metrics`)).text();
      expect(metricValue(await scrape(), 'spanstat_db_lock_wait_seconds_total')).toBe(0);
      await withLockWait(async () => {
        const text = await waitFor(async () => {
          const t = await scrape();
          const waited = metricValue(t, 'spanstat_db_lock_wait_seconds_total');
          return waited >= 0.2 && metricValue(t, 'spanstat_db_idle_in_transaction_seconds') > 0
            ? t
            : undefined;
        });
        expect(text, 'lock wait and idle-in-transaction series').toBeDefined();
      });
    } finally {
      await sidecar.shutdown();
    }
  });

  it('without pg_read_all_stats says so once, in the log and the status', async () => {
    const warnings: string[] = [];
    const limited = sampler(pg.url.replace('postgres@', 'limited@'), warnings);
    try {
      await withLockWait(async () => {
        await limited.sampleNow();
        await limited.sampleNow();
        expect(limited.status()).toMatchObject({ readAllStats: false, samples: 2, lastError: null });
        // Other roles' sessions show neither their wait nor their state: nothing to advise on.
        expect(limited.summary()).toMatchObject({ samples: 2, waits: [], idleInTransaction: [] });
      });
    } finally {
      await limited.close();
    }
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('GRANT pg_monitor');
  });

  it('sees a GRANT pg_monitor given while it runs within 30 s, without a restart', async () => {
    const warnings: string[] = [];
    let nowMs = 1_000_000;
    const infos: string[] = [];
    const limited = sampler(pg.url.replace('postgres@', 'limited@'), warnings, () => nowMs, infos);
    const admin = await connect();
    try {
      await limited.sampleNow();
      expect(limited.status()).toMatchObject({ readAllStats: false, lastError: null });
      await admin.query('GRANT pg_monitor TO limited');
      nowMs += 29_000;
      await limited.sampleNow();
      expect(limited.status().readAllStats).toBe(false);
      nowMs += 1_000;
      await limited.sampleNow();
      expect(limited.status()).toMatchObject({ readAllStats: true, lastError: null });
      // The good news at info level, not as a warning.
      expect(infos).toEqual([expect.stringContaining('visible now')]);
      expect(warnings.join('\n')).not.toContain('visible now');
    } finally {
      await admin.query('REVOKE pg_monitor FROM limited');
      await limited.close();
    }
  });

  it('backs off from an unreachable database and says why in the status, once in the log', async () => {
    const warnings: string[] = [];
    const port = await freePort();
    const unreachable = sampler(`postgres://postgres@127.0.0.1:${port}/postgres`, warnings);
    try {
      await unreachable.sampleNow();
      const first = unreachable.status();
      expect(first.lastError).toMatch(/ECONNREFUSED/);
      const started = Date.now();
      await unreachable.sampleNow();
      expect(Date.now() - started).toBeLessThan(100);
      expect(unreachable.status()).toMatchObject({ samples: 0, lastError: first.lastError });
      expect(warnings).toHaveLength(1);
    } finally {
      await unreachable.close();
    }
  });
});
