/**
 * Index advice for what search boxes send: LIKE/ILIKE on an expression (`lower(name) LIKE $1`), in
 * an OR (`name ILIKE $1 OR email ILIKE $1`, `sku = $1 OR name ILIKE $2`) and beside an `=` filter
 * (`tenant_id = $1 AND name ILIKE $2`).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { evaluate } from '../../src/advise/evaluate';
import { planOrGroup } from '../../src/advise/index-or';
import {
  type ExistingIndex,
  type PlannedUse,
  planTableIndex,
  type TableInfo,
} from '../../src/advise/index-plan';
import { extractColumns, loadParser } from '../../src/advise/predicate-columns';
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
const text = new Map<string, string | null>([
  ['name', 'text_pattern_ops'],
  ['email', 'text_pattern_ops'],
]);
const people = (o: Partial<TableInfo> = {}) =>
  peopleTable(['name', 'email', 'sku', 'tenant_id', 'deleted_at'], {
    prefixOpclass: text,
    stats: new Map([
      ['sku', { distinct: 100_000, nullFrac: 0 }],
      ['tenant_id', { distinct: 200, nullFrac: 0 }],
      ['deleted_at', { distinct: 1_000, nullFrac: 0.95 }],
    ]),
    ...o,
  });

/** `lower(<column>)` as the advisor reads it once PostgreSQL has spelt it and found it IMMUTABLE. */
const lower = (column: string, use: 'like' | 'ilike', check: { unindexable?: string } = {}): PlannedUse => ({
  column: `lower(${column})`,
  use,
  expression: {
    columns: [column],
    hasParameter: false,
    functionLike: true,
    calls: [],
    canonical: `lower(${column})`,
    ...check,
  },
});
const ilike = (column: string): PlannedUse => ({ column, use: 'ilike' });
const eq = (column: string, matches?: 'null'): PlannedUse => ({
  column,
  use: 'eq',
  ...(matches ? { matches } : {}),
});
const trigramOn = (name: string, key: { column?: string; expression?: string }): ExistingIndex => ({
  ...btreeIndex(name, []),
  columns: [key.column ?? null],
  expressions: [key.expression ? { canonical: key.expression, shown: key.expression } : null],
  method: 'gin',
  opclasses: ['gin_trgm_ops'],
});

describe('search patterns from the parse tree', () => {
  it('reads LIKE on an expression and LIKE/ILIKE branches of an OR', () => {
    const parsed = extractColumns(
      'SELECT id FROM people WHERE lower(email) LIKE lower($1) AND (sku = $2 OR name ILIKE $3)',
    );
    expect(parsed?.columns.map((c) => `${c.column}:${c.use}`)).toEqual(['lower(email):like']);
    expect(parsed?.orGroups?.map((g) => g.branches.map((b) => b.map((c) => `${c.column}:${c.use}`)))).toEqual(
      [[['sku:eq'], ['name:ilike']]],
    );
  });
});

describe('index planning: LIKE/ILIKE on an IMMUTABLE expression', () => {
  it('proposes a gin_trgm_ops index on the expression', () => {
    expect(planTableIndex([lower('name', 'like')], people(), seqScan, false, limits)).toEqual({
      proposal: {
        table: 'people',
        columns: ['lower(name)'],
        statement:
          'CREATE INDEX CONCURRENTLY people_lower_name_trgm_idx ON people USING gin (lower(name) gin_trgm_ops);',
        tableRows: 100_000,
        existingIndexes: ['people_pkey (id) unique'],
        extension: { name: 'pg_trgm', installed: false },
        note: 'a trigram index serves lower(name) LIKE … with any pattern; a btree on the expression serves prefixes (abc%) only',
        plan: seqScan,
      },
    });
  });

  it('takes an existing trigram index on the same expression as covering, not one on the bare column', () => {
    const onExpression = trigramOn('people_lower_name_trgm', { expression: 'lower(name)' });
    expect(
      planTableIndex([lower('name', 'ilike')], people({ indexes: [onExpression] }), seqScan, false, limits),
    ).toEqual({
      skip: {
        table: 'people',
        reason: 'covered',
        detail:
          'existing index people_lower_name_trgm (lower(name) gin_trgm_ops) gin already serves lower(name) ILIKE … (any pattern)',
      },
      covering: onExpression,
    });
    const onColumn = trigramOn('people_name_trgm', { column: 'name' });
    expect(
      planTableIndex([lower('name', 'ilike')], people({ indexes: [onColumn] }), seqScan, false, limits),
    ).toMatchObject({ proposal: { columns: ['lower(name)'] } });
  });

  it('proposes none for an expression PostgreSQL cannot index, saying why', () => {
    const why = 'f(name): public.f(text) is STABLE, and PostgreSQL indexes only IMMUTABLE expressions';
    expect(
      planTableIndex([lower('name', 'like', { unindexable: why })], people(), seqScan, false, limits),
    ).toEqual({ skip: { table: 'people', reason: 'unindexable-expression', detail: why } });
  });
});

/** The statements an OR's planning proposes, and how it says its branches are served. */
const orAdvice = (branches: PlannedUse[][], info = people()) => {
  const d = planOrGroup(branches, info, seqScan, limits);
  const proposals = d.flatMap((x) => ('proposal' in x ? [x.proposal] : []));
  return { statements: proposals.map((p) => p.statement), bitmapOr: proposals[0]?.bitmapOr };
};

describe('index planning: ILIKE branches of an OR', () => {
  it('proposes a trigram index per ILIKE branch', () => {
    expect(orAdvice([[ilike('name')], [ilike('email')]])).toEqual({
      statements: [
        'CREATE INDEX CONCURRENTLY people_name_trgm_idx ON people USING gin (name gin_trgm_ops);',
        'CREATE INDEX CONCURRENTLY people_email_trgm_idx ON people USING gin (email gin_trgm_ops);',
      ],
      bitmapOr: 'branch 1 (name): the trigram index proposed; branch 2 (email): the trigram index proposed',
    });
  });

  it('mixes a btree and a trigram index, saying one BitmapOr combines them', () => {
    expect(orAdvice([[eq('sku')], [ilike('name')]])).toEqual({
      statements: [
        'CREATE INDEX CONCURRENTLY people_sku_idx ON people (sku);',
        'CREATE INDEX CONCURRENTLY people_name_trgm_idx ON people USING gin (name gin_trgm_ops);',
      ],
      bitmapOr:
        'branch 1 (sku): the index proposed; branch 2 (name): the trigram index proposed; one BitmapOr combines the gin (trigram) and btree Bitmap Index Scans',
    });
  });

  it('counts an existing trigram index as serving its branch', () => {
    const info = people({ indexes: [trigramOn('people_name_trgm', { column: 'name' })] });
    expect(orAdvice([[eq('sku')], [ilike('name')]], info)).toEqual({
      statements: ['CREATE INDEX CONCURRENTLY people_sku_idx ON people (sku);'],
      bitmapOr:
        'branch 1 (sku): the index proposed; branch 2 (name): existing index people_name_trgm (name gin_trgm_ops) gin; one BitmapOr combines the gin (trigram) and btree Bitmap Index Scans',
    });
  });
});

describe('index planning: an OR branch with a pattern beside its = filter', () => {
  it('names the btree that serves the branch, not the trigram index its note mentions', () => {
    const info = people({
      indexes: [btreeIndex('people_pkey', ['id']), btreeIndex('people_tenant_id_idx', ['tenant_id'])],
    });
    expect(orAdvice([[eq('tenant_id'), ilike('name')], [eq('sku')]], info)).toEqual({
      statements: ['CREATE INDEX CONCURRENTLY people_sku_idx ON people (sku);'],
      bitmapOr:
        'branch 1 (tenant_id, name): existing index people_tenant_id_idx (tenant_id); branch 2 (sku): the index proposed',
    });
  });
});

describe('index planning: LIKE/ILIKE beside an = filter', () => {
  it('proposes the btree on the = column and names the trigram index a BitmapAnd adds', () => {
    const d = planTableIndex([eq('tenant_id'), ilike('name')], people(), seqScan, false, limits);
    expect(d).toMatchObject({
      proposal: {
        statement: 'CREATE INDEX CONCURRENTLY people_tenant_id_idx ON people (tenant_id);',
        note: 'name ILIKE … is checked on the rows found by (tenant_id), ~500 per look-up by pg_stats; if those are many and the pattern matches few, a trigram index lets PostgreSQL combine both with a BitmapAnd (after CREATE EXTENSION IF NOT EXISTS pg_trgm;): CREATE INDEX CONCURRENTLY people_name_trgm_idx ON people USING gin (name gin_trgm_ops);',
      },
    });
    expect(d).not.toHaveProperty('proposal.extension');
  });

  it('names the pattern in the skip when the = column is indexed already', () => {
    const info = people({
      trigramInstalled: true,
      indexes: [btreeIndex('people_tenant_id_idx', ['tenant_id'])],
    });
    expect(planTableIndex([eq('tenant_id'), ilike('name')], info, seqScan, false, limits)).toEqual({
      skip: {
        table: 'people',
        reason: 'covered',
        detail:
          'existing index people_tenant_id_idx (tenant_id) already covers (tenant_id); name ILIKE … is checked on the rows found by (tenant_id), ~500 per look-up by pg_stats; if those are many and the pattern matches few, a trigram index lets PostgreSQL combine both with a BitmapAnd: CREATE INDEX CONCURRENTLY people_name_trgm_idx ON people USING gin (name gin_trgm_ops);',
      },
      covering: info.indexes[0],
    });
  });

  it('leaves the rows per look-up out where pg_stats cannot give them: a range, or no statistics', () => {
    const note = (uses: PlannedUse[]) => {
      const d = planTableIndex(uses, people(), seqScan, false, limits);
      return 'proposal' in d ? d.proposal.note : undefined;
    };
    expect(note([{ column: 'tenant_id', use: 'range' }, ilike('name')])).toMatch(
      /^name ILIKE … is checked on the rows found by \(tenant_id\); if those are many/,
    );
    expect(note([eq('email'), ilike('name')])).toMatch(
      /^name ILIKE … is checked on the rows found by \(email\); if/,
    );
    // Two = filters: the table's rows × each one's share of a value (100k / 200 / 100k, shown as 1 at least).
    expect(note([eq('tenant_id'), eq('sku'), ilike('name')])).toMatch(
      /found by \(tenant_id, sku\), ~1 per look-up/,
    );
  });

  it('proposes the trigram index when the = filter matches most rows (deleted_at IS NULL)', () => {
    const d = planTableIndex([eq('deleted_at', 'null'), ilike('name')], people(), seqScan, false, limits);
    expect(d).toMatchObject({
      proposal: {
        statement: 'CREATE INDEX CONCURRENTLY people_name_trgm_idx ON people USING gin (name gin_trgm_ops);',
        extension: { name: 'pg_trgm', installed: false },
      },
    });
  });
});

describe('missing-index advice for an OR with a pattern branch', () => {
  it('says the BitmapOr combines gin and btree, and to install pg_trgm though the btree comes first', () => {
    const row = queryRow({
      p95Ms: 180,
      statement: 'SELECT id FROM people WHERE sku = $1 OR name ILIKE $2',
      table: 'people',
    });
    const finding = findingOf(row, planOrGroup([[eq('sku')], [ilike('name')]], people(), seqScan, limits));
    const rec = evaluate(input({ queries: [row], indexFindings: [finding] }), thresholds(), 0).find(
      (r) => r.kind === 'missing-index',
    );
    expect(rec?.action).toBe(
      'The generic plan reads all ~100000 rows of people with a Seq Scan (p95 180 ms). Its OR can use indexes only through a BitmapOr, which needs an index for every branch (branch 1 (sku): the index proposed; branch 2 (name): the trigram index proposed; one BitmapOr combines the gin (trigram) and btree Bitmap Index Scans). It needs the pg_trgm extension, which is not installed: first run CREATE EXTENSION IF NOT EXISTS pg_trgm; (as a role allowed to create it; the contrib package must be on the server). Run: CREATE INDEX CONCURRENTLY people_sku_idx ON people (sku); CREATE INDEX CONCURRENTLY people_name_trgm_idx ON people USING gin (name gin_trgm_ops); (CONCURRENTLY builds without blocking writes; run it outside a transaction), then ANALYZE the table and check that EXPLAIN shows a BitmapOr over the indexes.',
    );
  });
});

describe('index planning: LIKE/ILIKE beside a join or ORDER BY … LIMIT column', () => {
  const pkey = btreeIndex('people_pkey', ['id']);
  const TRIGRAM = 'CREATE INDEX CONCURRENTLY people_name_trgm_idx ON people USING gin (name gin_trgm_ops);';

  it('proposes the trigram index for a pattern on the joined table, not the join key its primary key covers', () => {
    const info = people({ indexes: [pkey] });
    const d = planTableIndex([ilike('name'), { column: 'id', use: 'join' }], info, seqScan, false, limits);
    expect(d).toMatchObject({
      proposal: {
        statement: TRIGRAM,
        note: 'no btree serves name ILIKE …; a trigram index serves any pattern',
      },
    });
  });

  it('names an unindexed join key in the note', () => {
    const d = planTableIndex(
      [ilike('name'), { column: 'tenant_id', use: 'join' }],
      people(),
      seqScan,
      false,
      limits,
    );
    expect(d).toMatchObject({
      proposal: {
        statement: TRIGRAM,
        note: 'no btree serves name ILIKE …; a trigram index serves any pattern; an index on (tenant_id) would serve the join when the other table drives a nested loop',
      },
    });
  });

  it("proposes the trigram index for a search box's ORDER BY … LIMIT, naming the sort column's index for common patterns", () => {
    const uses: PlannedUse[] = [ilike('name'), { column: 'sku', use: 'order' }];
    expect(planTableIndex(uses, people(), seqScan, true, limits)).toMatchObject({
      proposal: {
        statement: TRIGRAM,
        note: 'no btree serves name ILIKE …; a trigram index serves any pattern; if the pattern matches many rows, an index on (sku) serves the ORDER BY … LIMIT better: PostgreSQL reads it in order and stops at the first rows that match',
      },
    });
    // With the sort column indexed, the note has nothing to add.
    const indexed = people({ indexes: [pkey, btreeIndex('people_sku_idx', ['sku'])] });
    expect(planTableIndex(uses, indexed, seqScan, true, limits)).toMatchObject({
      proposal: {
        statement: TRIGRAM,
        note: 'no btree serves name ILIKE …; a trigram index serves any pattern',
      },
    });
  });

  it('keeps an existing trigram index as covering the pattern beside a join', () => {
    const info = people({ indexes: [pkey, trigramOn('people_name_trgm', { column: 'name' })] });
    expect(
      planTableIndex([ilike('name'), { column: 'id', use: 'join' }], info, seqScan, false, limits),
    ).toMatchObject({
      skip: { reason: 'covered' },
    });
  });
});
