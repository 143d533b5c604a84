/**
 * Index advice for containment and key tests on array and jsonb columns against a real PostgreSQL:
 * `tags @> $1` and `tags && $1` on a text[] column, `attrs @> $1` and `attrs ? $1` on a jsonb one. No
 * btree serves them, a GIN index does: the test runs each proposal as given and checks what it
 * promises — PostgreSQL reads the table through the new index, and the next check finds it covered.
 */
import type { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../scripts/lib/local-servers';
import { indexAction } from '../../src/advise/rules/missing-index';
import { indexInspectors, startAdviceDatabase, stopAdviceDatabase } from '../helpers/index-inspectors';

let db: { pg?: LocalServer; admin?: Client } = {};
const inspectors = indexInspectors(() => db.pg?.url ?? '');
const inspect = (statement: string) => inspectors.inspect(statement, 'catalog');
const admin = () => db.admin as Client;

beforeAll(async () => {
  db = await startAdviceDatabase((client) =>
    client.query(`
    CREATE TABLE products (id bigint PRIMARY KEY, tenant_id int NOT NULL, tags text[] NOT NULL,
                           attrs jsonb NOT NULL);
    INSERT INTO products
      SELECT i, i % 200, ARRAY['tag-' || (i % 500), 'tag-' || (i % 37)],
             jsonb_build_object('color', 'c' || (i % 300), 'size', i % 7) || CASE WHEN i % 50 = 0 THEN '{"promo": true}'::jsonb ELSE '{}' END
        FROM generate_series(1, 40000) AS i;
    ANALYZE products;
  `),
  );
});

afterAll(() => stopAdviceDatabase(inspectors, db));

/** The plan of `sql` with values, as JSON text. */
const explain = async (sql: string, values: unknown[]) =>
  JSON.stringify((await admin().query(`EXPLAIN (FORMAT JSON) ${sql}`, values)).rows);

describe('index advice for containment on array and jsonb columns', () => {
  it('keeps the btree for an = filter beside a containment test (before any GIN index is built)', async () => {
    const [p] = (await inspect('SELECT id FROM products WHERE tenant_id = $1 AND tags @> $2')).proposals;
    expect(p.statement).toBe('CREATE INDEX CONCURRENTLY products_tenant_id_idx ON products (tenant_id);');
  });

  it('proposes for x = ANY(tags) the rewrite to tags @> ARRAY[x] and the GIN index that serves it then', async () => {
    const statement = 'SELECT id FROM products WHERE $1 = ANY(tags)';
    const rewritten = 'SELECT id FROM products WHERE tags @> ARRAY[$1]';
    const finding = await inspect(statement);
    expect(finding.skipped).toEqual([]);
    expect(finding.proposals).toHaveLength(1);
    const [p] = finding.proposals;
    expect(p.statement).toBe('CREATE INDEX CONCURRENTLY products_tags_gin_idx ON products USING gin (tags);');
    expect(p.rewrite).toEqual({ from: 'x = ANY(tags)', to: 'tags @> ARRAY[x]' });
    expect(p.plan?.seqScan).toBe(true);
    const action = indexAction(finding.proposals, 80);
    expect(action).toContain(
      'No index serves its x = ANY(tags) as written: change the statement to tags @> ARRAY[x]',
    );
    expect(action).toContain(p.statement);

    await admin().query(p.statement);
    await admin().query('ANALYZE products');
    // As the app writes it, the new index does nothing; rewritten, PostgreSQL reads through it the same rows.
    expect(await explain(statement, ['tag-7'])).not.toContain('products_tags_gin_idx');
    expect(await explain(rewritten, ['tag-7'])).toContain('products_tags_gin_idx');
    const ids = async (sql: string) =>
      (await admin().query(`${sql} ORDER BY id`, ['tag-7'])).rows.map((r: { id: string }) => r.id);
    const rows = await ids(statement);
    expect(rows.length).toBeGreaterThan(0);
    expect(await ids(rewritten)).toEqual(rows);

    // With the index there, the advice is the rewrite alone.
    const again = await inspect(statement);
    expect(again.proposals).toEqual([]);
    expect(again.skipped.map((s) => [s.reason, s.detail])).toEqual([
      [
        'needs-rewrite',
        'existing index products_tags_gin_idx (tags) gin serves tags @> ARRAY[x], but not x = ANY(tags) as the statement writes it: write it tags @> ARRAY[x] (the same rows)',
      ],
    ]);
    await admin().query('DROP INDEX products_tags_gin_idx');
  });

  it('proposes a GIN index for an array containment test, which PostgreSQL then reads', async () => {
    const statement = 'SELECT id FROM products WHERE tags @> $1';
    const finding = await inspect(statement);
    expect(finding.skipped).toEqual([]);
    expect(finding.proposals).toHaveLength(1);
    const [p] = finding.proposals;
    expect(p.statement).toBe('CREATE INDEX CONCURRENTLY products_tags_gin_idx ON products USING gin (tags);');
    expect(p.plan?.seqScan).toBe(true);
    expect(indexAction(finding.proposals, 80)).toContain(
      'check that EXPLAIN shows a Bitmap Index Scan on it',
    );
    expect(p.note).toContain('write it tags @> ARRAY[$1]');
    // An ARRAY of literals, as the sidecar keeps it (one shape for any length).
    const literals = await inspect('SELECT id FROM products WHERE tags @> ARRAY[$1 /*, ... */]');
    expect(literals.proposals.map((x) => x.statement)).toEqual([p.statement]);

    await admin().query(p.statement);
    await admin().query('ANALYZE products');
    expect(await explain(statement, [['tag-7']])).toContain('products_tags_gin_idx');
    // The same index serves an overlap test.
    const overlap = await inspect('SELECT id FROM products WHERE tags && $1');
    expect(overlap.proposals).toEqual([]);
    expect(overlap.skipped.map((s) => s.reason)).toEqual(['covered']);
    expect(await explain('SELECT id FROM products WHERE tags && $1', [['tag-7', 'tag-8']])).toContain(
      'products_tags_gin_idx',
    );
  });

  it('proposes jsonb_path_ops for @> alone, which the key test ? cannot use, and the default class for that', async () => {
    const contains = 'SELECT id FROM products WHERE attrs @> $1';
    const [p] = (await inspect(contains)).proposals;
    expect(p.statement).toBe(
      'CREATE INDEX CONCURRENTLY products_attrs_gin_idx ON products USING gin (attrs jsonb_path_ops);',
    );
    expect(p.note).toContain('jsonb_path_ops');
    await admin().query(p.statement);
    await admin().query('ANALYZE products');
    expect(await explain(contains, ['{"color": "c42"}'])).toContain('products_attrs_gin_idx');
    expect((await inspect(contains)).skipped.map((s) => s.reason)).toEqual(['covered']);

    // A key test: jsonb_path_ops does not serve it, the default jsonb_ops does.
    const hasKey = 'SELECT id FROM products WHERE attrs ? $1';
    const finding = await inspect(hasKey);
    expect(finding.proposals).toHaveLength(1);
    const [keyIndex] = finding.proposals;
    expect(keyIndex.statement).toBe(
      'CREATE INDEX CONCURRENTLY products_attrs_gin_idx2 ON products USING gin (attrs);',
    );
    expect(keyIndex.existingIndexes).toContain('products_attrs_gin_idx (attrs jsonb_path_ops) gin');
    await admin().query(keyIndex.statement);
    await admin().query('ANALYZE products');
    expect(await explain(hasKey, ['promo'])).toContain('products_attrs_gin_idx2');
    expect((await inspect(hasKey)).skipped.map((s) => s.reason)).toEqual(['covered']);
  });
});
