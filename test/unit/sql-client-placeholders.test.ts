import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../src/config/defaults';
import { SqlFingerprinter } from '../../src/sql';
import { numberClientPlaceholders } from '../../src/sql/client-placeholders';

describe("other clients' placeholders", () => {
  it('numbers JDBC / Java-agent `?`s, leaving jsonb operators and JDBC escapes as operators', () => {
    expect(numberClientPlaceholders('SELECT * FROM t WHERE a = ? AND b IN (?, ?)')).toBe(
      'SELECT * FROM t WHERE a = $1 AND b IN ($2, $3)',
    );
    expect(numberClientPlaceholders('SELECT * FROM t WHERE doc ?| ? AND doc ?& ? AND doc ?? ?')).toBe(
      'SELECT * FROM t WHERE doc ?| $1 AND doc ?& $2 AND doc ? $3',
    );
  });

  it("numbers Python DB-API `%s` and `%(name)s` (a repeated name one number), `%%` a `%`, and then leaves `?` as jsonb's", () => {
    expect(
      numberClientPlaceholders("SELECT * FROM t WHERE a = %(id)s OR b = %(id)s AND c LIKE 'x%%' || %s"),
    ).toBe("SELECT * FROM t WHERE a = $1 OR b = $1 AND c LIKE 'x%%' || $2");
    expect(numberClientPlaceholders('SELECT * FROM t WHERE a = %s AND c % 2 = 0 AND d LIKE %s || %%')).toBe(
      'SELECT * FROM t WHERE a = $1 AND c % 2 = 0 AND d LIKE $2 || %',
    );
    expect(numberClientPlaceholders('SELECT * FROM t WHERE tags ? %s')).toBe(
      'SELECT * FROM t WHERE tags ? $1',
    );
  });

  it('reads nothing inside strings, quoted identifiers, dollar quotes and comments', () => {
    const text = `SELECT 'why?', E'it\\'s %s?', "col?", $$ ? $$, $q$ %s $q$ -- what?
      /* nested /* ? */ %s */ FROM t WHERE a = ? AND b = $1`;
    expect(numberClientPlaceholders(text)).toBe(text.replace('a = ?', 'a = $1'));
    expect(numberClientPlaceholders("SELECT 'a?', 5 FROM t WHERE x = $1")).toBeUndefined();
  });
});

describe('the fingerprinter on statements from other clients', () => {
  let sql: SqlFingerprinter;
  beforeAll(async () => {
    sql = await SqlFingerprinter.create(DEFAULTS.sql);
  });

  it('parses them with the placeholders numbered: one fingerprint with the same statement in $n form', () => {
    const native = sql.fingerprint('postgresql', 'SELECT * FROM orders WHERE id = $1 AND status = $2');
    for (const text of [
      'SELECT * FROM orders WHERE id = ? AND status = ?',
      'SELECT * FROM orders WHERE id = %s AND status = %(status)s',
    ]) {
      expect(sql.fingerprint('postgresql', text)).toMatchObject({
        parsed: true,
        fingerprint: native.fingerprint,
        statement: native.statement,
      });
    }
  });

  it('leaves text the parser rejects for another reason to the fallback, with no value shown', () => {
    const shape = sql.fingerprint('postgresql', "SELEC * FROM orders WHERE id = ? AND note = 'secret-note'");
    expect(shape.parsed).toBe(false);
    expect(shape.statement).not.toContain('secret-note');
  });
});
