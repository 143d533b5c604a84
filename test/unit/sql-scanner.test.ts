import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../scripts/lib/seeded-random';
import {
  dialectOf,
  hashCanonical,
  LITERAL,
  literalEndAt,
  literalSpans,
  PARAM,
  type SqlDialect,
  scanSql,
} from '../../src/sql/sql-scanner';
import { collapseLists, MAX_STATEMENT_CHARS, renderStatement } from '../../src/sql/sql-statement';

const render = (text: string, dialect: 'pg' | 'mysql' | 'generic' = 'pg'): string =>
  renderStatement(collapseLists(scanSql(text, dialect)));

describe('scanSql', () => {
  it('replaces string, escape-string, bit, hex, national and unicode literals with one marker each', () => {
    const out = scanSql("SELECT 'a', E'it\\'s', B'0101', X'ff', N'nat', U&'d\\0061t', 'it''s' FROM t", 'pg');
    expect(out).toBe(`SELECT ${Array(7).fill(LITERAL).join(', ')} FROM t`);
  });

  it('replaces dollar-quoted strings, with and without a tag', () => {
    expect(scanSql('SELECT $$sec ret$$, $fn$ body; $$ inner $fn$ FROM t', 'pg')).toBe(
      `SELECT ${LITERAL}, ${LITERAL} FROM t`,
    );
  });

  it('replaces integers, decimals, exponents, hex and separated numbers', () => {
    expect(scanSql('SELECT 1, 2.5, .5, 1e10, 1.5E-3, 0x1F, 1_000 FROM t', 'pg')).toBe(
      `SELECT ${Array(7).fill(LITERAL).join(', ')} FROM t`,
    );
  });

  it('keeps digits that belong to identifiers and quoted identifiers', () => {
    expect(scanSql('SELECT col1, "2nd col", t2.c3$x FROM s1.t2', 'pg')).toBe(
      'SELECT col1, "2nd col", t2.c3$x FROM s1.t2',
    );
  });

  it('marks $n parameters with their number', () => {
    expect(scanSql('SELECT * FROM t WHERE a = $1 AND b = $12', 'pg')).toBe(
      `SELECT * FROM t WHERE a = ${PARAM}1 AND b = ${PARAM}12`,
    );
  });

  it('drops line and nested block comments and collapses whitespace', () => {
    expect(scanSql("  SELECT /* a /* nested 'x' */ b */ 1\n\t\tFROM t -- trailing 'secret'\n", 'pg')).toBe(
      `SELECT ${LITERAL} FROM t`,
    );
  });

  it('leaves exactly one space wherever comments and whitespace meet', () => {
    for (const text of [
      'a /*x*/ b',
      'a/*x*/b',
      'a /*x*/b',
      'a/*x*/ b',
      'a  --x\n  b',
      'a\n/*x*/\n/*y*/ b',
      ' a b ',
    ]) {
      expect(scanSql(text, 'pg'), JSON.stringify(text)).toBe('a b');
    }
  });

  it('treats an unterminated string as running to the end of the text', () => {
    expect(scanSql("SELECT * FROM t WHERE a = 'never closed AND b = 2", 'pg')).toBe(
      `SELECT * FROM t WHERE a = ${LITERAL}`,
    );
  });

  it('turns control characters in the input into spaces so markers cannot be forged', () => {
    expect(scanSql('SELECT\u0001a\u00021 FROM t', 'pg')).toBe('SELECT a 1 FROM t'.replace('1', LITERAL));
  });

  it('reads MySQL double quotes, backslash escapes and # comments as MySQL does', () => {
    expect(scanSql('SELECT * FROM `t` WHERE a = "x\\"y" AND b = \'it\\\'s\' # note', 'mysql')).toBe(
      `SELECT * FROM \`t\` WHERE a = ${LITERAL} AND b = ${LITERAL}`,
    );
  });

  it('reads quoting outside PostgreSQL the way that hides the most: backslash escapes, "…" as a literal', () => {
    // SQLite takes "…" as a string; ClickHouse escapes with a backslash.
    expect(render(`SELECT * FROM u WHERE email = "ann@example.com"`, 'generic')).toBe(
      'SELECT * FROM u WHERE email = $1',
    );
    expect(render(`SELECT 'x\\' leaked \\'' AS a`, 'generic')).toBe('SELECT $1 AS a');
    // PostgreSQL keeps "…" as the quoted identifier it is there.
    expect(render(`SELECT "Email" FROM u`, 'pg')).toBe('SELECT "Email" FROM u');
  });

  it('treats ? as a placeholder outside PostgreSQL, where it is the jsonb operator', () => {
    expect(scanSql('SELECT * FROM t WHERE a = ?', 'generic')).toBe(`SELECT * FROM t WHERE a = ${LITERAL}`);
    expect(scanSql("SELECT * FROM t WHERE doc ? 'k'", 'pg')).toBe(`SELECT * FROM t WHERE doc ? ${LITERAL}`);
  });
});

describe('collapseLists and renderStatement', () => {
  it('gives IN lists of any length the same statement', () => {
    const one = render('SELECT * FROM t WHERE id IN (1)');
    expect(render('SELECT * FROM t WHERE id IN (1, 2, 3)')).toBe(one);
    expect(render('SELECT * FROM t WHERE id IN ($1,$2)')).toBe(one);
    expect(one).toBe('SELECT * FROM t WHERE id IN ($1 /*, ... */)');
  });

  it('collapses ARRAY literals and multi-row VALUES to their first item', () => {
    expect(render('SELECT * FROM t WHERE id = ANY(ARRAY[1,2,3])')).toBe(
      'SELECT * FROM t WHERE id = ANY(ARRAY[$1 /*, ... */])',
    );
    expect(render("INSERT INTO t (a, b) VALUES (1, 'x'), (2, DEFAULT), (3, NULL)")).toBe(
      'INSERT INTO t (a, b) VALUES ($1, $2) /*, ... */',
    );
  });

  it('collapses lists however they open: a space inside, or VALUES rows that start with a keyword', () => {
    expect(render('SELECT * FROM t WHERE id IN ( 1 , 2 )')).toBe(
      'SELECT * FROM t WHERE id IN ($1 /*, ... */)',
    );
    expect(render('SELECT * FROM t WHERE id = ANY(ARRAY [ 1, 2 ])')).toBe(
      'SELECT * FROM t WHERE id = ANY(ARRAY[$1 /*, ... */])',
    );
    expect(render('INSERT INTO t (a, b) values (DEFAULT, $1), (DEFAULT, $2)')).toBe(
      'INSERT INTO t (a, b) values (DEFAULT, $1) /*, ... */',
    );
  });

  it('keeps a single VALUES row and lists that hold expressions', () => {
    expect(render("INSERT INTO t VALUES (1, 'x')")).toBe('INSERT INTO t VALUES ($1, $2)');
    expect(render('SELECT * FROM t WHERE a IN (SELECT b FROM u)')).toBe(
      'SELECT * FROM t WHERE a IN (SELECT b FROM u)',
    );
  });

  it('numbers placeholders in order of appearance and keeps a repeated parameter one number', () => {
    expect(render('SELECT * FROM t WHERE a = $2 OR b = $2 OR c = 5 OR d = $1')).toBe(
      'SELECT * FROM t WHERE a = $1 OR b = $1 OR c = $2 OR d = $3',
    );
  });

  it('truncates long statements with an ellipsis', () => {
    const cols = Array.from({ length: 1000 }, (_, i) => `column_${i}`).join(', ');
    const out = render(`SELECT ${cols} FROM t`);
    expect(out.length).toBe(MAX_STATEMENT_CHARS);
    expect(out.endsWith('…')).toBe(true);
  });
});

describe('hashCanonical', () => {
  const hashOf = (text: string, dialect: SqlDialect): string => {
    const into = new Int32Array(3);
    hashCanonical(text, dialect, into);
    return into.join(':');
  };

  /** Statements in every lexical form the scanner knows, with random literals, spacing and comments. */
  function corpus(seed: number, count: number): string[] {
    const rand = seededRandom(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)];
    const literal = () =>
      pick([
        () => String(Math.floor(rand() * 1e6)),
        () => `'v${Math.floor(rand() * 1e4)}'`,
        () => `E'a\\'b${Math.floor(rand() * 99)}'`,
        () => `$$body ${Math.floor(rand() * 99)}$$`,
        () => `$t$x'y${Math.floor(rand() * 9)}$t$`,
        () => `${(rand() * 100).toFixed(2)}e-3`,
        () => `"q ${Math.floor(rand() * 3)}"`,
        () => `\`b${Math.floor(rand() * 3)}\``,
        () => `?`,
        () => `$${1 + Math.floor(rand() * 3)}`,
        () => `'ü${Math.floor(rand() * 9)}'`,
      ])();
    const gap = () => pick([' ', '  ', '\n\t', ' /* c */ ', ' -- note\n', ' # h\n', '']);
    const tables = ['ü_tab', '"Quoted T"'];
    const out: string[] = [];
    for (let i = 0; i < count; i++) {
      const parts = [
        'SELECT',
        gap(),
        pick(['a', 'count(*)']),
        gap(),
        'FROM',
        gap(),
        pick(tables),
        gap(),
        'WHERE',
        gap(),
        'x.y',
        gap(),
        pick(['=', 'IN (', '?|']),
        gap(),
        literal(),
        rand() < 0.3 ? `, ${literal()})` : rand() < 0.5 ? ')' : '',
        gap(),
        pick(['', 'OR z = $2']),
      ];
      out.push(parts.join('').trim());
    }
    return out;
  }

  it('gives equal hashes exactly to texts with equal canonical forms, in every dialect', () => {
    const texts = corpus(11, 600);
    for (const dialect of ['pg', 'mysql', 'generic'] as const) {
      const byHash = new Map<string, string>();
      const byCanonical = new Map<string, string>();
      for (const text of texts) {
        const hash = hashOf(text, dialect);
        const canonical = scanSql(text, dialect);
        const seenCanonical = byHash.get(hash);
        if (seenCanonical !== undefined) expect(canonical, text).toBe(seenCanonical);
        else byHash.set(hash, canonical);
        const seenHash = byCanonical.get(canonical);
        if (seenHash !== undefined) expect(hash, text).toBe(seenHash);
        else byCanonical.set(canonical, hash);
      }
      // The corpus must hold both repeats and distinct forms, or the test proves nothing.
      expect(byHash.size).toBeGreaterThan(50);
      expect(byHash.size).toBeLessThan(texts.length);
    }
  });

  it('ignores literal values, comments and spacing but not the words around them', () => {
    const a = hashOf("SELECT a FROM t WHERE b = 'x' -- one", 'pg');
    expect(hashOf("SELECT  a FROM t /* two */ WHERE b = 'yy'", 'pg')).toBe(a);
    expect(hashOf('SELECT a FROM t WHERE b = 42', 'pg')).toBe(a);
    expect(hashOf("SELECT a FROM t WHERE c = 'x'", 'pg')).not.toBe(a);
    expect(hashOf('SELECT a FROM t WHERE b = $1', 'pg')).not.toBe(a);
  });
});

describe('literalSpans and literalEndAt', () => {
  it('find the literals scanSql marks, and nothing else', () => {
    const text = "SELECT 'a', 5, $1, $$x$$ FROM t -- 7";
    expect(literalSpans(text, 'pg')).toEqual([7, 10, 12, 13, 19, 24]);
    expect(literalEndAt(text, 12, 'pg')).toBe(13);
    expect(literalEndAt(text, 15, 'pg')).toBe(-1); // a parameter
    expect(literalEndAt(text, 0, 'pg')).toBe(-1);
    expect(literalEndAt(text, text.length, 'pg')).toBe(-1);
  });
});

describe('dialectOf', () => {
  it('maps PostgreSQL and MySQL system names and defaults the rest to generic', () => {
    expect(['postgresql', 'postgres', 'pg', 'PostgreSQL'].map(dialectOf)).toEqual(['pg', 'pg', 'pg', 'pg']);
    expect(['mysql', 'mariadb'].map(dialectOf)).toEqual(['mysql', 'mysql']);
    expect(dialectOf('mssql')).toBe('generic');
  });
});
