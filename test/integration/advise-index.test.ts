/**
 * Index advice against a real PostgreSQL: the advisor proposes the right CREATE INDEX for an
 * unindexed filter on a large table, applying it makes EXPLAIN use an index and the next evaluation
 * resolves the recommendation; small tables and covered columns are skipped.
 */
import { createServer, type Server } from 'node:net';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, type LocalServer, startPostgres } from '../../scripts/lib/local-servers';
import { Advisor } from '../../src/advise/advisor';
import { PgIndexInspector } from '../../src/advise/index-advisor';
import { loadParser } from '../../src/advise/predicate-columns';
import type { AdvisorConfig, AdvisorInput, IndexCandidate } from '../../src/advise/types';
import { DEFAULTS } from '../../src/config/defaults';
import type { QueryRow } from '../../src/reports/types';
import { SqlFingerprinter } from '../../src/sql';
import { quoteIdent } from '../../src/sql/quote-ident';

const SERVICE = 'shop';
const BY_CUSTOMER = 'SELECT id, total FROM orders WHERE customer_id = $1 ORDER BY created_at DESC LIMIT $2';
const BY_EMAIL = 'SELECT id FROM accounts WHERE email = $1';
const SMALL = 'SELECT value FROM settings WHERE name = $1';
const PROPOSED = 'CREATE INDEX CONCURRENTLY orders_customer_id_idx ON orders (customer_id);';

let pg: LocalServer;
let admin: Client;
const inspectors: PgIndexInspector[] = [];

function inspector(): PgIndexInspector {
  const i = new PgIndexInspector({
    url: pg.url,
    timeoutMs: 5_000,
    cacheMs: 0,
    minTableRows: 500,
    maxColumns: 3,
  });
  inspectors.push(i);
  return i;
}

const candidate = (statement: string, fingerprint = statement): IndexCandidate => ({
  service: SERVICE,
  fingerprint,
  statement,
  reason: 'slow',
});

function slowRow(statement: string, table: string): QueryRow {
  return {
    service: SERVICE,
    system: 'postgresql',
    fingerprint: statement,
    statement,
    operation: statement.split(' ')[0],
    table,
    calls: 200,
    errors: 0,
    totalMs: 30_000,
    meanMs: 150,
    p50Ms: 140,
    p95Ms: 180,
    p99Ms: 220,
    maxMs: 300,
    shareOfDbTime: 0.33,
    topEndpoints: [],
    exampleTraceId: 'trace-1',
    maxCallsPerRequest: 1,
  };
}

async function explain(sql: string): Promise<string> {
  const result = await admin.query(`EXPLAIN (FORMAT JSON) ${sql}`);
  return JSON.stringify(result.rows[0]['QUERY PLAN']);
}

/** The plan of `probe` with `index` built (not concurrently) in a transaction that is rolled back. */
async function explainWith(index: string, probe: string): Promise<string> {
  await admin.query('BEGIN');
  try {
    await admin.query(index.replace(' CONCURRENTLY', ''));
    return await explain(probe);
  } finally {
    await admin.query('ROLLBACK');
  }
}

/** With `index` built, the planner reads `probe` through it and sorts nothing. */
async function expectReadInOrder(index: string, probe: string): Promise<void> {
  const plan = await explainWith(index, probe);
  expect(plan).toContain(/INDEX CONCURRENTLY (\S+)/.exec(index)?.[1]);
  expect(plan).not.toMatch(/Sort"/);
}

/** The statements the advisor proposes for `statement`. */
async function proposals(statement: string): Promise<string[]> {
  return (await inspector().inspect(candidate(statement))).proposals.map((p) => p.statement);
}

beforeAll(async () => {
  await loadParser();
  pg = await startPostgres();
  admin = new Client({ connectionString: pg.url });
  await admin.connect();
  await admin.query(`
    CREATE TABLE orders (id serial PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL,
                         total numeric(10,2) NOT NULL, created_at timestamptz NOT NULL);
    INSERT INTO orders (customer_id, status, total, created_at)
      SELECT 1 + (i % 20000), (ARRAY['new','paid','shipped'])[1 + i % 3], (i % 997) / 10.0,
             timestamptz '2026-01-01' + i * interval '1 minute'
        FROM generate_series(1, 120000) AS i;
    CREATE TABLE accounts (id serial PRIMARY KEY, email text NOT NULL);
    INSERT INTO accounts (email) SELECT 'user' || i || '@example.test' FROM generate_series(1, 50000) AS i;
    CREATE INDEX accounts_email_idx ON accounts (email);
    CREATE TABLE settings (name text NOT NULL, value text);
    INSERT INTO settings SELECT 'key' || i, 'v' FROM generate_series(1, 100) AS i;
    ANALYZE;
  `);
});

afterAll(async () => {
  for (const i of inspectors) await i.close();
  await admin?.end();
  await pg?.stop();
});

describe('index advice on PostgreSQL', () => {
  it("quotes every identifier PostgreSQL's own keyword list says cannot stand bare", async () => {
    const { rows } = await admin.query<{ word: string; catcode: string }>(
      'SELECT word, catcode FROM pg_get_keywords()',
    );
    expect(rows.length).toBeGreaterThan(400);
    const bare = rows.filter((r) => 'RT'.includes(r.catcode) && !quoteIdent(r.word).startsWith('"'));
    expect(bare.map((r) => r.word)).toEqual([]);
    // Column-name and unreserved keywords may stand bare, and the index statement runs with them.
    await admin.query('CREATE TABLE "join" ("left" int, "between" int, "position" int)');
    const columns = ['left', 'between', 'position'].map(quoteIdent).join(', ');
    await admin.query(`CREATE INDEX join_kw_idx ON ${quoteIdent('join')} (${columns})`);
    await admin.query('DROP TABLE "join"');
  });

  it('proposes CREATE INDEX on the unindexed filter column, with the Seq Scan of the generic plan as evidence', async () => {
    const finding = await inspector().inspect(candidate(BY_CUSTOMER));
    expect(finding.checked).toBe(true);
    expect(finding.proposals).toHaveLength(1);
    const [p] = finding.proposals;
    expect(p.statement).toBe(PROPOSED);
    expect(p.tableRows).toBeGreaterThan(100_000);
    expect(p.existingIndexes).toEqual(['orders_pkey (id) unique']);
    // PostgreSQL 15 has no EXPLAIN (GENERIC_PLAN): PREPARE + force_generic_plan stands in.
    expect(p.plan?.method).toBe('prepared-generic-plan');
    expect(p.plan?.seqScan).toBe(true);
    expect(p.plan?.shape).toContain('Seq Scan on orders');
  });

  it('reads a filter on a CTE or a subquery that passes the table through as the table’s, as PostgreSQL inlines it', async () => {
    const cte = await inspector().inspect(
      candidate(
        'WITH recent AS (SELECT * FROM orders WHERE status = $1) SELECT id FROM recent WHERE customer_id = $2',
      ),
    );
    expect(cte.proposals.map((p) => p.statement)).toEqual([PROPOSED]);
    expect(cte.proposals[0].plan?.shape).toContain('Seq Scan on orders');
    const sub = await inspector().inspect(
      candidate('SELECT o.id FROM (SELECT id, customer_id FROM orders) o WHERE o.customer_id = $1'),
    );
    expect(sub.proposals.map((p) => p.statement)).toEqual([PROPOSED]);
    // A materialized CTE is not inlined: the filter is on its rows, which no index of the table serves.
    const materialized = await inspector().inspect(
      candidate(
        'WITH recent AS MATERIALIZED (SELECT * FROM orders) SELECT id FROM recent WHERE customer_id = $1',
      ),
    );
    expect(materialized.proposals).toEqual([]);
  });

  it("proposes the same index for a Java agent's `?` statement and a Python driver's `%s` one", async () => {
    // The texts those clients' instrumentations record: PostgreSQL's parser rejects both as sent.
    const sql = await SqlFingerprinter.create(DEFAULTS.sql);
    const native = sql.fingerprint('postgresql', BY_CUSTOMER);
    for (const text of [
      'SELECT id, total FROM orders WHERE customer_id = ? ORDER BY created_at DESC LIMIT ?',
      'SELECT id, total FROM orders WHERE customer_id = %(customer)s ORDER BY created_at DESC LIMIT %s',
    ]) {
      const shape = sql.fingerprint('postgresql', text);
      expect([shape.parsed, shape.fingerprint, shape.statement]).toEqual([
        true,
        native.fingerprint,
        BY_CUSTOMER,
      ]);
      expect(await proposals(shape.statement)).toEqual([PROPOSED]);
    }
  });

  it('checks UPDATE statements inside a read-only transaction without changing data', async () => {
    const before = await admin.query("SELECT count(*)::int AS n FROM orders WHERE status = 'new'");
    const finding = await inspector().inspect(
      candidate('UPDATE orders SET status = $1 WHERE customer_id = $2'),
    );
    expect(finding.proposals.map((p) => p.statement)).toEqual([PROPOSED]);
    const after = await admin.query("SELECT count(*)::int AS n FROM orders WHERE status = 'new'");
    expect(after.rows[0].n).toBe(before.rows[0].n);
  });

  it('still proposes, without plan evidence, when the statement cannot be planned without values', async () => {
    const finding = await inspector().inspect(
      candidate('SELECT id FROM orders WHERE customer_id = $1 AND $2 IS NULL'),
    );
    expect(finding.proposals.map((p) => [p.statement, p.plan])).toEqual([[PROPOSED, undefined]]);
  });

  it('plans a statement whose typed literals were normalized to `interval $n`', async () => {
    const finding = await inspector().inspect(
      candidate('SELECT id FROM orders WHERE customer_id = $1 AND created_at > now() - interval $2'),
    );
    expect(finding.proposals).toHaveLength(1);
    expect(finding.proposals[0].plan?.seqScan).toBe(true);
  });

  it('proposes no index on the common side of a flag, which the planner reads with a Seq Scan anyway', async () => {
    await admin.query(`CREATE TABLE posts (id serial PRIMARY KEY, published boolean NOT NULL, title text);
      INSERT INTO posts (published, title) SELECT i % 10 <> 0, 't' || i FROM generate_series(1, 60000) AS i;
      ANALYZE posts;`);
    try {
      const finding = await inspector().inspect(candidate('SELECT id, title FROM posts WHERE published'));
      expect(finding.proposals).toEqual([]);
      expect(finding.skipped).toMatchObject([{ table: 'posts', reason: 'unselective' }]);
      expect(finding.skipped[0].detail).toMatch(/^\(published\) matches ~90%/);
      // `published = $1` may look for the rare side: the index stays proposed.
      const either = await inspector().inspect(candidate('SELECT id, title FROM posts WHERE published = $1'));
      expect(either.proposals).toHaveLength(1);
      // The witness: with the index built, the planner still scans for the common side.
      await admin.query('BEGIN');
      await admin.query('CREATE INDEX posts_published_probe ON posts (published)');
      expect(await explain('SELECT id, title FROM posts WHERE published')).toContain('Seq Scan');
      await admin.query('ROLLBACK');
    } finally {
      await admin.query('DROP TABLE posts');
    }
  });

  it('proposes rebuilding an INVALID index on the columns instead of a second one', async () => {
    // What a CREATE INDEX CONCURRENTLY that failed or was cancelled leaves behind.
    await admin.query('CREATE INDEX orders_customer_id_idx ON orders (customer_id)');
    await admin.query(
      "UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'orders_customer_id_idx'::regclass",
    );
    try {
      const finding = await inspector().inspect(candidate('SELECT id FROM orders WHERE customer_id = $1'));
      expect(finding.proposals).toMatchObject([
        {
          statement: 'REINDEX INDEX CONCURRENTLY orders_customer_id_idx;',
          invalidIndex: 'orders_customer_id_idx',
        },
      ]);
    } finally {
      await admin.query('DROP INDEX orders_customer_id_idx');
    }
  });

  it('spells the sort directions an ORDER BY with mixed directions needs, which the planner then reads without sorting', async () => {
    const statement = 'SELECT id FROM orders WHERE status = $1 ORDER BY created_at DESC, id LIMIT $2';
    const proposed =
      'CREATE INDEX CONCURRENTLY orders_status_created_at_id_idx ON orders (status, created_at DESC, id);';
    expect(await proposals(statement)).toEqual([proposed]);
    const probe = "SELECT id FROM orders WHERE status = 'paid' ORDER BY created_at DESC, id LIMIT 10";
    await expectReadInOrder(proposed, probe);
    // The all-ascending index leaves a sort to do (read backwards it gives `id DESC`).
    expect(await explainWith('CREATE INDEX probe_idx ON orders (status, created_at, id)', probe)).toMatch(
      /Sort"/,
    );
    // Built, it is recognised by its key directions (pg_index.indoption).
    await admin.query(proposed.replace(' CONCURRENTLY', ''));
    try {
      const again = await inspector().inspect(candidate(statement));
      expect(again.skipped).toMatchObject([
        { reason: 'covered', detail: expect.stringContaining('(status, created_at DESC, id)') },
      ]);
    } finally {
      await admin.query('DROP INDEX orders_status_created_at_id_idx');
    }
  });

  it('resolves ORDER BY positions of the normalized statement to the select-list columns', async () => {
    const fp = await SqlFingerprinter.create({ cacheEntries: 100, maxParseBytes: 64 * 1024 });
    const raw = "SELECT id, created_at FROM orders WHERE status = 'paid' ORDER BY 2 DESC, 1 LIMIT 10";
    const { statement } = fp.fingerprint('postgresql', raw);
    expect(statement).toBe('SELECT id, created_at FROM orders WHERE status = $1 ORDER BY 2 DESC, 1 LIMIT $2');
    const proposed =
      'CREATE INDEX CONCURRENTLY orders_status_created_at_id_idx ON orders (status, created_at DESC, id);';
    expect(await proposals(statement)).toEqual([proposed]);
    await expectReadInOrder(proposed, raw);
  });

  it('spells NULLS LAST on a DESC key, which a plain index read backwards cannot give', async () => {
    await admin.query(`CREATE TABLE shipments (id serial PRIMARY KEY, shipped_at timestamptz);
      INSERT INTO shipments (shipped_at)
        SELECT CASE WHEN i % 5 <> 0 THEN timestamptz '2026-01-01' + i * interval '1 minute' END
          FROM generate_series(1, 60000) AS i;
      ANALYZE shipments;`);
    try {
      const proposed =
        'CREATE INDEX CONCURRENTLY shipments_shipped_at_idx ON shipments (shipped_at DESC NULLS LAST);';
      expect(
        await proposals('SELECT id FROM shipments ORDER BY shipped_at DESC NULLS LAST LIMIT $1'),
      ).toEqual([proposed]);
      const probe = 'SELECT id FROM shipments ORDER BY shipped_at DESC NULLS LAST LIMIT 10';
      await expectReadInOrder(proposed, probe);
      expect(await explainWith('CREATE INDEX probe_idx ON shipments (shipped_at)', probe)).toContain(
        '"Seq Scan"',
      );
    } finally {
      await admin.query('DROP TABLE shipments');
    }
  });

  it('skips a small table and a column an existing index already covers', async () => {
    const i = inspector();
    const small = await i.inspect(candidate(SMALL));
    expect(small.proposals).toEqual([]);
    expect(small.skipped).toMatchObject([{ table: 'settings', reason: 'small-table' }]);
    const covered = await i.inspect(candidate(BY_EMAIL));
    expect(covered.proposals).toEqual([]);
    expect(covered.skipped).toMatchObject([{ table: 'accounts', reason: 'covered' }]);
  });

  it("reads Prisma's schema-qualified, quoted SQL: the index on its mixed-case table, which the planner uses, and its unique look-ups covered", async () => {
    // As Prisma 7 sends them (the sidecar's normalized form: findUnique's `AND 1=1` is `$2=$3`).
    await admin.query(`CREATE TABLE "Post" (id serial PRIMARY KEY, slug text NOT NULL, "authorId" int NOT NULL);
      INSERT INTO "Post" (slug, "authorId") SELECT 'post-' || i, 1 + i % 5000 FROM generate_series(1, 60000) AS i;
      ANALYZE "Post";`);
    try {
      const columns = '"public"."Post"."id", "public"."Post"."slug", "public"."Post"."authorId"';
      const findFirst = `SELECT ${columns} FROM "public"."Post" WHERE "public"."Post"."slug" = $1 LIMIT $2 OFFSET $3`;
      const [slug] = await proposals(findFirst);
      expect(slug).toBe('CREATE INDEX CONCURRENTLY "Post_slug_idx" ON "Post" (slug);');
      expect(await explainWith(slug, 'SELECT id FROM "Post" WHERE slug = \'post-7\' LIMIT 1')).toContain(
        'Post_slug_idx',
      );
      const count =
        'SELECT COUNT(*) AS "_count$_all" FROM (SELECT "public"."Post"."id" FROM "public"."Post" ' +
        'WHERE "public"."Post"."authorId" = $1 OFFSET $2) AS "sub"';
      expect(await proposals(count)).toEqual([
        'CREATE INDEX CONCURRENTLY "Post_authorId_idx" ON "Post" ("authorId");',
      ]);
      const findUnique = `SELECT ${columns} FROM "public"."Post" WHERE ("public"."Post"."id" = $1 AND $2=$3) LIMIT $4 OFFSET $5`;
      const unique = await inspector().inspect(candidate(findUnique));
      expect(unique.proposals).toEqual([]);
      expect(unique.skipped).toMatchObject([{ table: '"Post"', reason: 'covered' }]);
    } finally {
      await admin.query('DROP TABLE "Post"');
    }
  });

  it('reports a check that gets no answer within the timeout instead of hanging', async () => {
    const port = await freePort();
    // Accepts connections and never answers: the startup handshake stalls.
    const blackHole: Server = createServer(() => {});
    await new Promise<void>((resolve) => blackHole.listen(port, '127.0.0.1', resolve));
    try {
      const i = new PgIndexInspector({
        url: `postgres://postgres@127.0.0.1:${port}/postgres`,
        timeoutMs: 300,
        cacheMs: 0,
        minTableRows: 500,
        maxColumns: 3,
      });
      inspectors.push(i);
      const finding = await i.inspect(candidate(BY_CUSTOMER));
      expect(finding.checked).toBe(false);
      expect(finding.error).toBeTruthy();
      expect(finding.columns.map((c) => c.column)).toEqual(['customer_id', 'created_at']);
      // The next statement does not wait for another timeout.
      const next = await i.inspect(candidate(BY_EMAIL));
      expect(next.error).toMatch(/^database unavailable: /);
      expect(next.columns.map((c) => c.column)).toEqual(['email']);
    } finally {
      blackHole.close();
    }
  });

  it('recommends the index, and after it is created EXPLAIN uses it and the recommendation resolves', async () => {
    const rows = [slowRow(BY_CUSTOMER, 'orders'), slowRow(BY_EMAIL, 'accounts'), slowRow(SMALL, 'settings')];
    const source = (): AdvisorInput => ({
      queries: rows,
      cache: [],
      endpoints: [],
      endpointQueries: [],
      endpointCache: [],
      pools: [],
    });
    const config = { ...structuredClone(DEFAULTS.advisor), intervalSeconds: 3600 } as AdvisorConfig;
    let now = 1_000;
    const advisor = new Advisor(config, source, inspector(), { now: () => now });
    await advisor.start();
    try {
      const proposals = advisor.list({ kind: 'missing-index' });
      expect(proposals).toHaveLength(1);
      expect(proposals[0]).toMatchObject({
        state: 'active',
        target: { type: 'fingerprint', value: BY_CUSTOMER, table: 'orders' },
        evidence: { planSeqScan: true, table: 'orders', indexColumns: ['customer_id'] },
      });
      expect(proposals[0].action).toContain(PROPOSED);

      const probe = 'SELECT id, total FROM orders WHERE customer_id = 42 ORDER BY created_at DESC LIMIT 10';
      expect(await explain(probe)).toContain('"Seq Scan"');
      await admin.query(PROPOSED);
      await admin.query('ANALYZE orders');
      const plan = await explain(probe);
      expect(plan).toContain('orders_customer_id_idx');
      expect(plan).not.toContain('"Seq Scan"');

      now = 2_000;
      await advisor.evaluateNow();
      expect(advisor.list({ kind: 'missing-index', state: 'active' })).toEqual([]);
      expect(advisor.list({ kind: 'missing-index' })[0]).toMatchObject({
        state: 'resolved',
        resolvedAtMs: 2_000,
      });
      // The statement is still slow in these fixed rows; its advice now says the indexes look adequate.
      const slow = advisor.list({ kind: 'slow-query' }).find((r) => r.target.value === BY_CUSTOMER);
      expect(slow?.action).toMatch(/Indexes look adequate/);
    } finally {
      await advisor.shutdown();
    }
  });
});

describe('index advice on expressions, on PostgreSQL', () => {
  beforeAll(async () => {
    await admin.query(`
      CREATE TABLE people (id serial PRIMARY KEY, email varchar(200) NOT NULL, created_at timestamptz NOT NULL,
                           signed_up timestamp NOT NULL, payload jsonb NOT NULL, a int, b int NOT NULL);
      INSERT INTO people (email, created_at, signed_up, payload, a, b)
        SELECT 'User' || i || '@example.test', timestamptz '2026-01-01' + i * interval '1 minute',
               timestamp '2026-01-01' + i * interval '1 minute', jsonb_build_object('kind', 'k' || (i % 50)),
               CASE WHEN i % 3 <> 0 THEN i END, i % 1000
          FROM generate_series(1, 60000) AS i;
      ANALYZE people;`);
  });
  afterAll(async () => {
    await admin.query('DROP TABLE people');
  });

  it('proposes an expression index for lower(email) = $1, which the planner uses, and then sees it as covering', async () => {
    const finding = await inspector().inspect(candidate('SELECT id FROM people WHERE lower(email) = $1'));
    const proposed = 'CREATE INDEX CONCURRENTLY people_lower_email_idx ON people (lower(email));';
    expect(finding.proposals.map((p) => [p.statement, p.plan?.seqScan])).toEqual([[proposed, true]]);
    const probe = "SELECT id FROM people WHERE lower(email) = 'user42@example.test'";
    expect(await explain(probe)).toContain('"Seq Scan"');
    await admin.query(proposed);
    try {
      await admin.query('ANALYZE people');
      expect(await explain(probe)).toContain('people_lower_email_idx');
      // PostgreSQL spells the key lower((email)::text) (email is varchar): the same expression.
      const again = await inspector().inspect(candidate('SELECT id FROM people WHERE lower(email) = $1'));
      expect(again.proposals).toEqual([]);
      expect(again.skipped).toEqual([
        {
          table: 'people',
          reason: 'covered',
          detail: 'existing index people_lower_email_idx (lower(email::text)) already covers (lower(email))',
        },
      ]);
    } finally {
      await admin.query('DROP INDEX people_lower_email_idx');
    }
  });

  it('proposes date() of a timestamp, coalesce() and a cast, each of which the planner then uses', async () => {
    const cases: [string, string, string][] = [
      [
        'SELECT id FROM people WHERE date(signed_up) = $1',
        'CREATE INDEX CONCURRENTLY people_date_signed_up_idx ON people (date(signed_up));',
        "SELECT id FROM people WHERE date(signed_up) = '2026-01-15'",
      ],
      [
        'SELECT id FROM people WHERE coalesce(a, b) = $1',
        'CREATE INDEX CONCURRENTLY people_coalesce_a_b_idx ON people (coalesce(a, b));',
        'SELECT id FROM people WHERE coalesce(a, b) = 42',
      ],
      [
        'SELECT id FROM people WHERE signed_up::date BETWEEN $1 AND $2',
        'CREATE INDEX CONCURRENTLY people_signed_up_date_idx ON people ((signed_up::date));',
        "SELECT id FROM people WHERE signed_up::date BETWEEN '2026-01-15' AND '2026-01-16'",
      ],
    ];
    for (const [statement, proposed, probe] of cases) {
      expect(await proposals(statement), statement).toEqual([proposed]);
      expect(await explainWith(proposed, probe), probe).not.toContain('"Seq Scan"');
    }
  });

  it('proposes nothing for an expression that is not IMMUTABLE, which CREATE INDEX refuses, and says why', async () => {
    for (const statement of [
      'SELECT id FROM people WHERE date(created_at) = $1',
      'SELECT id FROM people WHERE created_at::date = $1',
    ]) {
      const finding = await inspector().inspect(candidate(statement));
      expect(finding.proposals, statement).toEqual([]);
      expect(finding.skipped, statement).toMatchObject([
        {
          table: 'people',
          reason: 'unindexable-expression',
          detail: expect.stringMatching(
            /: date\(timestamp with time zone\) is STABLE, and PostgreSQL indexes only IMMUTABLE/,
          ),
        },
      ]);
    }
    // The witness: PostgreSQL itself refuses both.
    for (const key of ['date(created_at)', '(created_at::date)']) {
      await expect(admin.query(`CREATE INDEX people_probe ON people (${key})`)).rejects.toThrow(
        'functions in index expression must be marked IMMUTABLE',
      );
    }
  });

  it('proposes nothing for an expression holding a parameter, and never shows the literal it replaced', async () => {
    // The app ran `payload->>'kind' = 'k7'`: spanstat only ever sees it normalised.
    await admin.query("CREATE INDEX people_kind_idx ON people ((payload->>'kind'))");
    try {
      const finding = await inspector().inspect(candidate('SELECT id FROM people WHERE (payload->>$1) = $2'));
      expect(finding.proposals).toEqual([]);
      expect(finding.skipped).toMatchObject([
        {
          reason: 'unindexable-expression',
          detail: expect.stringContaining('payload ->> $1 holds a parameter'),
        },
      ]);
      // An existing index whose expression holds a literal is shown without it.
      const other = await inspector().inspect(candidate('SELECT id FROM people WHERE lower(email) = $1'));
      expect(other.proposals[0].existingIndexes).toContain('people_kind_idx ((expression))');
      expect(JSON.stringify([finding, other])).not.toMatch(/kind'|'k7/);
    } finally {
      await admin.query('DROP INDEX people_kind_idx');
    }
  });
});

describe('LIKE and operator classes, on PostgreSQL', () => {
  beforeAll(async () => {
    // One column in an ICU collation (never C), one in "C": the answer must not depend on the
    // collation initdb gave the test database.
    await admin.query(`
      CREATE TABLE words (id serial PRIMARY KEY, word text COLLATE "und-x-icu" NOT NULL, code text COLLATE "C" NOT NULL);
      INSERT INTO words (word, code) SELECT md5(i::text), md5(i::text) FROM generate_series(1, 60000) AS i;
      ANALYZE words;`);
  });
  afterAll(async () => {
    await admin.query('DROP TABLE words');
  });

  it('proposes a trigram index for LIKE, naming the text_pattern_ops index a prefix needs outside a C collation, which the planner uses where a plain one is not', async () => {
    const finding = await inspector().inspect(candidate('SELECT id FROM words WHERE word LIKE $1'));
    const index = 'CREATE INDEX CONCURRENTLY words_word_idx ON words (word text_pattern_ops);';
    expect(finding.proposals).toMatchObject([
      {
        statement: 'CREATE INDEX CONCURRENTLY words_word_trgm_idx ON words USING gin (word gin_trgm_ops);',
        note: expect.stringContaining(`operator class: ${index}`),
      },
    ]);
    const probe = "SELECT id FROM words WHERE word LIKE 'abc%'";
    expect(await explainWith(index, probe)).toContain('words_word_idx');
    expect(await explainWith('CREATE INDEX plain_idx ON words (word)', probe)).toContain('"Seq Scan"');
    // Built, it is named as serving a prefix already.
    await admin.query(index);
    try {
      const again = await inspector().inspect(candidate('SELECT id FROM words WHERE word LIKE $1'));
      expect(again.skipped[0].detail).toContain(
        'existing index words_word_idx (word text_pattern_ops) serves one already',
      );
      // It sorts bytewise: no cover for a range or an ORDER BY in the column's collation.
      const range = 'SELECT id FROM words WHERE word > $1 ORDER BY word LIMIT $2';
      expect(await proposals(range)).toEqual(['CREATE INDEX CONCURRENTLY words_word_idx2 ON words (word);']);
      expect(await explain("SELECT id FROM words WHERE word > 'f' ORDER BY word LIMIT 10")).not.toContain(
        'words_word_idx',
      );
    } finally {
      await admin.query('DROP INDEX words_word_idx');
    }
  });

  it('names a plain index for a LIKE prefix on a column in the C collation, which the planner uses', async () => {
    const finding = await inspector().inspect(candidate('SELECT id FROM words WHERE code LIKE $1'));
    const index = 'CREATE INDEX CONCURRENTLY words_code_idx ON words (code);';
    expect(finding.proposals).toMatchObject([
      { note: expect.stringContaining(`(its collation is C, so a plain one serves): ${index}`) },
    ]);
    expect(await explainWith(index, "SELECT id FROM words WHERE code LIKE 'abc%'")).toContain(
      'words_code_idx',
    );
  });
});
