import { describe, expect, it } from 'vitest';
import { evaluate } from '../../src/advise/evaluate';
import {
  type ExistingIndex,
  type PlannedUse,
  planTableIndex,
  type TableInfo,
} from '../../src/advise/index-plan';
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

const limits = indexLimits;
const seqScan = seqScanPlan('people');
const pkey = btreeIndex('people_pkey', ['id']);
const people = (o: Partial<TableInfo> = {}) =>
  peopleTable(['name', 'age'], { prefixOpclass: new Map([['name', 'text_pattern_ops']]), ...o });

const ilike: PlannedUse[] = [{ column: 'name', use: 'ilike' }];
const trigramIndex = (method: string, opclass: string): ExistingIndex => ({
  ...pkey,
  name: `people_name_${method}`,
  columns: ['name'],
  unique: false,
  method,
  opclasses: [opclass],
});

describe('index planning: ILIKE and trigram indexes', () => {
  it('proposes a gin_trgm_ops index for ILIKE on a text column, saying whether pg_trgm is installed', () => {
    expect(planTableIndex(ilike, people(), seqScan, false, limits)).toEqual({
      proposal: {
        table: 'people',
        columns: ['name'],
        statement: 'CREATE INDEX CONCURRENTLY people_name_trgm_idx ON people USING gin (name gin_trgm_ops);',
        tableRows: 100_000,
        existingIndexes: ['people_pkey (id) unique'],
        extension: { name: 'pg_trgm', installed: false },
        note: 'no btree serves name ILIKE …; a trigram index serves any pattern',
        plan: seqScan,
      },
    });
    expect(planTableIndex(ilike, people({ trigramInstalled: true }), seqScan, false, limits)).toMatchObject({
      proposal: { extension: { name: 'pg_trgm', installed: true } },
    });
  });

  it('takes an existing gin or gist trigram index on the column as covering, not a pattern_ops btree', () => {
    for (const ix of [trigramIndex('gin', 'gin_trgm_ops'), trigramIndex('gist', 'gist_trgm_ops')]) {
      expect(planTableIndex(ilike, people({ indexes: [pkey, ix] }), seqScan, false, limits)).toEqual({
        skip: {
          table: 'people',
          reason: 'covered',
          detail: `existing index ${ix.name} (name ${ix.opclasses?.[0]}) ${ix.method} already serves name ILIKE … (any pattern)`,
        },
        covering: ix,
      });
    }
    const partial = { ...trigramIndex('gin', 'gin_trgm_ops'), partial: true };
    const pattern = { ...trigramIndex('btree', 'text_pattern_ops'), likePrefix: [true] };
    for (const ix of [partial, pattern]) {
      expect(planTableIndex(ilike, people({ indexes: [pkey, ix] }), seqScan, false, limits)).toMatchObject({
        proposal: { columns: ['name'] },
      });
    }
  });

  it('keeps the prefix skip for LIKE when a pattern_ops btree serves prefixes, naming the trigram index for other patterns', () => {
    const pattern = { ...trigramIndex('btree', 'text_pattern_ops'), likePrefix: [true] };
    const d = planTableIndex(
      [{ column: 'name', use: 'like' }],
      people({ indexes: [pkey, pattern] }),
      seqScan,
      false,
      limits,
    );
    expect(d).toEqual({
      skip: {
        table: 'people',
        reason: 'like-pattern',
        detail:
          'name LIKE …: only a prefix pattern (abc%) can use a btree index, and existing index people_name_btree (name text_pattern_ops) serves one already; for patterns that are not prefixes, a trigram index (pg_trgm): CREATE INDEX CONCURRENTLY people_name_trgm_idx ON people USING gin (name gin_trgm_ops);',
      },
    });
  });

  it('proposes nothing for ILIKE on a non-text column or when the plan uses an index, and the btree beside an equality', () => {
    expect(planTableIndex([{ column: 'age', use: 'ilike' }], people(), seqScan, false, limits)).toMatchObject(
      {
        skip: { reason: 'no-usable-columns' },
      },
    );
    const withEq = planTableIndex([...ilike, { column: 'age', use: 'eq' }], people(), seqScan, false, limits);
    expect(withEq).toMatchObject({
      proposal: {
        columns: ['age'],
        statement: expect.not.stringContaining('gin'),
        note: expect.stringContaining('name ILIKE … is checked on the rows found by (age)'),
      },
    });
    const indexed = { ...seqScan, seqScan: false, shape: 'Bitmap Heap Scan on people > Bitmap Index Scan' };
    expect(planTableIndex(ilike, people(), indexed, false, limits)).toMatchObject({
      skip: { reason: 'plan-uses-index' },
    });
  });
});

describe('missing-index advice for a trigram index', () => {
  const row = queryRow({
    p95Ms: 180,
    statement: 'SELECT id FROM people WHERE name ILIKE $1',
    table: 'people',
  });
  const action = (info: TableInfo) => {
    const finding = findingOf(row, [planTableIndex(ilike, info, seqScan, false, limits)]);
    return evaluate(input({ queries: [row], indexFindings: [finding] }), thresholds(), 0).find(
      (r) => r.kind === 'missing-index',
    );
  };

  it('says to CREATE EXTENSION pg_trgm first when it is not installed', () => {
    const rec = action(people());
    expect(rec?.action).toBe(
      'The generic plan reads all ~100000 rows of people with a Seq Scan (p95 180 ms). It needs the pg_trgm extension, which is not installed: first run CREATE EXTENSION IF NOT EXISTS pg_trgm; (as a role allowed to create it; the contrib package must be on the server). Run: CREATE INDEX CONCURRENTLY people_name_trgm_idx ON people USING gin (name gin_trgm_ops); (no btree serves name ILIKE …; a trigram index serves any pattern) (CONCURRENTLY builds without blocking writes; run it outside a transaction), then ANALYZE the table and check that EXPLAIN shows a Bitmap Index Scan on it.',
    );
    expect(rec?.evidence).toMatchObject({ extension: 'pg_trgm (not installed)' });
  });

  it('says the extension is installed when it is', () => {
    const rec = action(people({ trigramInstalled: true }));
    expect(rec?.action).toContain('It needs the pg_trgm extension, which is installed. Run: CREATE INDEX');
    expect(rec?.action).not.toContain('CREATE EXTENSION');
  });

  it('is not recommended for a statement under the slow and missing-index thresholds', () => {
    const fast = {
      ...row,
      p95Ms: 2,
      meanMs: 1,
      p50Ms: 1,
      p99Ms: 3,
      maxMs: 4,
      totalMs: 200,
      shareOfDbTime: 0.001,
    };
    const finding = findingOf(row, [planTableIndex(ilike, people(), seqScan, false, limits)]);
    const kinds = evaluate(input({ queries: [fast], indexFindings: [finding] }), thresholds(), 0).map(
      (r) => r.kind,
    );
    expect(kinds).not.toContain('missing-index');
  });
});
