/**
 * Index advice for a partitioned table against a real PostgreSQL. CREATE INDEX CONCURRENTLY is refused
 * on a partitioned table and a plain CREATE INDEX blocks writes to every partition while it builds, so
 * the advice is PostgreSQL's documented way round: an index ON ONLY the parent, then each partition's
 * built concurrently and attached. The test runs that advice on the database and checks what it
 * promises: the parent's index becomes valid, the plan reads the partitions through indexes, and the
 * next check finds the statement covered.
 */
import type { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../scripts/lib/local-servers';
import { indexAction } from '../../src/advise/rules/missing-index';
import { indexInspectors, startAdviceDatabase, stopAdviceDatabase } from '../helpers/index-inspectors';

const BY_ACCOUNT = 'SELECT id, kind FROM events WHERE account_ref = $1';
const MONTHS = ['2026_01', '2026_02', '2026_03'];
const SESSION_PARTITIONS = Array.from({ length: 12 }, (_, n) => n);

let pg: LocalServer;
let admin: Client;
const inspectors = indexInspectors(() => pg.url);
const inspect = (statement: string) => inspectors.inspect(statement, 'events');

beforeAll(async () => {
  ({ pg, admin } = await startAdviceDatabase());
  await admin.query(`
    CREATE TABLE events (id bigint NOT NULL, account_ref text NOT NULL, kind text NOT NULL,
                         created_at timestamptz NOT NULL) PARTITION BY RANGE (created_at);
    ${MONTHS.map(
      (m, i) => `CREATE TABLE events_${m} PARTITION OF events
        FOR VALUES FROM ('2026-0${i + 1}-01') TO ('2026-0${i + 2}-01');`,
    ).join('\n')}
    INSERT INTO events SELECT i, 'acct-' || (i % 5000), (ARRAY['view','click','buy'])[1 + i % 3],
                              timestamptz '2026-01-01' + (i % 89) * interval '1 day' + i * interval '1 second'
      FROM generate_series(1, 60000) AS i;
  `);
  // Sub-partitioned: visits by region, its eu partition by month.
  await admin.query(`
    CREATE TABLE visits (id bigint NOT NULL, region text NOT NULL, account_ref text NOT NULL,
                         day date NOT NULL) PARTITION BY LIST (region);
    CREATE TABLE visits_eu PARTITION OF visits FOR VALUES IN ('eu') PARTITION BY RANGE (day);
    CREATE TABLE visits_eu_2026_01 PARTITION OF visits_eu FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
    CREATE TABLE visits_eu_2026_02 PARTITION OF visits_eu FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');
    CREATE TABLE visits_us PARTITION OF visits FOR VALUES IN ('us');
    INSERT INTO visits SELECT i, (ARRAY['eu','us'])[1 + i % 2], 'acct-' || (i % 4000),
                              date '2026-01-01' + (i % 59)
      FROM generate_series(1, 40000) AS i;
  `);
  // Hash-partitioned into more partitions than the advice spells out.
  await admin.query(`
    CREATE TABLE sessions (id bigint NOT NULL, account_id bigint NOT NULL, "Device" text NOT NULL)
      PARTITION BY HASH (account_id);
    ${SESSION_PARTITIONS.map(
      (n) =>
        `CREATE TABLE sessions_p${n} PARTITION OF sessions FOR VALUES WITH (MODULUS 12, REMAINDER ${n});`,
    ).join('\n')}
    INSERT INTO sessions SELECT i, i % 3000, (ARRAY['ios','android','web'])[1 + i % 3]
      FROM generate_series(1, 36000) AS i;
  `);
  // Sub-partitioned by hash under a list, 10 leaves: the query's statements for a second level.
  await admin.query(`
    CREATE TABLE logins (id bigint NOT NULL, region text NOT NULL, account_id bigint NOT NULL)
      PARTITION BY LIST (region);
    CREATE TABLE logins_eu PARTITION OF logins FOR VALUES IN ('eu') PARTITION BY HASH (id);
    CREATE TABLE logins_us PARTITION OF logins FOR VALUES IN ('us') PARTITION BY HASH (id);
    ${[0, 1, 2, 3, 4]
      .flatMap((n) => [
        `CREATE TABLE logins_eu_h${n} PARTITION OF logins_eu FOR VALUES WITH (MODULUS 5, REMAINDER ${n});`,
        `CREATE TABLE logins_us_h${n} PARTITION OF logins_us FOR VALUES WITH (MODULUS 5, REMAINDER ${n});`,
      ])
      .join('\n')}
    INSERT INTO logins SELECT i, (ARRAY['eu','us'])[1 + i % 2], i % 2500 FROM generate_series(1, 30000) AS i;
  `);
  // As autovacuum leaves it: each partition analyzed, the partitioned parent never.
  for (const table of [
    ...SESSION_PARTITIONS.map((n) => `sessions_p${n}`),
    ...[0, 1, 2, 3, 4].flatMap((n) => [`logins_eu_h${n}`, `logins_us_h${n}`]),
    ...MONTHS.map((m) => `events_${m}`),
    'visits_eu_2026_01',
    'visits_eu_2026_02',
    'visits_us',
  ])
    await admin.query(`ANALYZE ${table}`);
});

afterAll(() => stopAdviceDatabase(inspectors, { pg, admin }));

describe('index advice on a partitioned table', () => {
  it('proposes the parent index ON ONLY, then each partition’s built concurrently and attached', async () => {
    const finding = await inspect(BY_ACCOUNT);
    expect(finding.skipped).toEqual([]);
    expect(finding.proposals).toHaveLength(1);
    const [p] = finding.proposals;
    expect(p.statement).toBe(
      [
        'CREATE INDEX IF NOT EXISTS events_account_ref_idx ON ONLY events (account_ref);',
        ...MONTHS.flatMap((m) => [
          `CREATE INDEX CONCURRENTLY IF NOT EXISTS events_${m}_account_ref_idx ON events_${m} (account_ref);`,
          `ALTER INDEX events_account_ref_idx ATTACH PARTITION events_${m}_account_ref_idx;`,
        ]),
      ].join(' '),
    );
    expect(p.partitions).toBe(3);
    // The partitions' rows, summed (the parent has no statistics of its own).
    expect(p.tableRows).toBeGreaterThan(55_000);
    expect(p.plan?.seqScan).toBe(true);
    expect(p.plan?.seqScanRows).toBeGreaterThan(0);
    expect(p.plan?.shape).toContain('Seq Scan on events_2026_01');

    // The recommendation says why it is not one CREATE INDEX CONCURRENTLY.
    expect(indexAction(finding.proposals, 180)).toContain(
      'It is partitioned (3 partitions), and PostgreSQL cannot build an index on a partitioned table concurrently',
    );
  });

  it('is advice that works: run as given, the parent index is valid and the partitions are read through indexes', async () => {
    const [p] = (await inspect(BY_ACCOUNT)).proposals;
    // One statement at a time, outside a transaction, as the advice says.
    for (const statement of p.statement.split(/(?<=;) /)) await admin.query(statement);
    const valid = await admin.query(
      "SELECT indisvalid FROM pg_index WHERE indexrelid = 'events_account_ref_idx'::regclass",
    );
    expect(valid.rows).toEqual([{ indisvalid: true }]);
    await admin.query('ANALYZE events');
    const plan = JSON.stringify(
      (await admin.query(`EXPLAIN (FORMAT JSON) SELECT id, kind FROM events WHERE account_ref = 'acct-42'`))
        .rows,
    );
    expect(plan).not.toContain('Seq Scan');
    for (const m of MONTHS) expect(plan).toContain(`events_${m}_account_ref_idx`);

    const again = await inspect(BY_ACCOUNT);
    expect(again.proposals).toEqual([]);
    expect(again.skipped.map((s) => s.reason)).toEqual(['covered']);
  });

  it('builds a trigram index for a pattern the same way, partition by partition', async () => {
    const [p] = (await inspect('SELECT id FROM events WHERE account_ref ILIKE $1')).proposals;
    expect(p.statement).toBe(
      [
        'CREATE INDEX IF NOT EXISTS events_account_ref_trgm_idx ON ONLY events USING gin (account_ref gin_trgm_ops);',
        ...MONTHS.flatMap((m) => [
          `CREATE INDEX CONCURRENTLY IF NOT EXISTS events_${m}_account_ref_trgm_idx ON events_${m} USING gin (account_ref gin_trgm_ops);`,
          `ALTER INDEX events_account_ref_trgm_idx ATTACH PARTITION events_${m}_account_ref_trgm_idx;`,
        ]),
      ].join(' '),
    );
    expect(p.partitions).toBe(3);
    await admin.query('CREATE EXTENSION IF NOT EXISTS pg_trgm');
    for (const statement of p.statement.split(/(?<=;) /)) await admin.query(statement);
    const valid = await admin.query(
      "SELECT indisvalid FROM pg_index WHERE indexrelid = 'events_account_ref_trgm_idx'::regclass",
    );
    expect(valid.rows).toEqual([{ indisvalid: true }]);
  });

  it('spells out 8 partitions of a hash-partitioned table and gives the query that writes the rest, which works run as psql’s \\gexec would', async () => {
    const statement = 'SELECT id FROM sessions WHERE "Device" = $1 AND id > $2';
    const finding = await inspect(statement);
    expect(finding.proposals).toHaveLength(1);
    const [p] = finding.proposals;
    expect(p.partitions).toBe(12);
    const spelt = p.statement.split(/(?<=;) /);
    expect(spelt[0]).toBe(
      'CREATE INDEX IF NOT EXISTS "sessions_Device_id_idx" ON ONLY sessions ("Device", id);',
    );
    expect(spelt).toHaveLength(1 + 8 * 2);
    expect(p.otherPartitionsSql).toBeDefined();
    const action = indexAction(finding.proposals, 120);
    expect(action).toContain('the other 4 partitions');
    expect(action).toContain(`end it with \\gexec to run them: ${p.otherPartitionsSql}`);

    // The advice as given: the statements spelt out, then what the query writes, one at a time.
    for (const sql of spelt) await admin.query(sql);
    const written = (await admin.query<{ sql: string }>(p.otherPartitionsSql as string)).rows.map(
      (r) => r.sql,
    );
    expect(written).toHaveLength(12 * 2);
    expect(written).toContain(
      'CREATE INDEX CONCURRENTLY IF NOT EXISTS "sessions_p11_Device_id_idx" ON public.sessions_p11 ("Device", id);',
    );
    expect(written).toContain(
      'ALTER INDEX public."sessions_Device_id_idx" ATTACH PARTITION public."sessions_p11_Device_id_idx";',
    );
    for (const sql of written) await admin.query(sql);

    const valid = await admin.query(
      `SELECT indisvalid, (SELECT count(*)::int FROM pg_inherits WHERE inhparent = indexrelid) AS attached
         FROM pg_index WHERE indexrelid = '"sessions_Device_id_idx"'::regclass`,
    );
    expect(valid.rows).toEqual([{ indisvalid: true, attached: 12 }]);
    await admin.query('ANALYZE sessions');
    const again = await inspect(statement);
    expect(again.proposals).toEqual([]);
    expect(again.skipped.map((s) => s.reason)).toEqual(['covered']);
  });

  it('writes the rest of a sub-partitioned table’s statements level by level, each index attached to its parent’s', async () => {
    const [p] = (await inspect('SELECT id FROM logins WHERE account_id = $1')).proposals;
    expect(p.partitions).toBe(10);
    for (const sql of p.statement.split(/(?<=;) /)) await admin.query(sql);
    const written = (await admin.query<{ sql: string }>(p.otherPartitionsSql as string)).rows.map(
      (r) => r.sql,
    );
    // Two sub-partitioned partitions and ten leaves, two statements each.
    expect(written).toHaveLength(24);
    expect(
      written.indexOf(
        'CREATE INDEX IF NOT EXISTS logins_us_account_id_idx ON ONLY public.logins_us (account_id);',
      ),
    ).toBeLessThan(
      written.indexOf(
        'ALTER INDEX public.logins_us_account_id_idx ATTACH PARTITION public.logins_us_h4_account_id_idx;',
      ),
    );
    for (const sql of written) await admin.query(sql);
    const valid = await admin.query(
      `SELECT indexrelid::regclass::text AS name, indisvalid FROM pg_index
        WHERE indexrelid IN ('logins_account_id_idx'::regclass, 'logins_eu_account_id_idx'::regclass, 'logins_us_account_id_idx'::regclass)
        ORDER BY 1`,
    );
    expect(valid.rows).toEqual([
      { name: 'logins_account_id_idx', indisvalid: true },
      { name: 'logins_eu_account_id_idx', indisvalid: true },
      { name: 'logins_us_account_id_idx', indisvalid: true },
    ]);
  });

  it("attaches a sub-partitioned partition's index to the table's, and its own partitions' to it", async () => {
    const [p] = (await inspect('SELECT id FROM visits WHERE account_ref = $1')).proposals;
    expect(p.statement.split(/(?<=;) /)).toEqual([
      'CREATE INDEX IF NOT EXISTS visits_account_ref_idx ON ONLY visits (account_ref);',
      'CREATE INDEX IF NOT EXISTS visits_eu_account_ref_idx ON ONLY visits_eu (account_ref);',
      'ALTER INDEX visits_account_ref_idx ATTACH PARTITION visits_eu_account_ref_idx;',
      ...['2026_01', '2026_02'].flatMap((m) => [
        `CREATE INDEX CONCURRENTLY IF NOT EXISTS visits_eu_${m}_account_ref_idx ON visits_eu_${m} (account_ref);`,
        `ALTER INDEX visits_eu_account_ref_idx ATTACH PARTITION visits_eu_${m}_account_ref_idx;`,
      ]),
      'CREATE INDEX CONCURRENTLY IF NOT EXISTS visits_us_account_ref_idx ON visits_us (account_ref);',
      'ALTER INDEX visits_account_ref_idx ATTACH PARTITION visits_us_account_ref_idx;',
    ]);
    expect(p.partitions).toBe(3);
    expect(p.tableRows).toBeGreaterThan(35_000);
    for (const statement of p.statement.split(/(?<=;) /)) await admin.query(statement);
    const valid = await admin.query(
      "SELECT indexrelid::regclass::text AS name, indisvalid FROM pg_index WHERE indexrelid IN ('visits_account_ref_idx'::regclass, 'visits_eu_account_ref_idx'::regclass) ORDER BY 1",
    );
    expect(valid.rows).toEqual([
      { name: 'visits_account_ref_idx', indisvalid: true },
      { name: 'visits_eu_account_ref_idx', indisvalid: true },
    ]);
    const plan = JSON.stringify(
      (await admin.query("EXPLAIN (FORMAT JSON) SELECT id FROM visits WHERE account_ref = 'acct-7'")).rows,
    );
    expect(plan).not.toContain('Seq Scan');
  });
});
