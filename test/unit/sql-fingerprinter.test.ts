import { beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../scripts/lib/seeded-random';
import { SqlFingerprinter } from '../../src/sql';

let fp: SqlFingerprinter;
beforeAll(async () => {
  fp = await SqlFingerprinter.create({ cacheEntries: 1000, maxParseBytes: 64 * 1024 });
});

const pg = (text: string) => fp.fingerprint('postgresql', text);

/** Literal values used below; none may survive into a statement. */
const SECRETS = [
  's3cr3t',
  'alice@example.com',
  '90210',
  '4242',
  '2024-05-06',
  'hunter2',
  "O'Brien",
  'dollar body',
  '/tmp/export.csv',
  '31337',
];

function expectNoLiterals(statement: string): void {
  for (const s of SECRETS) expect(statement).not.toContain(s);
  expect(statement).not.toMatch(/'/);
  // Digits only inside $n placeholders or identifiers.
  expect(statement.replace(/\$\d+/g, '')).not.toMatch(/(?<![\w$])\d/);
}

describe('statements never hold a literal', () => {
  const cases = [
    "SELECT * FROM users WHERE name = 's3cr3t' AND email = 'alice@example.com'",
    'SELECT * FROM users WHERE zip = 90210 AND balance > -4242.5',
    "SELECT * FROM orders WHERE created_at >= '2024-05-06'::date AND at < date '2024-05-06'",
    'SELECT * FROM users WHERE id IN (90210, 4242, 31337)',
    "SELECT * FROM users WHERE last_name = 'O''Brien' OR nick = E'O\\'Brien'",
    'SELECT $$dollar body$$, $tag$dollar body$tag$ FROM t',
    "INSERT INTO users (email, zip) VALUES ('alice@example.com', 90210), ('s3cr3t', 4242)",
    "UPDATE users SET pw = 'hunter2' WHERE id = 31337 /* user='alice@example.com' */",
    "COMMENT ON TABLE users IS 's3cr3t'",
    "COPY users FROM '/tmp/export.csv'",
    "PREPARE q AS SELECT * FROM users WHERE pw = 'hunter2'",
    "CREATE TABLE t (a text DEFAULT 's3cr3t', b int DEFAULT 90210)",
    "ALTER ROLE app PASSWORD 'hunter2'",
    "DO $$ BEGIN RAISE NOTICE 'dollar body'; END $$",
    "SELEC broken syntax WHERE x = 's3cr3t' AND y = 90210",
  ];
  for (const text of cases) {
    it(`keeps no literal from: ${text.slice(0, 60)}`, () => {
      const shape = pg(text);
      expectNoLiterals(shape.statement);
    });
  }

  it('keeps no literal in the fallback normalizer for other databases', () => {
    for (const system of ['mysql', 'mssql', 'sqlite']) {
      for (const text of cases) expectNoLiterals(fp.fingerprint(system, text).statement);
    }
  });

  it('keeps no literal from generated statements in any literal syntax, for any dialect', () => {
    let seed = 7;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return (seed >>> 8) % n;
    };
    const forms = [
      (v: string) => `'${v}'`,
      (v: string) => `E'${v}\\'x'`,
      (v: string) => `'${v}''s'`,
      (v: string) => `$$${v}$$`,
      (v: string) => `$q$${v} 'inner'$q$`,
      (v: string) => `'${v}@example.com'`,
      (v: string) => `'2024-01-0${v.length % 9}T${v}'::timestamptz`,
      (v: string) => `interval '${v} days'`,
    ];
    const secrets: string[] = [];
    const sql: string[] = [];
    for (let q = 0; q < 200; q++) {
      const secret = `zq${rand(1e6)}x${q}`;
      const num = String(1_000_000 + rand(8_000_000));
      secrets.push(secret, num);
      const value = forms[rand(forms.length)](secret);
      sql.push(
        [
          `SELECT a, b FROM t${q % 5} WHERE c = ${value} AND d = -${num}.5`,
          `INSERT INTO t (a, b) VALUES (${value}, ${num}), (${num}, ${value}) /* ${secret} */`,
          `UPDATE t SET a = ${value} WHERE id IN (${num}, ${num}, ${num}) -- ${secret}`,
          `DELETE FROM t WHERE a = ${value} OR b = 0x${num}`,
        ][q % 4],
      );
    }
    for (const system of ['postgresql', 'mysql', 'mssql']) {
      for (const text of sql) {
        const { statement } = fp.fingerprint(system, text);
        for (const secret of secrets) if (statement.includes(secret)) expect.fail(`${system}: ${statement}`);
        expect(statement).not.toMatch(/\d{5}/);
      }
    }
  });

  it('keeps ORDER BY and GROUP BY positions, which name select-list columns, and nothing else', () => {
    expect(
      pg(
        "SELECT status, count(*) FROM t WHERE zip = 90210 AND name = 's3cr3t' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10",
      ).statement,
    ).toBe(
      'SELECT status, count(*) FROM t WHERE zip = $1 AND name = $2 GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT $3',
    );
    expect(pg('SELECT * FROM (SELECT a FROM t ORDER BY 1 LIMIT 4242) s ORDER BY 1').statement).toBe(
      'SELECT * FROM (SELECT a FROM t ORDER BY 1 LIMIT $1) s ORDER BY 1',
    );
    // In a window or an expression an integer is a value.
    expect(pg('SELECT a, row_number() OVER (ORDER BY 31337) FROM t ORDER BY 90210 + 1, 1').statement).toBe(
      'SELECT a, row_number() OVER (ORDER BY $1) FROM t ORDER BY $2 + $3, 1',
    );
  });

  it('drops comments, which may carry request data', () => {
    const shape = pg("SELECT 1 /* traceparent='00-abc-def-01',route='/users/31337' */ -- s3cr3t");
    expect(shape.statement).toBe('SELECT $1');
  });
});

describe('fingerprint', () => {
  it('is the same for different literals, $n parameters and inline values', () => {
    const a = pg("SELECT * FROM users WHERE id = 1 AND name = 'x'");
    expect(pg("SELECT * FROM users WHERE id = 2 AND name = 'y'").fingerprint).toBe(a.fingerprint);
    expect(pg('SELECT * FROM users WHERE id = $1 AND name = $2').fingerprint).toBe(a.fingerprint);
  });

  it('is the same for different IN-list and VALUES lengths', () => {
    const a = pg('SELECT * FROM users WHERE id IN (1)');
    expect(pg('SELECT * FROM users WHERE id IN (1, 2, 3, 4)').fingerprint).toBe(a.fingerprint);
    expect(pg('SELECT * FROM users WHERE id IN ($1, $2)').fingerprint).toBe(a.fingerprint);
    const v = pg('INSERT INTO t (a) VALUES (1)');
    expect(pg('INSERT INTO t (a) VALUES (1), (2), (3)').fingerprint).toBe(v.fingerprint);
  });

  it("differs between col = x and col IN (…), as in pg_stat_statements (an ORM's lazy look-up and its batched fetch)", () => {
    // Sequelize: getUser() per row, then User.findAll({ where: { id: ids } }), literals inlined.
    const select = 'SELECT "id", "email" FROM "users" AS "User" WHERE "User"."id"';
    const one = pg(`${select} = 1234;`);
    const list = pg(`${select} IN (12, 34);`);
    expect(list.fingerprint).not.toBe(one.fingerprint);
    expect(list.statement).toContain('IN ($1 /*, ... */)');
    expect(pg(`${select} IN (5);`).fingerprint).toBe(list.fingerprint);
    expect(pg(`${select} = 77;`).fingerprint).toBe(one.fingerprint);
    // Which comparison is the list matters too.
    const a = pg('SELECT * FROM t WHERE a IN (1, 2) AND b = 3').fingerprint;
    expect(pg('SELECT * FROM t WHERE a = 1 AND b IN (2, 3)').fingerprint).not.toBe(a);
    expect(pg('SELECT * FROM t WHERE a IN ($1) AND b = $2').fingerprint).toBe(a);
    expect(a).toMatch(/^[0-9a-f]{16}$/);
  });

  it('differs between col = $1 and col = ANY($1), the batched form the N+1 advice proposes', () => {
    const select = 'SELECT id, email FROM users WHERE id';
    const one = pg(`${select} = $1`).fingerprint;
    const any = pg(`${select} = ANY($1)`).fingerprint;
    expect(any).not.toBe(one);
    expect(any).not.toBe(pg(`${select} IN ($1, $2)`).fingerprint);
    expect(pg(`${select} = ANY($2)`).fingerprint).toBe(any);
  });

  it('is the same across whitespace, comments and keyword case', () => {
    const a = pg('SELECT a FROM t WHERE b = 1');
    expect(pg('select  a\n from t -- note\n where b=2').fingerprint).toBe(a.fingerprint);
    expect(pg('/* app:web */ SELECT a FROM t WHERE b = 3').fingerprint).toBe(a.fingerprint);
  });

  it('differs for different tables, columns, operators and connectives', () => {
    const base = pg('SELECT a FROM t WHERE b = 1 AND c = 2').fingerprint;
    const others = [
      'SELECT a FROM u WHERE b = 1 AND c = 2',
      'SELECT z FROM t WHERE b = 1 AND c = 2',
      'SELECT a FROM t WHERE b > 1 AND c = 2',
      'SELECT a FROM t WHERE b = 1 OR c = 2',
    ].map((t) => pg(t).fingerprint);
    expect(new Set([base, ...others]).size).toBe(5);
  });

  it('is 16 hex digits from the parser or from the fallback', () => {
    expect(pg('SELECT 1').fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(fp.fingerprint('mysql', 'SELECT 1').fingerprint).toMatch(/^[0-9a-f]{16}$/);
  });

  it('reports one statement text for every text of one shape', () => {
    const a = pg('SELECT * FROM shared_shape WHERE id IN (1, 2, 3)');
    const b = pg('select * from shared_shape where id in ($1)');
    expect(b.statement).toBe(a.statement);
  });
});

describe('operation and table', () => {
  const cases: Array<[string, string, string]> = [
    ['SELECT * FROM users WHERE id = 1', 'SELECT', 'users'],
    ['SELECT * FROM app.users u JOIN orders o ON o.uid = u.id', 'SELECT', 'app.users'],
    ['INSERT INTO audit.log (a) VALUES (1)', 'INSERT', 'audit.log'],
    ['UPDATE accounts SET balance = 0 WHERE id = 1', 'UPDATE', 'accounts'],
    ['DELETE FROM sessions WHERE expires < now()', 'DELETE', 'sessions'],
    ['WITH x AS (SELECT * FROM a.b) UPDATE c SET d = 1 FROM x', 'UPDATE', 'c'],
    ['WITH recent AS (SELECT * FROM orders) SELECT count(*) FROM recent', 'SELECT', 'orders'],
    ['SELECT (SELECT max(id) FROM inner_t) FROM outer_t', 'SELECT', 'outer_t'],
    ['(SELECT a FROM t1) UNION (SELECT a FROM t2)', 'SELECT', 't1'],
    ['BEGIN; UPDATE t SET a = 1; COMMIT', 'UPDATE', 't'],
    ['BEGIN', 'BEGIN', ''],
    ['ROLLBACK', 'ROLLBACK', ''],
    ["SET statement_timeout = '5s'", 'SET', ''],
    ['TRUNCATE logs', 'TRUNCATE', 'logs'],
    ['CREATE INDEX i ON t (a)', 'CREATE', 't'],
    ['EXPLAIN SELECT * FROM t', 'EXPLAIN', 't'],
    ['SELECT 1', 'SELECT', ''],
    ["SELECT nextval('seq')", 'SELECT', ''],
  ];
  for (const [text, operation, table] of cases) {
    it(`reads ${operation} on '${table}' from: ${text}`, () => {
      const shape = pg(text);
      expect(shape.parsed).toBe(true);
      expect({ operation: shape.operation, table: shape.table }).toEqual({ operation, table });
    });
  }
});

describe('fallback', () => {
  it('normalizes text the PostgreSQL parser rejects, marking it unparsed', () => {
    const shape = pg("SELEC * FRM users WHERE id = 42 AND name = 'bob'");
    expect(shape.parsed).toBe(false);
    expect(shape.statement).toBe('SELEC * FRM users WHERE id = $1 AND name = $2');
  });

  it('normalizes other databases and gives equal fingerprints across literals, ? and spacing', () => {
    const a = fp.fingerprint('mysql', "SELECT * FROM `orders` WHERE id = 7 AND s = 'x'");
    const b = fp.fingerprint('mysql', 'select * from `orders` where id=? and s=?');
    expect(a.parsed).toBe(false);
    expect(b.fingerprint).toBe(a.fingerprint);
    expect(a).toMatchObject({
      statement: 'SELECT * FROM `orders` WHERE id = $1 AND s = $2',
      operation: 'SELECT',
      table: 'orders',
    });
    expect(fp.fingerprint('mysql', 'SELECT * FROM invoices WHERE id = 7').fingerprint).not.toBe(
      a.fingerprint,
    );
  });

  it('finds the verb and table of common statements without a parser', () => {
    const cases: Array<[string, string, string]> = [
      ['INSERT INTO db1.items (a) VALUES (?)', 'INSERT', 'db1.items'],
      ['UPDATE LOW_PRIORITY items SET a = 1', 'UPDATE', 'items'],
      ['DELETE FROM [dbo].[carts] WHERE id = 3', 'DELETE', 'dbo.carts'],
      ['WITH r AS (SELECT * FROM a) SELECT * FROM r JOIN b ON b.id = r.id', 'SELECT', 'a'],
      ['SELECT * FROM (SELECT * FROM inner_t) x', 'SELECT', 'inner_t'],
    ];
    for (const [text, operation, table] of cases) {
      expect(fp.fingerprint('mssql', text)).toMatchObject({ operation, table, parsed: false });
    }
  });

  it('keeps no literal of a rejected text whose string escapes a quote with a backslash', () => {
    // standard_conforming_strings off, or MySQL-style escaping: 'x\'SECRET' is one string to the
    // server, but the parser's reading ('x\' then SECRET) rejects it and the scanner's showed SECRET.
    for (const text of [
      "SELECT * FROM users WHERE email = 'x\\'SECRET_BS_1'",
      "SELECT * FROM users WHERE note = 'it\\'s SECRET_BS_2\\'s' AND id = 7",
      "SELEC * FROM users WHERE a = 'x\\' || 'SECRET_BS_3'",
      "SELECT * FROM users WHERE a = N'x\\'SECRET_BS_4'",
    ]) {
      const shape = pg(text);
      expect(shape.parsed).toBe(false);
      expect(shape.statement).not.toMatch(/SECRET|x/);
    }
    expect(pg("SELECT * FROM users WHERE email = 'x\\'SECRET_BS_1' LIMIT 3").statement).toBe(
      'SELECT * FROM users WHERE email = $1',
    );
  });

  it('reads a rejected text without backslashes in its strings as before', () => {
    expect(pg("SELEC * FROM users WHERE a = E'\\'' AND b = 'y'").statement).toBe(
      'SELEC * FROM users WHERE a = $1 AND b = $2',
    );
  });

  it('uses the fallback for texts over maxParseBytes and still strips their literals', async () => {
    const small = await SqlFingerprinter.create({ cacheEntries: 10, maxParseBytes: 100 });
    const text = `SELECT * FROM t WHERE a = 's3cr3t' AND b IN (${Array.from({ length: 50 }, (_, i) => i).join(',')})`;
    const shape = small.fingerprint('postgresql', text);
    expect(shape.parsed).toBe(false);
    expectNoLiterals(shape.statement);
  });
});

describe('cache', () => {
  it('serves texts that differ only in literals and comments from one entry', async () => {
    const f = await SqlFingerprinter.create({ cacheEntries: 10, maxParseBytes: 64 * 1024 });
    for (let i = 0; i < 100; i++) {
      f.fingerprint(
        'postgresql',
        `/*traceparent='00-${i}-01'*/ SELECT * FROM t WHERE id = ${i} AND s IN (${'1,'.repeat(i)}0)`,
      );
    }
    expect(f.stats()).toMatchObject({ misses: 1, hits: 99, cacheEntries: 1 });
  });

  it('never holds more than cacheEntries shapes and evicts the least recently used', async () => {
    const f = await SqlFingerprinter.create({ cacheEntries: 5, maxParseBytes: 64 * 1024 });
    for (let i = 0; i < 50; i++) {
      f.fingerprint('postgresql', `SELECT c${i} FROM t`);
      f.fingerprint('postgresql', 'SELECT kept FROM t'); // used every round, never evicted
      expect(f.stats().cacheEntries).toBeLessThanOrEqual(5);
    }
    const before = f.stats();
    f.fingerprint('postgresql', 'SELECT kept FROM t');
    f.fingerprint('postgresql', 'SELECT c0 FROM t');
    expect(f.stats().hits - before.hits).toBe(1);
    expect(f.stats().misses - before.misses).toBe(1);
  });

  it('remembers raw texts only when they hold no literal and no comment', async () => {
    const f = await SqlFingerprinter.create({ cacheEntries: 10, maxParseBytes: 64 * 1024 });
    for (let i = 0; i < 20; i++) {
      f.fingerprint('postgresql', 'SELECT * FROM t WHERE id = $1');
      f.fingerprint('postgresql', `SELECT * FROM t WHERE id = ${i}`);
      f.fingerprint('postgresql', `SELECT * FROM t WHERE id = $1 /* request ${i} */`);
    }
    expect(f.exactEntries()).toBe(1);
    // One parse for the $1 form, one for the inline-literal form; everything else is a hit.
    expect(f.stats()).toMatchObject({ misses: 2, hits: 58 });
  });

  it('remembers a literal-bearing text once it repeats, also when two alternate', async () => {
    const f = await SqlFingerprinter.create({ cacheEntries: 10, maxParseBytes: 64 * 1024 });
    const limit = 'SELECT * FROM orders WHERE customer_id = $1 ORDER BY id DESC LIMIT 10';
    const active = "SELECT * FROM jobs WHERE state = 'active'";
    const done = "SELECT * FROM jobs WHERE state = 'done'";
    const first = f.fingerprint('postgresql', limit);
    expect(f.exactEntries()).toBe(0);
    expect(f.fingerprint('postgresql', limit)).toBe(first);
    expect(f.exactEntries()).toBe(1);
    for (let i = 0; i < 3; i++) {
      f.fingerprint('postgresql', active);
      f.fingerprint('postgresql', done);
    }
    expect(f.exactEntries()).toBe(3);
    // Served from the exact map now: the same shape as a cold fingerprinter gives.
    const cold = await SqlFingerprinter.create({ cacheEntries: 10, maxParseBytes: 64 * 1024 });
    expect(f.fingerprint('postgresql', done)).toEqual(cold.fingerprint('postgresql', done));
    expect(f.fingerprint('postgresql', limit)).toBe(first);
  });

  it('gives a parameterized text the same shape from the raw-text path as from the scan', async () => {
    const f = await SqlFingerprinter.create({ cacheEntries: 10, maxParseBytes: 64 * 1024 });
    const first = f.fingerprint('postgresql', 'SELECT a FROM t WHERE b = $1');
    expect(f.fingerprint('postgresql', 'SELECT a FROM t WHERE b = $1')).toBe(first);
    expect(f.fingerprint('postgresql', 'SELECT a FROM t WHERE b = 7')).toBe(first);
  });

  it('serves literal-bearing texts by canonical hash with the shape a cold scan and parse give', async () => {
    const warm = await SqlFingerprinter.create({ cacheEntries: 100, maxParseBytes: 64 * 1024 });
    const forms = [
      (n: number) => `SELECT a, b FROM t WHERE id = ${n} AND s = 'k${n}'`,
      (n: number) => `UPDATE t SET v = '{"n":${n}}' WHERE id IN (${n}, ${n + 1})`,
      (n: number) => `INSERT INTO t (a, b) VALUES (${n}, $$${n}$$) /* req ${n} */`,
      (n: number) => `DELETE FROM t WHERE a = E'x\\'${n}' AND b = $1`,
    ];
    for (let n = 0; n < 40; n++) for (const form of forms) warm.fingerprint('postgresql', form(n));
    expect(warm.stats().misses).toBe(forms.length);
    for (const form of forms) {
      const text = form(1_000_003);
      const cold = await SqlFingerprinter.create({ cacheEntries: 100, maxParseBytes: 64 * 1024 });
      expect(warm.fingerprint('postgresql', text)).toEqual(cold.fingerprint('postgresql', text));
    }
    expect(warm.exactEntries()).toBe(0);
  });

  it('serves texts by the skeleton of a sample with the shapes and counts of the hashing path', async () => {
    const rand = seededRandom(3);
    const forms = [
      (n: number) => `SELECT a, b FROM t WHERE id = ${n} AND s = 'k${n}'`,
      (n: number) => `SELECT a, b FROM t WHERE id = '${n}'`,
      (n: number) => `SELECT a, b FROM t  WHERE id = ${n}`,
      (n: number) => `UPDATE t SET v = '{"n":${n}}' WHERE id IN (${n}, ${n + 1})`,
      (n: number) => `INSERT INTO t (a, b) VALUES (${n}, $$${n}$$) /* req ${n % 3} */`,
      (n: number) => `DELETE FROM t WHERE a = E'x\\'${n}' AND b = $1`,
      (n: number) => `SELECT ${n}`,
      (n: number) => `SELECT ${n % 4} FROM t LIMIT 10`,
    ];
    const texts = Array.from({ length: 3000 }, () =>
      forms[Math.floor(rand() * forms.length)](Math.floor(rand() * 50)),
    );
    // Small caches: entries are evicted and replaced, so skeletons go stale too.
    const options = { cacheEntries: 4, maxParseBytes: 64 * 1024 };
    const indexed = await SqlFingerprinter.create(options);
    const hashedOnly = await SqlFingerprinter.create(options);
    const skeletons = (hashedOnly as unknown as { skeletons: Record<string, { find(): undefined }> })
      .skeletons;
    for (const index of Object.values(skeletons)) index.find = () => undefined;
    for (const text of texts) {
      expect(indexed.fingerprint('postgresql', text), text).toEqual(
        hashedOnly.fingerprint('postgresql', text),
      );
    }
    expect(indexed.stats()).toEqual(hashedOnly.stats());
    expect(indexed.exactEntries()).toBe(hashedOnly.exactEntries());
  });

  it('rejects a cache size that is not a positive integer', async () => {
    await expect(SqlFingerprinter.create({ cacheEntries: 0, maxParseBytes: 10 })).rejects.toThrow(
      /cacheEntries/,
    );
  });
});
