import { describe, expect, it } from 'vitest';
import { evaluate } from '../../src/advise/evaluate';
import { castTypedParameters } from '../../src/advise/index-advisor';
import {
  covers,
  type ExistingIndex,
  type PlannedUse,
  planTableIndex,
  type TableInfo,
} from '../../src/advise/index-plan';
import type { ColumnUse } from '../../src/advise/predicate-columns';
import type { IndexFinding, IndexSkipReason, PlanEvidence } from '../../src/advise/types';
import { quoteIdent } from '../../src/sql/quote-ident';
import { input, queryRow, thresholds } from './advise-fixtures';

const limits = { minTableRows: 500, maxColumns: 3 };

function table(o: Partial<TableInfo> = {}): TableInfo {
  return {
    schema: 'public',
    name: 'orders',
    relkind: 'r',
    rows: 200_000,
    columns: new Set(['id', 'customer_id', 'status', 'created_at', 'total']),
    stats: new Map([
      ['id', { distinct: 200_000, nullFrac: 0 }],
      ['customer_id', { distinct: 20_000, nullFrac: 0 }],
      ['status', { distinct: 3, nullFrac: 0 }],
      ['created_at', { distinct: 200_000, nullFrac: 0 }],
    ]),
    indexes: [pkey],
    ...o,
  };
}

const pkey: ExistingIndex = {
  name: 'orders_pkey',
  columns: ['id'],
  unique: true,
  method: 'btree',
  partial: false,
  valid: true,
};
const btree = (name: string, columns: string[]): ExistingIndex => ({ ...pkey, name, columns, unique: false });
const uses = (...pairs: [string, ColumnUse][]) => pairs.map(([column, use]) => ({ column, use }));
const seqScan: PlanEvidence = {
  method: 'prepared-generic-plan',
  seqScan: true,
  totalCost: 3000,
  shape: 'Seq Scan on orders',
};

describe('index planning', () => {
  it('proposes a concurrent index on an unindexed equality column of a large table', () => {
    const d = planTableIndex(uses(['customer_id', 'eq']), table(), seqScan, false, limits);
    expect(d).toEqual({
      proposal: {
        table: 'orders',
        columns: ['customer_id'],
        statement: 'CREATE INDEX CONCURRENTLY orders_customer_id_idx ON orders (customer_id);',
        tableRows: 200_000,
        existingIndexes: ['orders_pkey (id) unique'],
        plan: seqScan,
      },
    });
  });

  it('skips tables under 500 rows and proposes at 500', () => {
    const small = planTableIndex(uses(['customer_id', 'eq']), table({ rows: 499 }), undefined, false, limits);
    expect(small).toMatchObject({ skip: { reason: 'small-table' } });
    const edge = planTableIndex(uses(['customer_id', 'eq']), table({ rows: 500 }), undefined, false, limits);
    expect(edge).toHaveProperty('proposal');
  });

  it('skips when an existing index has the proposed columns as its prefix', () => {
    const t = table({ indexes: [pkey, btree('orders_cust_created', ['customer_id', 'created_at'])] });
    expect(planTableIndex(uses(['customer_id', 'eq']), t, undefined, false, limits)).toMatchObject({
      skip: {
        reason: 'covered',
        detail: expect.stringContaining('orders_cust_created (customer_id, created_at)'),
      },
    });
  });

  it('does not take an index with the column in second place for a cover', () => {
    const t = table({ indexes: [pkey, btree('orders_created_cust', ['created_at', 'customer_id'])] });
    expect(planTableIndex(uses(['customer_id', 'eq']), t, undefined, false, limits)).toHaveProperty(
      'proposal',
    );
  });

  it('orders equality columns by selectivity and stops once few rows remain', () => {
    const d = planTableIndex(
      uses(['status', 'eq'], ['customer_id', 'eq']),
      table(),
      undefined,
      false,
      limits,
    );
    expect(d).toMatchObject({ proposal: { columns: ['customer_id'] } });
  });

  it('adds a range column after the equality columns while many rows remain', () => {
    const d = planTableIndex(
      uses(['status', 'eq'], ['created_at', 'range']),
      table(),
      undefined,
      false,
      limits,
    );
    expect(d).toMatchObject({
      proposal: {
        columns: ['status', 'created_at'],
        statement: expect.stringContaining('(status, created_at)'),
      },
    });
  });

  it('adds the ORDER BY column after an unselective equality column', () => {
    const d = planTableIndex(
      uses(['status', 'eq'], ['created_at', 'order']),
      table(),
      undefined,
      true,
      limits,
    );
    expect(d).toMatchObject({ proposal: { columns: ['status', 'created_at'] } });
  });

  it('proposes a join-only column only when the generic plan shows a Seq Scan', () => {
    const join = uses(['customer_id', 'join']);
    expect(planTableIndex(join, table(), undefined, false, limits)).toMatchObject({
      skip: { reason: 'needs-plan' },
    });
    expect(planTableIndex(join, table(), seqScan, false, limits)).toMatchObject({
      proposal: { columns: ['customer_id'] },
    });
  });

  it('skips when the generic plan already avoids a Seq Scan', () => {
    const plan = { ...seqScan, seqScan: false, shape: 'Index Scan on orders' };
    expect(planTableIndex(uses(['customer_id', 'eq']), table(), plan, false, limits)).toMatchObject({
      skip: { reason: 'plan-uses-index' },
    });
  });

  it('ignores columns the table does not have and views', () => {
    expect(planTableIndex(uses(['nope', 'eq']), table(), undefined, false, limits)).toMatchObject({
      skip: { reason: 'no-usable-columns' },
    });
    expect(
      planTableIndex(uses(['customer_id', 'eq']), table({ relkind: 'v' }), undefined, false, limits),
    ).toMatchObject({
      skip: { reason: 'not-a-table' },
    });
  });

  it('quotes identifiers that need it and qualifies non-public schemas', () => {
    expect(quoteIdent('order')).toBe('"order"');
    expect(quoteIdent('CustomerId')).toBe('"CustomerId"');
    expect(quoteIdent('customer_id')).toBe('customer_id');
    const d = planTableIndex(
      uses(['customer_id', 'eq']),
      table({ schema: 'Shop' }),
      undefined,
      false,
      limits,
    );
    expect(d).toMatchObject({
      proposal: {
        statement: 'CREATE INDEX CONCURRENTLY orders_customer_id_idx ON "Shop".orders (customer_id);',
      },
    });
  });
});

describe('index planning: ORDER BY directions', () => {
  const order = (column: string, o: { desc?: true; nullsFirst?: boolean } = {}) => ({
    column,
    use: 'order' as const,
    ...o,
  });
  const plan = (u: Parameters<typeof planTableIndex>[0], t = table()) =>
    planTableIndex(u, t, seqScan, true, limits);

  it('spells DESC only when the directions are mixed (a btree reads backwards for all-DESC)', () => {
    const mixed = plan([...uses(['status', 'eq']), order('created_at', { desc: true }), order('id')]);
    expect(mixed).toMatchObject({
      proposal: {
        columns: ['status', 'created_at', 'id'],
        statement:
          'CREATE INDEX CONCURRENTLY orders_status_created_at_id_idx ON orders (status, created_at DESC, id);',
      },
    });
    const allDesc = plan([
      ...uses(['status', 'eq']),
      order('created_at', { desc: true }),
      order('id', { desc: true }),
    ]);
    expect(allDesc).toMatchObject({
      proposal: { statement: expect.stringContaining('(status, created_at, id);') },
    });
  });

  it('spells NULLS FIRST/LAST when it differs from what a plain index gives either way', () => {
    const lastDesc = plan([order('created_at', { desc: true, nullsFirst: false })]);
    expect(lastDesc).toMatchObject({
      proposal: { statement: expect.stringContaining('(created_at DESC NULLS LAST);') },
    });
    const firstAsc = plan([order('created_at', { nullsFirst: true }), order('id')]);
    expect(firstAsc).toMatchObject({
      proposal: { statement: expect.stringContaining('(created_at NULLS FIRST, id);') },
    });
  });

  it('takes an index as covering only when its directions match the ORDER BY or its reverse', () => {
    const want = [...uses(['status', 'eq']), order('created_at', { desc: true }), order('id')];
    const ascending = btree('orders_s_c_i', ['status', 'created_at', 'id']);
    expect(plan(want, table({ indexes: [pkey, ascending] }))).toHaveProperty('proposal');
    // (status DESC, created_at, id DESC): the sort part is the exact reverse; the pinned column's direction does not matter.
    const reversed = { ...ascending, desc: [true, false, true], nullsFirst: [true, false, true] };
    expect(plan(want, table({ indexes: [pkey, reversed] }))).toMatchObject({
      skip: {
        reason: 'covered',
        detail: expect.stringContaining('orders_s_c_i (status DESC, created_at, id DESC)'),
      },
    });
    const nullsDiffer = { ...ascending, desc: [false, false, true], nullsFirst: [false, false, false] };
    expect(
      covers(nullsDiffer, ['status', 'created_at', 'id'], 1, {
        sort: new Map([
          ['created_at', { desc: true, nullsFirst: true }],
          ['id', { desc: false, nullsFirst: false }],
        ]),
      }),
    ).toBe(false);
  });
});

describe('index planning: expressions', () => {
  const people = table({
    name: 'people',
    columns: new Set(['id', 'email', 'status', 'a', 'b']),
    stats: new Map([
      ['email', { distinct: 200_000, nullFrac: 0 }],
      ['status', { distinct: 3, nullFrac: 0 }],
    ]),
    indexes: [{ ...pkey, name: 'people_pkey' }],
  });
  const expr = (
    column: string,
    o: Partial<NonNullable<PlannedUse['expression']>> = {},
    use: ColumnUse = 'eq',
  ) => ({
    column,
    use,
    expression: {
      columns: ['email'],
      hasParameter: false,
      functionLike: true,
      calls: [],
      canonical: 'lower((email)::text)',
      ...o,
    },
  });

  it('proposes an expression index, in parentheses unless it reads as a function call', () => {
    expect(planTableIndex([expr('lower(email)')], people, seqScan, false, limits)).toMatchObject({
      proposal: {
        columns: ['lower(email)'],
        statement: 'CREATE INDEX CONCURRENTLY people_lower_email_idx ON people (lower(email));',
      },
    });
    const sum = expr('a + b', { columns: ['a', 'b'], functionLike: false, canonical: '(a + b)' });
    expect(planTableIndex([sum], people, seqScan, false, limits)).toMatchObject({
      proposal: { statement: 'CREATE INDEX CONCURRENTLY people_a_b_idx ON people ((a + b));' },
    });
  });

  it("leads with an expression (no statistics: the planner's default 0.5% per value) before a few-valued column", () => {
    expect(
      planTableIndex([...uses(['status', 'eq']), expr('lower(email)')], people, seqScan, false, limits),
    ).toMatchObject({ proposal: { columns: ['lower(email)', 'status'] } });
  });

  it('takes an existing index on the same expression, as PostgreSQL spells it, for a cover', () => {
    const lowerIx: ExistingIndex = {
      ...btree('people_lower', []),
      columns: [null],
      expressions: [{ canonical: 'lower((email)::text)', shown: 'lower(email::text)' }],
    };
    expect(
      planTableIndex(
        [expr('lower(email)')],
        table({ ...people, indexes: [lowerIx] }),
        seqScan,
        false,
        limits,
      ),
    ).toMatchObject({
      skip: {
        reason: 'covered',
        detail: 'existing index people_lower (lower(email::text)) already covers (lower(email))',
      },
    });
    const upperIx = { ...lowerIx, expressions: [{ canonical: 'upper((email)::text)' }] };
    expect(
      planTableIndex(
        [expr('lower(email)')],
        table({ ...people, indexes: [upperIx] }),
        seqScan,
        false,
        limits,
      ),
    ).toMatchObject({ proposal: { existingIndexes: ['people_lower ((expression))'] } });
    // A column that happens to be named like the expression's spelling is not the expression.
    const oddColumn = btree('people_odd', ['lower((email)::text)']);
    expect(
      covers(oddColumn, ['lower(email)'], 1, {
        canonical: new Map([['lower(email)', 'lower((email)::text)']]),
      }),
    ).toBe(false);
  });

  it('proposes no index for an expression PostgreSQL cannot index, and says why', () => {
    const stable = expr('date(created_at)', {
      columns: ['email'],
      unindexable: 'date(created_at): date(timestamp with time zone) is STABLE',
    });
    expect(planTableIndex([stable], people, seqScan, false, limits)).toEqual({
      skip: {
        table: 'people',
        reason: 'unindexable-expression',
        detail: 'date(created_at): date(timestamp with time zone) is STABLE',
      },
    });
    // Another filter column is still proposed.
    expect(planTableIndex([stable, ...uses(['status', 'eq'])], people, seqScan, false, limits)).toMatchObject(
      { proposal: { columns: ['status'] } },
    );
  });

  it('ignores an expression over a column the table does not have', () => {
    expect(
      planTableIndex([expr('lower(nope)', { columns: ['nope'] })], people, seqScan, false, limits),
    ).toMatchObject({
      skip: { reason: 'no-usable-columns' },
    });
  });
});

describe('index planning: LIKE and operator classes', () => {
  const words = (o: Partial<TableInfo> = {}) =>
    table({
      name: 'words',
      columns: new Set(['id', 'word', 'status']),
      prefixOpclass: new Map([['word', 'text_pattern_ops']]),
      stats: new Map([['status', { distinct: 3, nullFrac: 0 }]]),
      indexes: [{ ...pkey, name: 'words_pkey' }],
      ...o,
    });
  const like = uses(['word', 'like']);

  it('proposes a trigram index for LIKE, naming the pattern_ops btree a prefix-only LIKE could use instead, and a plain one in C', () => {
    expect(planTableIndex(like, words(), seqScan, false, limits)).toEqual({
      proposal: {
        table: 'words',
        columns: ['word'],
        statement: 'CREATE INDEX CONCURRENTLY words_word_trgm_idx ON words USING gin (word gin_trgm_ops);',
        tableRows: 200_000,
        existingIndexes: ['words_pkey (id) unique'],
        extension: { name: 'pg_trgm', installed: false },
        note: "a trigram index serves word LIKE … with any pattern; if every pattern is a prefix (abc%), a smaller btree serves it, in this column's collation only with the text_pattern_ops operator class: CREATE INDEX CONCURRENTLY words_word_idx ON words (word text_pattern_ops);",
        plan: seqScan,
      },
    });
    const c = planTableIndex(
      like,
      words({ prefixOpclass: new Map([['word', null]]) }),
      seqScan,
      false,
      limits,
    );
    expect(c).toMatchObject({
      proposal: {
        note: expect.stringMatching(/\(its collation is C, so a plain one serves\): .* \(word\);$/),
      },
    });
  });

  it('says when an index already serves a prefix, and proposes the other filter columns first', () => {
    const pattern: ExistingIndex = {
      ...btree('words_word_pattern', ['word']),
      opclasses: ['text_pattern_ops'],
      likePrefix: [true],
    };
    expect(planTableIndex(like, words({ indexes: [pattern] }), seqScan, false, limits)).toMatchObject({
      skip: {
        detail: expect.stringContaining(
          'existing index words_word_pattern (word text_pattern_ops) serves one already',
        ),
      },
    });
    expect(
      planTableIndex([...like, ...uses(['status', 'eq'])], words(), seqScan, false, limits),
    ).toMatchObject({
      proposal: { columns: ['status'] },
    });
  });

  it('takes a pattern_ops index for an equality cover, but not for a range or an ORDER BY', () => {
    const pattern: ExistingIndex = {
      ...btree('words_word_pattern', ['word']),
      opclasses: ['text_pattern_ops'],
    };
    expect(covers(pattern, ['word'], 1)).toBe(true);
    expect(covers(pattern, ['word'], 0)).toBe(false);
    expect(covers({ ...pattern, unique: true }, ['word'], 1)).toBe(true);
    const other: ExistingIndex = { ...pattern, opclasses: ['some_custom_ops'] };
    expect(covers(other, ['word'], 1)).toBe(false);
    expect(
      planTableIndex(uses(['word', 'range']), words({ indexes: [pattern] }), seqScan, false, limits),
    ).toMatchObject({
      proposal: { statement: 'CREATE INDEX CONCURRENTLY words_word_idx ON words (word);' },
    });
  });
});

describe('slow-query advice when no index is proposed for a reason of its own', () => {
  const cases: [IndexSkipReason, string, RegExp][] = [
    [
      'unindexable-expression',
      'date(created_at): date(timestamp with time zone) is STABLE',
      /^No index can hold what it filters on as written \(events: date\(created_at\): date\(timestamp with time zone\) is STABLE\)/,
    ],
    [
      'like-pattern',
      'word LIKE …: only a prefix pattern (abc%) can use a btree index',
      /^An index can serve its LIKE only for a prefix pattern \(events: word LIKE …/,
    ],
  ];
  for (const [reason, detail, action] of cases) {
    it(`says so for ${reason}, with the reason, rather than that the indexes look adequate`, () => {
      const row = queryRow({ p95Ms: 400, statement: 'SELECT id FROM events WHERE x = $1', table: 'events' });
      const finding: IndexFinding = {
        service: row.service,
        fingerprint: row.fingerprint,
        checked: true,
        columns: [],
        proposals: [],
        skipped: [{ table: 'events', reason, detail }],
      };
      const slow = evaluate(input({ queries: [row], indexFindings: [finding] }), thresholds(), 0).find(
        (r) => r.kind === 'slow-query',
      );
      expect(slow?.action).toMatch(action);
    });
  }
});

describe('missing-index rule', () => {
  const slow = queryRow({
    p95Ms: 180,
    statement: 'SELECT * FROM orders WHERE customer_id = $1',
    table: 'orders',
  });
  const proposal = {
    table: 'orders',
    columns: ['customer_id'],
    statement: 'CREATE INDEX CONCURRENTLY orders_customer_id_idx ON orders (customer_id);',
    tableRows: 200_000,
    existingIndexes: ['orders_pkey (id) unique'],
    plan: seqScan,
  };
  const finding = (o: Partial<IndexFinding> = {}): IndexFinding => ({
    service: slow.service,
    fingerprint: slow.fingerprint,
    columns: [{ table: { name: 'orders' }, column: 'customer_id', use: 'eq' }],
    checked: true,
    proposals: [proposal],
    skipped: [],
    ...o,
  });

  it('recommends the verified CREATE INDEX with the plan as evidence', () => {
    const recs = evaluate(input({ queries: [slow], indexFindings: [finding()] }), thresholds(), 0);
    const rec = recs.find((r) => r.kind === 'missing-index');
    expect(rec?.action).toContain(
      'CREATE INDEX CONCURRENTLY orders_customer_id_idx ON orders (customer_id);',
    );
    expect(rec?.evidence).toMatchObject({
      tableRows: 200_000,
      planSeqScan: true,
      planChecked: 'prepared-generic-plan',
    });
    expect(rec?.target).toMatchObject({ type: 'fingerprint', value: 'fp1', table: 'orders' });
    const slowRec = recs.find((r) => r.kind === 'slow-query');
    expect(slowRec?.action).toContain('Add the missing index');
  });

  it('recommends nothing for an unchecked or proposal-free finding', () => {
    const unchecked = finding({ checked: false, proposals: [] });
    const covered = finding({
      proposals: [],
      skipped: [{ table: 'orders', reason: 'covered', detail: 'x' }],
    });
    for (const f of [unchecked, covered]) {
      const kinds = evaluate(input({ queries: [slow], indexFindings: [f] }), thresholds(), 0).map(
        (r) => r.kind,
      );
      expect(kinds).toEqual(['slow-query']);
    }
  });

  it('ignores findings for statements that are no longer slow or top', () => {
    const fast = { ...slow, p95Ms: 5, meanMs: 2 };
    const kinds = evaluate(input({ queries: [fast], indexFindings: [finding()] }), thresholds(), 0).map(
      (r) => r.kind,
    );
    expect(kinds).toEqual([]);
  });
});

describe('typed literals before planning', () => {
  it('turns a type name before a parameter into a cast, and leaves other text alone', () => {
    expect(
      castTypedParameters('SELECT id FROM orders WHERE created_at > now() - interval $3 AND day = date $1'),
    ).toBe('SELECT id FROM orders WHERE created_at > now() - $3::interval AND day = $1::date');
    expect(
      castTypedParameters('SELECT $1::text, t.interval FROM t WHERE x = timestamp with time zone $2'),
    ).toBe('SELECT $1::text, t.interval FROM t WHERE x = $2::timestamp with time zone');
    expect(castTypedParameters('SELECT text FROM notes WHERE id = $1')).toBe(
      'SELECT text FROM notes WHERE id = $1',
    );
  });
});

describe('a hash index', () => {
  const hash: ExistingIndex = {
    name: 'posts_author_hash',
    columns: ['author_id'],
    unique: false,
    method: 'hash',
    partial: false,
    valid: true,
  };
  it('covers an equality look-up on its column', () => {
    expect(covers(hash, ['author_id'], 1)).toBe(true);
  });
  it('does not cover a range or an ORDER BY on it', () => {
    expect(covers(hash, ['author_id'], 0)).toBe(false);
  });
});

describe('index planning: predicates that match much of the table', () => {
  const withDeleted = table({
    columns: new Set(['id', 'customer_id', 'status', 'created_at', 'deleted_at', 'published']),
    stats: new Map([
      ['customer_id', { distinct: 20_000, nullFrac: 0 }],
      ['status', { distinct: 3, nullFrac: 0 }],
      ['created_at', { distinct: 200_000, nullFrac: 0 }],
      ['deleted_at', { distinct: 4_000, nullFrac: 0.98 }],
      ['published', { distinct: 2, nullFrac: 0, trueFrac: 0.9 }],
    ]),
  });
  const nullTest = (column: string) => ({ column, use: 'eq' as const, matches: 'null' as const });
  const flag = (column: string) => ({ column, use: 'eq' as const, matches: 'true' as const });

  it('proposes no index for a flag or IS NULL on a mostly-null column', () => {
    for (const u of [[flag('published')], [nullTest('deleted_at')]]) {
      const d = planTableIndex(u, withDeleted, seqScan, false, limits);
      expect(d, JSON.stringify(u)).toMatchObject({ skip: { reason: 'unselective' } });
    }
    const d = planTableIndex([nullTest('deleted_at')], withDeleted, seqScan, false, limits);
    expect('skip' in d && d.skip.detail).toMatch(/deleted_at IS NULL\) matches ~98%/);
  });

  it('still proposes the selective side, an equality with an unknown value, or a flag before a range or sort', () => {
    // `published = $1` may look for the rare side.
    expect(planTableIndex(uses(['published', 'eq']), withDeleted, seqScan, false, limits)).toMatchObject({
      proposal: { columns: ['published'] },
    });
    expect(planTableIndex(uses(['status', 'eq']), withDeleted, seqScan, false, limits)).toMatchObject({
      proposal: { columns: ['status'] },
    });
    expect(planTableIndex(uses(['deleted_at', 'eq']), withDeleted, seqScan, false, limits)).toMatchObject({
      proposal: { columns: ['deleted_at'] },
    });
    const sorted = planTableIndex(
      uses(['status', 'eq'], ['created_at', 'order']),
      withDeleted,
      seqScan,
      true,
      limits,
    );
    expect(sorted).toMatchObject({ proposal: { columns: ['status', 'created_at'] } });
    // The selective column leads; the mostly-null test adds nothing once few rows remain.
    const both = planTableIndex(
      [...uses(['customer_id', 'eq']), nullTest('deleted_at')],
      withDeleted,
      seqScan,
      false,
      limits,
    );
    expect(both).toMatchObject({ proposal: { columns: ['customer_id'] } });
  });

  it('says no index would help rather than that the indexes look adequate', () => {
    const row = queryRow({ p95Ms: 400, statement: 'SELECT * FROM posts WHERE published', table: 'posts' });
    const finding: IndexFinding = {
      service: row.service,
      fingerprint: row.fingerprint,
      checked: true,
      columns: [{ column: 'published', use: 'eq', table: { name: 'posts' } }],
      proposals: [],
      skipped: [
        { table: 'posts', reason: 'unselective', detail: '(published) matches ~50% of its ~120000 rows' },
      ],
    };
    const slow = evaluate(input({ queries: [row], indexFindings: [finding] }), thresholds(), 0).find(
      (r) => r.kind === 'slow-query',
    );
    expect(slow?.action).toMatch(/^No index would help \(posts: \(published\) matches ~50%/);
  });
});

describe('an INVALID index on the proposed columns', () => {
  const invalid: ExistingIndex = {
    ...pkey,
    name: 'orders_customer_id_idx',
    columns: ['customer_id'],
    unique: false,
    valid: false,
  };

  it('is rebuilt rather than duplicated', () => {
    const d = planTableIndex(
      uses(['customer_id', 'eq']),
      table({ indexes: [pkey, invalid] }),
      seqScan,
      false,
      limits,
    );
    expect(d).toMatchObject({
      proposal: {
        statement: 'REINDEX INDEX CONCURRENTLY orders_customer_id_idx;',
        invalidIndex: 'orders_customer_id_idx',
      },
    });
  });

  it('is named in the recommendation, with what left it invalid', () => {
    const row = queryRow({
      p95Ms: 180,
      statement: 'SELECT * FROM orders WHERE customer_id = $1',
      table: 'orders',
    });
    const decision = planTableIndex(
      uses(['customer_id', 'eq']),
      table({ indexes: [pkey, invalid] }),
      seqScan,
      false,
      limits,
    );
    const finding: IndexFinding = {
      service: row.service,
      fingerprint: row.fingerprint,
      checked: true,
      columns: [{ column: 'customer_id', use: 'eq', table: { name: 'orders' } }],
      proposals: 'proposal' in decision ? [decision.proposal] : [],
      skipped: [],
    };
    const rec = evaluate(input({ queries: [row], indexFindings: [finding] }), thresholds(), 0).find(
      (r) => r.kind === 'missing-index',
    );
    expect(rec?.title).toMatch(/^Invalid index on orders \(customer_id\)/);
    expect(rec?.action).toMatch(/orders_customer_id_idx, but it is INVALID/);
    expect(rec?.action).toContain('REINDEX INDEX CONCURRENTLY orders_customer_id_idx;');
    expect(rec?.evidence.invalidIndex).toBe('orders_customer_id_idx');
  });
});
