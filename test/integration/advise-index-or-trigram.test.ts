/**
 * Index advice for an OR and for ILIKE against a real PostgreSQL: an OR gets the index each branch
 * lacks and, with them built, the generic plan reads it through a BitmapOr; an ILIKE gets a
 * gin_trgm_ops index (pg_trgm) and, with it built, no proposal remains; so do what search boxes
 * send: LIKE on lower(col), ILIKE branches of an OR (a trigram index beside a btree in one BitmapOr)
 * and ILIKE beside an = filter (the btree, whose note names the trigram index).
 */
import type { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../scripts/lib/local-servers';
import type { IndexFinding } from '../../src/advise/types';
import { indexInspectors, startAdviceDatabase, stopAdviceDatabase } from '../helpers/index-inspectors';

let pg: LocalServer;
let admin: Client;
const inspectors = indexInspectors(() => pg.url);

const inspect = (statement: string): Promise<IndexFinding> => inspectors.inspect(statement, 'crm');

/** The generic plan of `statement` (PostgreSQL 15: PREPARE under force_generic_plan), as JSON text. */
async function genericPlan(statement: string, params: number): Promise<string> {
  await admin.query('SET plan_cache_mode = force_generic_plan');
  await admin.query(`PREPARE probe AS ${statement}`);
  try {
    const args = Array(params).fill('NULL').join(', ');
    const { rows } = await admin.query(`EXPLAIN (FORMAT JSON) EXECUTE probe(${args})`);
    return JSON.stringify(rows[0]['QUERY PLAN']);
  } finally {
    await admin.query('DEALLOCATE probe');
    await admin.query('RESET plan_cache_mode');
  }
}

/** Builds `statements` (not concurrently), runs `body`, drops what was built. */
async function withIndexes(statements: string[], body: () => Promise<void>): Promise<void> {
  const names = statements.map((s) => /INDEX CONCURRENTLY (\S+)/.exec(s)?.[1] as string);
  for (const s of statements) await admin.query(s.replace(' CONCURRENTLY', ''));
  await admin.query('ANALYZE people');
  try {
    await body();
  } finally {
    for (const n of names) await admin.query(`DROP INDEX IF EXISTS ${n}`);
  }
}

beforeAll(async () => {
  ({ pg, admin } = await startAdviceDatabase());
  await admin.query(`
    CREATE TABLE people (id serial PRIMARY KEY, email text NOT NULL, phone text NOT NULL, name text NOT NULL,
                         city int NOT NULL, kind int NOT NULL, tenant int NOT NULL);
    INSERT INTO people (email, phone, name, city, kind, tenant)
      SELECT 'user' || i || '@example.test', '+1555' || i, 'name ' || md5(i::text), i % 100, i % 53, i % 200
        FROM generate_series(1, 60000) AS i;
    CREATE INDEX people_phone_idx ON people (phone);
    ANALYZE;
  `);
});

afterAll(() => stopAdviceDatabase(inspectors, { pg, admin }));

describe('index advice for an OR on PostgreSQL', () => {
  const OR = 'SELECT id FROM people WHERE email = $1 OR phone = $2';

  it('proposes the index the unindexed branch lacks, and with it built the generic plan is a BitmapOr', async () => {
    expect(await genericPlan(OR, 2)).toContain('Seq Scan');
    const finding = await inspect(OR);
    expect(finding.skipped).toEqual([]);
    expect(finding.proposals.map((p) => p.statement)).toEqual([
      'CREATE INDEX CONCURRENTLY people_email_idx ON people (email);',
    ]);
    expect(finding.proposals[0].bitmapOr).toBe(
      'branch 1 (email): the index proposed; branch 2 (phone): existing index people_phone_idx (phone)',
    );
    await withIndexes(
      finding.proposals.map((p) => p.statement),
      async () => {
        expect(await genericPlan(OR, 2)).toContain('BitmapOr');
        expect((await inspect(OR)).proposals).toEqual([]);
      },
    );
  });

  it("proposes an AND branch's composite index, one per branch, and the plan combines them", async () => {
    const sql = 'SELECT id FROM people WHERE (city = $1 AND kind = $2) OR email = $3';
    const finding = await inspect(sql);
    const statements = finding.proposals.map((p) => p.statement);
    expect(statements).toEqual([
      'CREATE INDEX CONCURRENTLY people_city_kind_idx ON people (city, kind);',
      'CREATE INDEX CONCURRENTLY people_email_idx ON people (email);',
    ]);
    await withIndexes(statements, async () => {
      const plan = await genericPlan(sql, 3);
      expect(plan).toContain('BitmapOr');
      expect(plan).toContain('people_city_kind_idx');
      expect(plan).toContain('people_email_idx');
    });
  });

  it('proposes nothing when one branch is `<>`, and says which branch', async () => {
    const finding = await inspect('SELECT id FROM people WHERE email = $1 OR phone <> $2');
    expect(finding.proposals).toEqual([]);
    expect(finding.skipped).toEqual([
      {
        table: 'people',
        reason: 'or-branch',
        detail:
          'OR branch 2 of 2 (phone <> …) has no =, IN, range, LIKE or ILIKE condition an index can serve',
      },
    ]);
  });

  it('proposes nothing when one branch filters on an expression no index can hold', async () => {
    const finding = await inspect('SELECT id FROM people WHERE email = $1 OR (name || now()::text) = $2');
    expect(finding.proposals).toEqual([]);
    expect(finding.skipped).toMatchObject([{ table: 'people', reason: 'or-branch' }]);
    expect(finding.skipped[0].detail).toMatch(
      /^OR branch 2 of 2: .*STABLE.*a BitmapOr needs an index for every branch/,
    );
  });
});

describe('index advice for ILIKE on PostgreSQL', () => {
  const ILIKE = 'SELECT id FROM people WHERE name ILIKE $1';
  const TRIGRAM = 'CREATE INDEX CONCURRENTLY people_name_trgm_idx ON people USING gin (name gin_trgm_ops);';

  it('proposes a gin_trgm_ops index, and with pg_trgm and the index built no proposal remains', async () => {
    const before = await inspect(ILIKE);
    expect(before.proposals.map((p) => [p.statement, p.extension])).toEqual([
      [TRIGRAM, { name: 'pg_trgm', installed: false }],
    ]);
    expect(before.proposals[0].plan?.seqScan).toBe(true);
    await admin.query('CREATE EXTENSION IF NOT EXISTS pg_trgm');
    try {
      expect((await inspect(ILIKE)).proposals[0].extension).toEqual({ name: 'pg_trgm', installed: true });
      await withIndexes([TRIGRAM], async () => {
        // The generic plan, with the pattern unknown, reads through the index.
        expect(await genericPlan(ILIKE, 1)).toContain('people_name_trgm_idx');
        const after = await inspect(ILIKE);
        expect(after.proposals).toEqual([]);
        expect(after.skipped).toMatchObject([{ table: 'people', reason: 'covered' }]);
        // The same index serves LIKE and `~~*`.
        expect((await inspect('SELECT id FROM people WHERE name LIKE $1')).proposals).toEqual([]);
        expect((await inspect('SELECT id FROM people WHERE name ~~* $1')).proposals).toEqual([]);
      });
    } finally {
      await admin.query('DROP EXTENSION IF EXISTS pg_trgm');
    }
  });
});

/** Runs `body` with pg_trgm installed, then drops it. */
async function withTrigram(body: () => Promise<void>): Promise<void> {
  await admin.query('CREATE EXTENSION IF NOT EXISTS pg_trgm');
  try {
    await body();
  } finally {
    await admin.query('DROP EXTENSION IF EXISTS pg_trgm');
  }
}

/** Proposes `expected`, and with them built the generic plan reads each and nothing more is proposed. */
async function proposesThenCovered(sql: string, params: number, expected: string[], shape: string) {
  const finding = await inspect(sql);
  expect(finding.proposals.map((p) => p.statement)).toEqual(expected);
  expect(await genericPlan(sql, params)).toContain('Seq Scan');
  await withIndexes(expected, async () => {
    const plan = await genericPlan(sql, params);
    expect(plan).not.toContain('Seq Scan');
    expect(plan).toContain(shape);
    for (const s of expected) expect(plan).toContain(/INDEX CONCURRENTLY (\S+)/.exec(s)?.[1]);
    const after = await inspect(sql);
    expect(after.proposals).toEqual([]);
    expect(after.skipped).toMatchObject([{ table: 'people', reason: 'covered' }]);
  });
  return finding;
}

describe('index advice for search patterns on PostgreSQL', () => {
  it('proposes a trigram index on lower(col) for LIKE on it, which the generic plan then reads', async () => {
    await withTrigram(async () => {
      await proposesThenCovered(
        'SELECT id FROM people WHERE lower(email) LIKE lower($1)',
        1,
        [
          'CREATE INDEX CONCURRENTLY people_lower_email_trgm_idx ON people USING gin (lower(email) gin_trgm_ops);',
        ],
        'Bitmap Index Scan',
      );
    });
  });

  it('proposes a trigram index per ILIKE branch of an OR, read through a BitmapOr', async () => {
    await withTrigram(async () => {
      await proposesThenCovered(
        'SELECT id FROM people WHERE name ILIKE $1 OR email ILIKE $1',
        1,
        [
          'CREATE INDEX CONCURRENTLY people_name_trgm_idx ON people USING gin (name gin_trgm_ops);',
          'CREATE INDEX CONCURRENTLY people_email_trgm_idx ON people USING gin (email gin_trgm_ops);',
        ],
        'BitmapOr',
      );
    });
  });

  it('proposes a btree and a trigram index for `= OR ILIKE`, which one BitmapOr combines', async () => {
    await withTrigram(async () => {
      const finding = await proposesThenCovered(
        'SELECT id FROM people WHERE email = $1 OR name ILIKE $2',
        2,
        [
          'CREATE INDEX CONCURRENTLY people_email_idx ON people (email);',
          'CREATE INDEX CONCURRENTLY people_name_trgm_idx ON people USING gin (name gin_trgm_ops);',
        ],
        'BitmapOr',
      );
      expect(finding.proposals[0].bitmapOr).toBe(
        'branch 1 (email): the index proposed; branch 2 (name): the trigram index proposed; one BitmapOr combines the gin (trigram) and btree Bitmap Index Scans',
      );
    });
  });

  it("proposes the trigram index for a search box's ILIKE … ORDER BY … LIMIT, which the plan then reads", async () => {
    await withTrigram(async () => {
      const sql = 'SELECT id FROM people WHERE name ILIKE $1 ORDER BY city LIMIT 20';
      const finding = await proposesThenCovered(
        sql,
        1,
        ['CREATE INDEX CONCURRENTLY people_name_trgm_idx ON people USING gin (name gin_trgm_ops);'],
        'Bitmap Index Scan',
      );
      expect(finding.proposals[0].note).toMatch(
        /; if the pattern matches many rows, an index on \(city\) serves/,
      );
    });
  });

  it('proposes the btree for `= AND ILIKE`, naming the trigram index, and the plan reads the btree', async () => {
    const sql = 'SELECT id FROM people WHERE tenant = $1 AND name ILIKE $2';
    const finding = await proposesThenCovered(
      sql,
      2,
      ['CREATE INDEX CONCURRENTLY people_tenant_idx ON people (tenant);'],
      'people_tenant_idx',
    );
    expect(finding.proposals[0].note).toBe(
      'name ILIKE … is checked on the rows found by (tenant), ~300 per look-up by pg_stats; if those are many and the pattern matches few, a trigram index lets PostgreSQL combine both with a BitmapAnd (after CREATE EXTENSION IF NOT EXISTS pg_trgm;): CREATE INDEX CONCURRENTLY people_name_trgm_idx ON people USING gin (name gin_trgm_ops);',
    );
  });
});
