import { describe, expect, it } from 'vitest';
import { Advisor } from '../../src/advise/advisor';
import {
  AdvisorDatabases,
  createAdvisorDatabases,
  databaseLabel,
  type LockWaitSource,
} from '../../src/advise/databases';
import type { IndexInspector } from '../../src/advise/index-advisor';
import type { LockSamplerStatus } from '../../src/advise/lock-sampler';
import { type LockWaitSummary, mergeLockSummaries } from '../../src/advise/lock-waits';
import type { AdvisorConfig, IndexCandidate, IndexFinding } from '../../src/advise/types';
import { DEFAULTS } from '../../src/config/defaults';
import { input, queryRow } from './advise-fixtures';

const config = (o: Partial<AdvisorConfig> = {}): AdvisorConfig =>
  ({ ...structuredClone(DEFAULTS.advisor), intervalSeconds: 3600, ...o }) as AdvisorConfig;

/** Proposes an index on its own table for every statement, and records whose statements it saw. */
class TableInspector implements IndexInspector {
  services: string[] = [];
  closed = 0;
  constructor(private readonly table: string) {}
  async inspect(c: IndexCandidate): Promise<IndexFinding> {
    this.services.push(c.service);
    return {
      service: c.service,
      fingerprint: c.fingerprint,
      columns: [{ table: { name: this.table }, column: 'customer_id', use: 'eq' }],
      checked: true,
      proposals: [
        {
          table: this.table,
          columns: ['customer_id'],
          statement: `CREATE INDEX CONCURRENTLY ${this.table}_customer_id_idx ON ${this.table} (customer_id);`,
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

function lockSource(summary: LockWaitSummary, status: Partial<LockSamplerStatus>): LockWaitSource {
  return {
    start() {},
    summary: () => summary,
    status: () => ({
      sampleMs: 1000,
      samples: summary.samples,
      lastSampleMs: 1,
      lastError: null,
      readAllStats: true,
      lockWaitSeconds: 0,
      idleInTransactionSeconds: 0,
      ...status,
    }),
    close: async () => {},
  };
}

const wait = (fingerprint: string, samples: number) => ({
  fingerprint,
  statement: `S ${fingerprint}`,
  samples,
  maxWaitMs: 100 * samples,
  blockers: [],
});

describe('AdvisorDatabases', () => {
  it("checks each service's statements on its own database, the others on advisor.postgresUrl's", async () => {
    const billing = new TableInspector('invoices');
    const shared = new TableInspector('orders');
    const databases = new AdvisorDatabases([
      { label: 'billing@db2:5432', services: ['billing', 'invoice-worker'], inspector: billing },
      { label: 'shop@db1:5432', services: null, inspector: shared },
    ]);
    const slow = { p95Ms: 400, meanMs: 300, calls: 500, totalMs: 150_000 };
    const advisor = new Advisor(
      config(),
      () =>
        input({
          queries: [
            queryRow({ ...slow, service: 'billing', fingerprint: 'fp-b' }),
            queryRow({ ...slow, service: 'shop', fingerprint: 'fp-s' }),
            queryRow({ ...slow, service: 'invoice-worker', fingerprint: 'fp-w' }),
          ],
        }),
      undefined,
      { databases },
    );
    await advisor.evaluateNow();
    expect(billing.services.sort()).toEqual(['billing', 'invoice-worker']);
    expect(shared.services).toEqual(['shop']);
    const proposals = advisor
      .list({ kind: 'missing-index' })
      .map((r) => [r.service, r.action.match(/CREATE INDEX[^;]*;/)?.[0]]);
    expect(proposals.sort()).toEqual([
      ['billing', 'CREATE INDEX CONCURRENTLY invoices_customer_id_idx ON invoices (customer_id);'],
      ['invoice-worker', 'CREATE INDEX CONCURRENTLY invoices_customer_id_idx ON invoices (customer_id);'],
      ['shop', 'CREATE INDEX CONCURRENTLY orders_customer_id_idx ON orders (customer_id);'],
    ]);
    expect(advisor.status().databases).toEqual([
      {
        database: 'billing@db2:5432',
        services: ['billing', 'invoice-worker'],
        indexChecks: true,
        lockSampling: null,
      },
      { database: 'shop@db1:5432', services: null, indexChecks: true, lockSampling: null },
    ]);
    await advisor.shutdown();
    expect([billing.closed, shared.closed]).toEqual([1, 1]);
  });

  it('leaves a service unchecked when only other services have a database', () => {
    const databases = new AdvisorDatabases([
      { label: 'billing@db2:5432', services: ['billing'], inspector: new TableInspector('invoices') },
    ]);
    expect(databases.inspectorFor('billing')).toBeDefined();
    expect(databases.inspectorFor('shop')).toBeUndefined();
    expect(databases.indexChecks).toBe(true);
  });

  it("reads every database's lock window as one, and their samplers' state", () => {
    const a = lockSource(
      { samples: 10, waits: [wait('fp-a', 4), wait('fp-both', 6)], idleInTransaction: [] },
      { lockWaitSeconds: 4, idleInTransactionSeconds: 12 },
    );
    const b = lockSource(
      { samples: 8, waits: [wait('fp-both', 7)], idleInTransaction: [] },
      { lockWaitSeconds: 7, readAllStats: false, lastError: 'connect ECONNREFUSED', lastSampleMs: 5 },
    );
    const databases = new AdvisorDatabases([
      { label: 'a@h:5432', services: ['x'], lockSampler: a },
      { label: 'b@h:5433', services: null, lockSampler: b },
    ]);
    // The samples are the most any database took; one statement waiting in both sums, up to that.
    expect(databases.lockWaits()).toEqual({
      samples: 10,
      waits: [{ ...wait('fp-both', 6), samples: 10, maxWaitMs: 700 }, wait('fp-a', 4)],
      idleInTransaction: [],
    });
    expect(databases.lockStatus()).toEqual({
      sampleMs: 1000,
      samples: 10,
      lastSampleMs: 5,
      lastError: 'b@h:5433: connect ECONNREFUSED',
      readAllStats: false,
      lockWaitSeconds: 11,
      idleInTransactionSeconds: 12,
    });
    expect(new AdvisorDatabases([]).lockWaits()).toBeUndefined();
    expect(new AdvisorDatabases([]).lockStatus()).toBeNull();
  });

  it('merges one summary as it is', () => {
    const one: LockWaitSummary = { samples: 3, waits: [wait('fp', 2)], idleInTransaction: [] };
    expect(mergeLockSummaries([one])).toBe(one);
  });

  it('builds one database per advisor.databases entry, then postgresUrl for the rest', () => {
    const urls: string[] = [];
    const databases = createAdvisorDatabases(
      config({
        postgresUrl: 'postgres://ro:secret@db1:5432/shop',
        databases: [{ url: 'postgresql://ro:hunter2@db2/billing?sslmode=require', services: ['billing'] }],
      }),
      (url) => {
        urls.push(url);
        return new TableInspector('t');
      },
      () => ({ fingerprint: '', statement: '', operation: '', table: '', parsed: false }),
    );
    expect(urls).toEqual([
      'postgresql://ro:hunter2@db2/billing?sslmode=require',
      'postgres://ro:secret@db1:5432/shop',
    ]);
    const status = databases.status();
    expect(status.map((d) => [d.database, d.services, d.lockSampling?.samples])).toEqual([
      ['billing@db2:5432', ['billing'], 0],
      ['shop@db1:5432', null, 0],
    ]);
    expect(JSON.stringify(status)).not.toMatch(/secret|hunter2/);
    const unsampled = createAdvisorDatabases(
      config({ postgresUrl: 'postgres://db1/shop', lockSampleMs: 0 }),
      () => undefined,
      () => ({ fingerprint: '', statement: '', operation: '', table: '', parsed: false }),
    );
    expect(unsampled.status()).toEqual([
      { database: 'shop@db1:5432', services: null, indexChecks: false, lockSampling: null },
    ]);
  });

  it('labels a database by name, host and port, never its credentials', () => {
    expect(databaseLabel('postgres://u:p%40ss@10.0.0.5:6432/orders')).toBe('orders@10.0.0.5:6432');
    expect(databaseLabel('postgres:///orders?host=/var/run/postgresql')).toBe(
      'orders@/var/run/postgresql:5432',
    );
    expect(databaseLabel('postgres://u:pw@[::1')).toBe('a database whose URL does not parse');
  });
});
