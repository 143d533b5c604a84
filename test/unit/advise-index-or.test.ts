import { beforeAll, describe, expect, it } from 'vitest';
import { evaluate } from '../../src/advise/evaluate';
import { orGroupTable, planOrGroup } from '../../src/advise/index-or';
import type { PlannedUse, TableInfo } from '../../src/advise/index-plan';
import { extractColumns, loadParser, type OrGroup } from '../../src/advise/predicate-columns';
import {
  btreeIndex,
  findingOf,
  indexLimits,
  input,
  peopleTable,
  queryRow,
  seqScanPlan,
  thresholds,
} from './advise-fixtures';

beforeAll(() => loadParser());

const limits = indexLimits;
const seqScan = seqScanPlan('people');
const index = btreeIndex;

function people(o: Partial<TableInfo> = {}): TableInfo {
  return peopleTable(['email', 'phone', 'city', 'kind', 'deleted'], {
    stats: new Map([
      ['email', { distinct: 100_000, nullFrac: 0 }],
      ['phone', { distinct: 100_000, nullFrac: 0 }],
      ['city', { distinct: 100, nullFrac: 0 }],
      ['kind', { distinct: 50, nullFrac: 0 }],
      ['deleted', { distinct: 2, nullFrac: 0.9 }],
    ]),
    ...o,
  });
}

/** Each OR group as `branch | branch` of `table.column:use` lists, and its skip reason. */
const ors = (sql: string) =>
  (extractColumns(sql)?.orGroups ?? []).map((g) => ({
    branches: g.branches.map((b) => b.map((c) => `${c.table?.name ?? '?'}.${c.column}:${c.use}`).join(' ')),
    ...(g.unindexable ? { unindexable: g.unindexable } : {}),
  }));

const branch = (...columns: string[]): PlannedUse[] => columns.map((column) => ({ column, use: 'eq' }));

describe('OR branches from the parse tree', () => {
  it('keeps each branch of an OR apart, an AND branch as its conjunction, without touching the AND columns', () => {
    const sql = 'SELECT id FROM people WHERE deleted IS NULL AND ((city = $1 AND kind > $2) OR email = $3)';
    expect(ors(sql)).toEqual([{ branches: ['people.city:eq people.kind:range', 'people.email:eq'] }]);
    expect(extractColumns(sql)?.columns.map((c) => `${c.column}:${c.use}`)).toEqual(['deleted:eq']);
  });

  it('reads IN, BETWEEN, IS NULL and expressions in a branch as the AND reading does', () => {
    expect(
      ors('SELECT 1 FROM t WHERE a IN ($1, $2) OR b BETWEEN $3 AND $4 OR c IS NULL OR lower(d) = $5'),
    ).toEqual([{ branches: ['t.a:eq', 't.b:range', 't.c:eq', 't.lower(d):eq'] }]);
  });

  it('names the branch no index can serve, without its values', () => {
    expect(ors("SELECT 1 FROM t WHERE a = $1 OR b <> 'secret'")).toEqual([
      {
        branches: ['t.a:eq', ''],
        unindexable:
          'OR branch 2 of 2 (b <> …) has no =, IN, range, LIKE or ILIKE condition an index can serve',
      },
    ]);
    expect(ors('SELECT 1 FROM t WHERE a = $1 OR NOT (b = $2)')[0].unindexable).toBe(
      'OR branch 2 of 2 (NOT on b) has no =, IN, range, LIKE or ILIKE condition an index can serve',
    );
    expect(ors('SELECT 1 FROM t WHERE a = $1 OR b NOT ILIKE $2')[0].unindexable).toMatch(
      /^OR branch 2 of 2 \(b !~~\* …\)/,
    );
    expect(ors('SELECT 1 FROM t WHERE a IN (SELECT x FROM u) OR b = $1')[0].unindexable).toMatch(
      /^OR branch 1 of 2/,
    );
  });

  it('finds no OR in a statement without one', () => {
    expect(extractColumns('SELECT 1 FROM t WHERE a = $1 AND b = $2')?.orGroups).toBeUndefined();
  });
});

describe('which table an OR filters', () => {
  const group = (sql: string): OrGroup => extractColumns(sql)?.orGroups?.[0] as OrGroup;

  it('is the one table of every branch', () => {
    expect(orGroupTable(group('SELECT 1 FROM people p WHERE p.email = $1 OR p.phone = $2'))).toMatchObject({
      table: { name: 'people' },
    });
    expect(
      orGroupTable(group('SELECT 1 FROM people WHERE email = $1 OR phone = $2')).unindexable,
    ).toBeUndefined();
  });

  it("is a one-table statement's table when no branch names one, so the skip still reaches it", () => {
    const g = group('SELECT 1 FROM people WHERE email <> $1 OR phone <> $2');
    expect(orGroupTable(g).table).toBeUndefined();
    expect(orGroupTable(g, { name: 'people' })).toMatchObject({
      table: { name: 'people' },
      unindexable:
        'OR branch 1 of 2 (email <> …) has no =, IN, range, LIKE or ILIKE condition an index can serve',
    });
  });

  it('is none when a branch filters another table', () => {
    const g = orGroupTable(
      group('SELECT 1 FROM people p JOIN orders o ON o.person_id = p.id WHERE p.email = $1 OR o.status = $2'),
    );
    expect(g.unindexable).toBe(
      "OR branch 2 of 2 filters on orders, another table than people (status): a BitmapOr combines one table's indexes",
    );
  });
});

describe('index planning for an OR', () => {
  it('proposes one index per branch no existing index serves, naming how each branch is served', () => {
    const info = people({ indexes: [index('people_phone_idx', ['phone'])] });
    const d = planOrGroup([branch('email'), branch('phone')], info, seqScan, limits);
    expect(d).toEqual([
      {
        proposal: {
          table: 'people',
          columns: ['email'],
          statement: 'CREATE INDEX CONCURRENTLY people_email_idx ON people (email);',
          tableRows: 100_000,
          existingIndexes: ['people_phone_idx (phone)'],
          plan: seqScan,
          bitmapOr:
            'branch 1 (email): the index proposed; branch 2 (phone): existing index people_phone_idx (phone)',
        },
      },
    ]);
  });

  it('gives an AND branch its composite and proposes each distinct index once', () => {
    const d = planOrGroup(
      [branch('city', 'kind'), branch('email'), branch('email')],
      people(),
      seqScan,
      limits,
    );
    expect(d.map((x) => ('proposal' in x ? x.proposal.statement : x.skip.reason))).toEqual([
      'CREATE INDEX CONCURRENTLY people_city_kind_idx ON people (city, kind);',
      'CREATE INDEX CONCURRENTLY people_email_idx ON people (email);',
    ]);
  });

  it('proposes nothing when one branch cannot be served, naming it', () => {
    const d = planOrGroup(
      [branch('email'), [{ column: 'deleted', use: 'eq', matches: 'null' }]],
      people(),
      seqScan,
      limits,
    );
    expect(d).toEqual([
      {
        skip: {
          table: 'people',
          reason: 'or-branch',
          detail:
            'OR branch 2 of 2: (deleted IS NULL) matches ~90% of its ~100000 rows: a Seq Scan reads them as cheaply, so an index would only cost writes; a BitmapOr needs an index for every branch, so none is proposed',
        },
      },
    ]);
  });

  it('proposes nothing when every branch is covered or the plan reads the table without a Seq Scan', () => {
    const both = people({
      indexes: [index('people_email_idx', ['email']), index('people_phone_idx', ['phone'])],
    });
    expect(planOrGroup([branch('email'), branch('phone')], both, seqScan, limits)).toMatchObject([
      {
        skip: {
          reason: 'covered',
          detail: expect.stringContaining('which PostgreSQL combines with a BitmapOr'),
        },
      },
    ]);
    const bitmap = { ...seqScan, seqScan: false, shape: 'Bitmap Heap Scan on people > BitmapOr' };
    expect(planOrGroup([branch('email'), branch('phone')], people(), bitmap, limits)).toMatchObject([
      { skip: { reason: 'plan-uses-index' } },
    ]);
    expect(
      planOrGroup([branch('email'), branch('phone')], people({ rows: 100 }), seqScan, limits),
    ).toMatchObject([{ skip: { reason: 'small-table' } }]);
  });
});

describe('missing-index advice for an OR', () => {
  it('says PostgreSQL combines the per-branch indexes with a BitmapOr', () => {
    const row = queryRow({
      p95Ms: 180,
      statement: 'SELECT id FROM people WHERE email = $1 OR phone = $2',
      table: 'people',
    });
    const finding = findingOf(
      row,
      planOrGroup([branch('email'), branch('phone')], people(), seqScan, limits),
    );
    expect(finding.proposals).toHaveLength(2);
    const rec = evaluate(input({ queries: [row], indexFindings: [finding] }), thresholds(), 0).find(
      (r) => r.kind === 'missing-index',
    );
    expect(rec?.action).toBe(
      'The generic plan reads all ~100000 rows of people with a Seq Scan (p95 180 ms). Its OR can use indexes only through a BitmapOr, which needs an index for every branch (branch 1 (email): the index proposed; branch 2 (phone): the index proposed). Run: CREATE INDEX CONCURRENTLY people_email_idx ON people (email); CREATE INDEX CONCURRENTLY people_phone_idx ON people (phone); (CONCURRENTLY builds without blocking writes; run it outside a transaction), then ANALYZE the table and check that EXPLAIN shows a BitmapOr over the indexes.',
    );
    expect(rec?.evidence).toMatchObject({
      orBranches:
        'PostgreSQL combines one index per OR branch with a BitmapOr: branch 1 (email): the index proposed; branch 2 (phone): the index proposed',
    });
  });
});
