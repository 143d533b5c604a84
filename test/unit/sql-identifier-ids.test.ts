import { beforeAll, describe, expect, it } from 'vitest';
import { SqlFingerprinter } from '../../src/sql';
import { templateIdentifier, templateNamesInText } from '../../src/sql/identifier-ids';
import { hashCanonical, rewriteIdentifierIds, scanSql } from '../../src/sql/sql-scanner';

describe('the id parts of an identifier', () => {
  it.each([
    ['tenant_42', 'tenant_*'],
    ['events_2024_11', 'events_*_*'],
    ['chan_123', 'chan_*'],
    ['_7', '_*'],
    ['42', '*'],
    ['user_42_files', 'user_*_files'],
    ['sp_8f3a9c2e', 'sp_*'],
    ['sp_8f3a9c2e-1b2c-4d5e-8f90-123456789abc', 'sp_*'],
    ['8F3A9C2E_1B2C_4D5E_8F90_123456789ABC', '*'],
    ['tmp_import_8f3a9c2e1b2c4d5e8f90123456789abc', 'tmp_import_*'],
    ['tenant_42.orders', 'tenant_*.orders'],
    ['"tenant_42"', '"tenant_*"'],
    ['address_line_1', 'address_line_*'],
  ])('%s → %s', (name, templated) => {
    expect(templateIdentifier(name)).toBe(templated);
  });

  it.each([
    'table1',
    'v2',
    'utf8',
    'md5',
    'sha256',
    'ipv4',
    'int4',
    'oauth2_tokens',
    'utf8mb4_unicode_ci',
    'x509_certs',
    'is_2fa_enabled',
    't0',
    'j1',
    'user0_',
    'a1b2c3d',
    'facade',
    'deadbeef',
    'orders',
    // Hex-like runs of fewer than 8 characters and dashed groups that are not a UUID's 8-4-4-4-12.
    'ab12-cd34',
  ])('%s stays as written', (name) => {
    expect(templateIdentifier(name)).toBe(name);
  });

  it('uses the mark it is given', () => {
    expect(templateIdentifier('tenant_42', '0')).toBe('tenant_0');
  });
});

describe("names in the advisor's text", () => {
  it.each([
    [
      'CREATE INDEX CONCURRENTLY events_2024_11_user_id_idx ON tenant_42.orders (customer_id);',
      'CREATE INDEX CONCURRENTLY events_*_*_user_id_idx ON tenant_*.orders (customer_id);',
    ],
    [
      'relation "8f3a9c2e-1b2c-4d5e-8f90-123456789abc.orders" does not exist',
      'relation "*.orders" does not exist',
    ],
    ["the table's rows in tenant_42", "the table's rows in tenant_*"],
    ['Limit > Seq Scan on events_2024_11', 'Limit > Seq Scan on events_*_*'],
  ])('%s → %s', (text, templated) => {
    expect(templateNamesInText(text)).toBe(templated);
  });

  it('leaves numbers, figures and names without id parts', () => {
    const text = 'p95 1.5ms over ~1200 rows since 2024-11-05 at $1; md5, sha256, oauth2_tokens';
    expect(templateNamesInText(text)).toBe(text);
  });
});

describe('identifiers in SQL text', () => {
  it('templates bare and quoted names but never literals, parameters or comments', () => {
    const text = `SELECT t.a FROM tenant_42."orders_2024" t WHERE x = 'tenant_7' AND y = $12 /* tenant_9 */`;
    expect(rewriteIdentifierIds(text, 'pg', '*')).toBe(
      `SELECT t.a FROM tenant_*."orders_*" t WHERE x = 'tenant_7' AND y = $12 /* tenant_9 */`,
    );
    expect(scanSql(text, 'pg', true)).toBe(
      'SELECT t.a FROM tenant_*."orders_*" t WHERE x = \u0001 AND y = \u000212',
    );
    expect(scanSql(text, 'pg')).toContain('tenant_42."orders_2024"');
  });

  it('templates MySQL backquoted names; "…" is a literal there', () => {
    expect(rewriteIdentifierIds('SELECT * FROM `tenant_42`.t WHERE a = "tenant_7"', 'mysql', '*')).toBe(
      'SELECT * FROM `tenant_*`.t WHERE a = "tenant_7"',
    );
  });

  it('hashes two texts alike exactly when scanSql writes them alike', () => {
    const pairs = [
      ['SELECT * FROM tenant_42.orders WHERE id = 5', 'SELECT * FROM tenant_7.orders WHERE id = 6'],
      [
        'SELECT * FROM "tenant_42"."orders_2024_01" o WHERE o.id = $1',
        'SELECT * FROM "tenant_9"."orders_2023_12" o WHERE o.id = $1',
      ],
      [
        'SAVEPOINT "sp_8f3a9c2e-1b2c-4d5e-8f90-123456789abc"',
        'SAVEPOINT "sp_00000000-1b2c-4d5e-8f90-123456789abc"',
      ],
      ['SELECT * FROM "tenant_42 ', 'SELECT * FROM "tenant_7 '],
    ];
    const hash = (text: string, ids: boolean) => {
      const into = new Int32Array(3);
      hashCanonical(text, 'pg', into, ids);
      return [...into];
    };
    for (const [a, b] of pairs) {
      for (const ids of [false, true]) {
        expect(hash(a, ids)[2], a).toBe(scanSql(a, 'pg', ids).length);
        const same = scanSql(a, 'pg', ids) === scanSql(b, 'pg', ids);
        expect(same, a).toBe(ids);
        expect(hash(a, ids) === hash(b, ids) || hash(a, ids).join() === hash(b, ids).join(), a).toBe(same);
      }
    }
  });
});

describe('names and columns', () => {
  const ids = (text: string) => scanSql(text, 'pg', true).replaceAll('\u0001', '?').replaceAll('\u0002', '$');
  it.each([
    [
      'SELECT address_line_1, c.address_line_2 FROM tenant_42.customers c WHERE c.address_line_1 = $1 ORDER BY address_line_2 DESC, top_10 LIMIT 5',
      'SELECT address_line_1, c.address_line_2 FROM tenant_*.customers c WHERE c.address_line_1 = $1 ORDER BY address_line_2 DESC, top_10 LIMIT ?',
    ],
    [
      'INSERT INTO events_2024_11 (address_line_1, q4_total) VALUES ($1, $2) RETURNING address_line_1',
      'INSERT INTO events_*_* (address_line_1, q4_total) VALUES ($1, $2) RETURNING address_line_1',
    ],
    [
      'UPDATE tenant_7.customers SET address_line_1 = $1, address_line_2 = lower(address_line_3) WHERE id = $3',
      'UPDATE tenant_*.customers SET address_line_1 = $1, address_line_2 = lower(address_line_3) WHERE id = $3',
    ],
    [
      'SELECT a.x FROM events_2024_11 a, events_2024_12 AS b JOIN orders_7 o ON o.id = a.order_1 WHERE b.y IN (a.z_1)',
      'SELECT a.x FROM events_*_* a, events_*_* AS b JOIN orders_* o ON o.id = a.order_1 WHERE b.y IN (a.z_1)',
    ],
    [
      'SELECT "Customer"."address_line_1" AS "Customer_address_line_1" FROM "tenant_42"."customers" "Customer"',
      'SELECT "Customer"."address_line_1" AS "Customer_address_line_1" FROM "tenant_*"."customers" "Customer"',
    ],
    ['SET search_path = tenant_42, public', 'SET search_path = tenant_*, public'],
    ['SET search_path TO tenant_42', 'SET search_path TO tenant_*'],
    [
      'SELECT address_line_1 FROM t; SAVEPOINT sp_8f3a9c2e; LISTEN chan_123; TRUNCATE a_1, b_2',
      'SELECT address_line_1 FROM t; SAVEPOINT sp_*; LISTEN chan_*; TRUNCATE a_*, b_*',
    ],
    ['tenant_42.orders', 'tenant_*.orders'],
  ])('%s → %s', (text, templated) => {
    expect(ids(text)).toBe(templated);
    expect(rewriteIdentifierIds(text, 'pg', '*').replace(/'[^']*'|\b\d+\b/g, '?')).toBe(
      templated.replace(/\b\d+\b/g, '?'),
    );
  });

  it('keeps the columns of an ORM-long select list', () => {
    const columns = Array.from({ length: 40 }, (_, i) => `"User"."col_${i}" AS "User_col_${i}"`).join(', ');
    const text = `SELECT ${columns}, "User"."address_line_1" AS "User_address_line_1" FROM "tenant_9"."users" "User"`;
    const out = ids(text);
    expect(out).toContain('"User"."address_line_1" AS "User_address_line_1"');
    expect(out).toContain('"User"."col_39"');
    expect(out).toContain('FROM "tenant_*"."users"');
  });
});

describe('fingerprints across tenants', () => {
  let fp: SqlFingerprinter;
  beforeAll(async () => {
    fp = await SqlFingerprinter.create({ cacheEntries: 1000, maxParseBytes: 64 * 1024 });
  });
  const pg = (text: string) => fp.fingerprint('postgresql', text);

  it.each([
    [
      'SELECT tenant_1.orders.id FROM tenant_1.orders WHERE tenant_1.orders.customer_id = $1',
      'SELECT tenant_2.orders.id FROM tenant_2.orders WHERE tenant_2.orders.customer_id = $1',
      'SELECT tenant_*.orders.id FROM tenant_*.orders WHERE tenant_*.orders.customer_id = $1',
    ],
    ['SELECT tenant_3.total($1)', 'SELECT tenant_4.total($1)', 'SELECT tenant_*.total($1)'],
    ['COPY tenant_5.orders FROM STDIN', 'COPY tenant_6.orders FROM STDIN', 'COPY tenant_*.orders FROM STDIN'],
    ['TRUNCATE tenant_5.carts', 'TRUNCATE tenant_6.carts', 'TRUNCATE tenant_*.carts'],
    ['SELECT * FROM user_7_files', 'SELECT * FROM user_8_files', 'SELECT * FROM user_*_files'],
    ['LISTEN chan_123', 'LISTEN chan_456', 'LISTEN chan_*'],
    ['SAVEPOINT sp_8f3a9c2e', 'SAVEPOINT sp_1b2c3d4e', 'SAVEPOINT sp_*'],
    [
      'SELECT * FROM events_2024_11 WHERE user_id = $1',
      'SELECT * FROM events_2024_12 WHERE user_id = $1',
      'SELECT * FROM events_*_* WHERE user_id = $1',
    ],
  ])('%s and %s are one shape, shown as %s', (a, b, statement) => {
    const one = pg(a);
    const two = pg(b);
    expect(two.fingerprint).toBe(one.fingerprint);
    expect(one.statement).toBe(statement);
    expect(two.statement).toBe(statement);
  });

  it('keeps numbered columns apart and as written', () => {
    const one = pg('SELECT id FROM tenant_1.customers WHERE address_line_1 = $1');
    const two = pg('SELECT id FROM tenant_2.customers WHERE address_line_2 = $1');
    expect(two.fingerprint).not.toBe(one.fingerprint);
    expect(one.statement).toBe('SELECT id FROM tenant_*.customers WHERE address_line_1 = $1');
    expect(pg('SELECT id FROM tenant_3.customers WHERE address_line_1 = $1').fingerprint).toBe(
      one.fingerprint,
    );
    expect(pg('SELECT address_line_1 FROM customers').statement).toBe('SELECT address_line_1 FROM customers');
  });

  it('names the templated table and keeps the statement as written only as a hidden sample', () => {
    const shape = pg('SELECT * FROM tenant_31.invoices WHERE id = $1');
    expect(shape.table).toBe('tenant_*.invoices');
    expect(JSON.stringify(shape)).not.toContain('31');
    expect(fp.sampleStatement(shape.fingerprint)).toBe('SELECT * FROM tenant_31.invoices WHERE id = $1');
    expect(fp.sampleStatement(pg('SELECT * FROM plain_invoices WHERE id = $1').fingerprint)).toBeUndefined();
  });

  it('templates text PostgreSQL rejects and other databases', () => {
    expect(pg('SELECT * FROM tenant_42.orders WHERE id = 5 AND').statement).toBe(
      'SELECT * FROM tenant_*.orders WHERE id = $1 AND',
    );
    const a = fp.fingerprint('mysql', 'SELECT * FROM tenant_42.orders WHERE id = 5');
    const b = fp.fingerprint('mysql', 'SELECT * FROM tenant_43.orders WHERE id = 6');
    expect(b.fingerprint).toBe(a.fingerprint);
    expect(a).toMatchObject({
      statement: 'SELECT * FROM tenant_*.orders WHERE id = $1',
      table: 'tenant_*.orders',
    });
  });

  it('parses each shape once for all tenants', () => {
    const before = fp.stats().misses;
    for (let t = 100; t < 140; t++) pg(`SELECT name FROM tenant_${t}.products WHERE sku = $1`);
    expect(fp.stats().misses - before).toBe(1);
  });

  it('keeps names as written with sql.templateIds off', async () => {
    const off = await SqlFingerprinter.create({
      cacheEntries: 100,
      maxParseBytes: 64 * 1024,
      templateIds: false,
    });
    const shape = off.fingerprint('postgresql', 'SELECT tenant_9.orders.id FROM tenant_9.orders');
    expect(shape.statement).toBe('SELECT tenant_9.orders.id FROM tenant_9.orders');
    expect(shape.table).toBe('tenant_9.orders');
    expect(off.templateName('tenant_9.orders')).toBe('tenant_9.orders');
    expect(fp.templateName('tenant_9.orders')).toBe('tenant_*.orders');
  });
});
