import { beforeAll, describe, expect, it } from 'vitest';
import { extractColumns, loadParser } from '../../src/advise/predicate-columns';

beforeAll(() => loadParser());

const cols = (sql: string) =>
  extractColumns(sql)?.columns.map(
    (c) =>
      `${c.table ? c.table.name : `?${(c.candidates ?? []).map((t) => t.name).join('|')}`}.${c.column}:${c.use}`,
  );

describe('predicate columns from the parse tree', () => {
  it('maps aliases to tables and separates equality, range, join and ORDER BY columns', () => {
    const sql =
      'SELECT o.id FROM orders o JOIN users u ON u.id = o.user_id WHERE o.status = $1 AND o.created_at > $2 ORDER BY o.created_at DESC LIMIT $3';
    expect(cols(sql)).toEqual([
      'users.id:join',
      'orders.user_id:join',
      'orders.status:eq',
      'orders.created_at:range',
      'orders.created_at:order',
    ]);
    expect(extractColumns(sql)?.hasLimit).toBe(true);
  });

  it("reads containment, key and element tests as a GIN index's, with their operator", () => {
    const tests = (sql: string) =>
      extractColumns(sql)?.columns.map((c) => `${c.column}:${c.use}${c.operator ? ` ${c.operator}` : ''}`);
    expect(
      tests(
        'SELECT id FROM p WHERE tags @> $1 AND attrs ? $2 AND $3 = ANY(tags) AND id = ANY($4) AND kind = $5',
      ),
    ).toEqual(['tags:contains @>', 'attrs:contains ?', 'tags:contains = ANY', 'id:eq', 'kind:eq']);
    // Values on both sides: no column to index.
    expect(tests('SELECT id FROM p WHERE $1 = ANY($2)')).toEqual([]);
  });

  it('keeps the direction and non-default NULLS order of each ORDER BY column', () => {
    const order = (sql: string) =>
      extractColumns(sql)
        ?.columns.filter((c) => c.use === 'order')
        .map(({ column, desc, nullsFirst }) => ({ column, desc, nullsFirst }));
    expect(
      order('SELECT * FROM t ORDER BY a DESC, b ASC, c NULLS FIRST, d DESC NULLS LAST, e DESC NULLS FIRST'),
    ).toEqual([
      { column: 'a', desc: true, nullsFirst: undefined },
      { column: 'b', desc: undefined, nullsFirst: undefined },
      { column: 'c', desc: undefined, nullsFirst: true },
      { column: 'd', desc: true, nullsFirst: false },
      { column: 'e', desc: true, nullsFirst: undefined },
    ]);
    // `USING <op>` names an operator, not a direction an index key can spell.
    expect(order('SELECT * FROM t ORDER BY a USING >')).toEqual([]);
  });

  it('resolves ORDER BY positions and output names to the select list', () => {
    expect(cols('SELECT id, created_at FROM orders WHERE status = $1 ORDER BY 2 DESC, 1 LIMIT $2')).toEqual([
      'orders.status:eq',
      'orders.created_at:order',
      'orders.id:order',
    ]);
    expect(extractColumns('SELECT id, created_at FROM orders ORDER BY 2 DESC')?.columns[0].desc).toBe(true);
    expect(cols('SELECT lower(name) AS n FROM users ORDER BY n LIMIT $1')).toEqual([
      'users.lower(name):order',
    ]);
    // An output name wins over an input column of that name, as in PostgreSQL.
    expect(cols('SELECT created_at AS id FROM users ORDER BY id LIMIT $1')).toEqual([
      'users.created_at:order',
    ]);
    // `*`, a position past the list and an aggregate name no column.
    for (const sql of [
      'SELECT * FROM users ORDER BY 1 LIMIT $1',
      'SELECT id FROM users ORDER BY 5 LIMIT $1',
      'SELECT count(*) FROM users ORDER BY 1 LIMIT $1',
    ]) {
      expect(cols(sql), sql).toEqual([]);
    }
  });

  it('reads UPDATE and DELETE targets', () => {
    expect(cols('UPDATE accounts SET name = $1 WHERE email = $2')).toEqual(['accounts.email:eq']);
    expect(cols('DELETE FROM sessions s WHERE s.expires_at < now() AND s.user_id IN ($1, $2)')).toEqual([
      'sessions.expires_at:range',
      'sessions.user_id:eq',
    ]);
  });

  it('counts IN, = ANY, BETWEEN and IS NULL and skips what a plain btree cannot serve', () => {
    expect(
      cols(
        'SELECT * FROM t WHERE a = ANY($1) AND b BETWEEN $2 AND $3 AND c IS NULL AND e LIKE $5 AND f <> $6',
      ),
    ).toEqual(['t.a:eq', 't.b:range', 't.c:eq', 't.e:like']);
    // LIKE and ILIKE (or `~~*`) on a column or an expression are noted (a trigram index serves them); not NOT LIKE.
    expect(
      cols('SELECT * FROM t WHERE a NOT LIKE $1 AND b ILIKE $2 AND lower(c) LIKE lower($3) AND d ~~* $4'),
    ).toEqual(['t.b:ilike', 't.lower(c):like', 't.d:ilike']);
  });

  it('reads expressions over one table as index keys, written from the tree without literals', () => {
    const sql =
      'SELECT u.id FROM users u JOIN events e ON e.user_id = u.id WHERE lower(u.email) = lower($1) AND (e.payload->>$2) = $3 ' +
      'AND coalesce(e.a, e.b) IN ($4, $5) AND date(e.created_at) BETWEEN $6 AND $7 AND $8 = e.created_at::date ORDER BY lower(u.name) DESC';
    expect(cols(sql)).toEqual([
      'events.user_id:join',
      'users.id:join',
      'users.lower(email):eq',
      'events.payload ->> $2:eq',
      'events.coalesce(a, b):eq',
      'events.date(created_at):range',
      'events.created_at::date:eq',
      'users.lower(name):order',
    ]);
    const [, , lower, payload] = extractColumns(sql)?.columns ?? [];
    expect(lower.expression).toEqual({
      columns: ['email'],
      hasParameter: false,
      functionLike: true,
      calls: [{ kind: 'function', name: ['lower'], args: ['email'] }],
    });
    expect(payload.expression).toMatchObject({
      columns: ['payload'],
      hasParameter: true,
      functionLike: false,
    });
  });

  it('leaves out expressions over two tables, literals and unknown forms, and keeps unqualified ones for the catalog', () => {
    expect(
      cols(
        "SELECT * FROM a, b WHERE lower(x) = $1 AND upper(a.y || b.z) = $2 AND f(a.q, 'lit') = $3 AND (CASE WHEN a.k THEN 1 END) = $4",
      ),
    ).toEqual(['?a|b.lower(x):eq']);
  });

  it('skips OR branches', () => {
    expect(cols('SELECT * FROM t WHERE a = $1 AND (x = $2 OR y = $3)')).toEqual(['t.a:eq']);
  });

  it('leaves an unqualified column of a multi-table query to the catalog', () => {
    expect(cols('SELECT * FROM a, b WHERE a.id = b.a_id AND x = $1')).toEqual([
      'a.id:join',
      'b.a_id:join',
      '?a|b.x:eq',
    ]);
  });

  it('does not take CTE names or subqueries for tables and scopes subqueries', () => {
    // A CTE PostgreSQL inlines that passes one table through: the filters on it are the table's.
    const sql =
      'WITH recent AS (SELECT * FROM orders WHERE created_at > $1) SELECT * FROM recent r JOIN items i ON i.order_id = r.id WHERE r.customer_id = $2';
    expect(extractColumns(sql)?.tables.map((t) => t.name)).toEqual(['orders', 'items']);
    expect(cols(sql)).toEqual([
      'orders.created_at:range',
      'items.order_id:join',
      'orders.id:join',
      'orders.customer_id:eq',
    ]);
    // Not when it is materialized: explicitly, by a second reference, or as an aggregate, a LIMIT or a rename.
    for (const kept of [
      'WITH recent AS MATERIALIZED (SELECT * FROM orders WHERE created_at > $1) SELECT * FROM recent r WHERE r.customer_id = $2',
      'WITH recent AS (SELECT * FROM orders WHERE created_at > $1) SELECT * FROM recent r WHERE r.customer_id = $2 AND EXISTS (SELECT 1 FROM recent x WHERE x.id = r.id + 1)',
      'WITH recent AS (SELECT customer_id, count(*) AS n FROM orders WHERE created_at > $1 GROUP BY customer_id) SELECT * FROM recent r WHERE r.customer_id = $2',
      'WITH recent AS (SELECT * FROM orders WHERE created_at > $1 LIMIT 100) SELECT * FROM recent r WHERE r.customer_id = $2',
      'WITH recent AS (SELECT account AS customer_id FROM orders WHERE created_at > $1) SELECT * FROM recent r WHERE r.customer_id = $2',
    ])
      expect(cols(kept)).not.toContain('orders.customer_id:eq');
    // NOT MATERIALIZED is inlined even when read twice; a subquery in FROM is pulled up alike.
    expect(
      cols(
        'WITH recent AS NOT MATERIALIZED (SELECT id, customer_id FROM orders) SELECT * FROM recent r JOIN recent s ON s.id = r.id WHERE r.customer_id = $1',
      ),
    ).toContain('orders.customer_id:eq');
    expect(cols('SELECT * FROM (SELECT * FROM orders) o WHERE o.customer_id = $1')).toEqual([
      'orders.customer_id:eq',
    ]);
    expect(
      cols('SELECT * FROM items WHERE order_id IN (SELECT id FROM orders WHERE customer_id = $1)'),
    ).toEqual(['items.order_id:join', 'orders.customer_id:eq']);
  });

  it('keeps schema-qualified tables', () => {
    expect(
      extractColumns('SELECT * FROM app.accounts WHERE app.accounts.email = $1')?.columns[0].table,
    ).toEqual({
      schema: 'app',
      name: 'accounts',
    });
  });

  it('returns nothing for INSERT, several statements and unparsable text', () => {
    expect(extractColumns('INSERT INTO t VALUES ($1)')).toBeUndefined();
    expect(extractColumns('SELECT 1; SELECT 2')).toBeUndefined();
    expect(extractColumns('SELEC broken')).toBeUndefined();
  });
});
