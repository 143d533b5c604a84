import { parseSync } from 'libpg-query';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadParser } from '../../src/advise/predicate-columns';
import { deparseExpression } from '../../src/sql/deparse-expression';
import type { PgNode } from '../../src/sql/parse-tree';

beforeAll(() => loadParser());

/** The first select-list expression of `SELECT <expr>`. */
function expr(sql: string): PgNode {
  const tree = parseSync(`SELECT ${sql}`) as unknown as {
    stmts: { stmt: { SelectStmt: { targetList: { ResTarget: { val: PgNode } }[] } } }[];
  };
  return tree.stmts[0].stmt.SelectStmt.targetList[0].ResTarget.val;
}
const sql = (text: string) => deparseExpression(expr(text))?.sql;

describe('deparsing an index-key expression', () => {
  it('writes functions, operators, casts and COALESCE-like forms back as SQL that parses the same', () => {
    const cases: [string, string][] = [
      ['lower(u.email)', 'lower(email)'],
      ['date(created_at)', 'date(created_at)'],
      ['(payload->>$1)', 'payload ->> $1'],
      ['COALESCE(a, b)', 'coalesce(a, b)'],
      ['GREATEST(a, b)', 'greatest(a, b)'],
      ['NULLIF(a, $2)', 'nullif(a, $2)'],
      ['created_at::date', 'created_at::date'],
      ['CAST(v AS character varying(20))', 'v::varchar(20)'],
      ['x::int[]', 'x::int4[]'],
      ['x::"char"', 'x::"char"'],
      ['x::pg_catalog."char"', 'x::pg_catalog.char'],
      ['x::character(3)', 'x::bpchar(3)'],
      ['(a + b) * c', '(a + b) * c'],
      ['a + b * c', 'a + (b * c)'],
      ['-a', '-a'],
      ['(a || b)::text', '(a || b)::text'],
      ['app.f("Col", "order")', 'app.f("Col", "order")'],
    ];
    for (const [input, output] of cases) {
      expect(sql(input), input).toBe(output);
      // Written back, it parses to the same tree (locations and an implied pg_catalog of type names aside).
      const strip = (n: unknown) =>
        JSON.stringify(n, (k, v) => (k === 'location' ? undefined : v)).replaceAll(
          '"names":[{"String":{"sval":"pg_catalog"}},',
          '"names":[',
        );
      expect(strip(expr(output)), input).toBe(strip(expr(input.replace('u.email', 'email'))));
    }
  });

  it('lists the columns, parameters and the calls whose volatility decides whether it is indexable', () => {
    expect(deparseExpression(expr('lower(u.email)'))).toEqual({
      sql: 'lower(email)',
      columnRefs: [['u', 'email']],
      hasParameter: false,
      functionLike: true,
      calls: [{ kind: 'function', name: ['lower'], args: ['email'] }],
    });
    expect(deparseExpression(expr('(payload->>$1)::date'))).toMatchObject({
      hasParameter: true,
      functionLike: false,
      calls: [
        { kind: 'operator', name: '->>', left: 'payload', right: '$1' },
        { kind: 'cast', arg: '(payload ->> $1)', sql: '(payload ->> $1)::date' },
      ],
    });
  });

  it('writes no literal and nothing it does not know', () => {
    for (const text of [
      "lower('alice@example.com')",
      "payload->>'kind'",
      'coalesce(a, 0)',
      'count(*)',
      'sum(DISTINCT a)',
      'row_number() OVER ()',
      'EXTRACT(year FROM created_at)',
      'CASE WHEN a THEN b END',
      '(SELECT 1)',
      'f(a => 1)',
      'a OPERATOR(pg_catalog.+) b',
      'x::interval day',
      't.*',
    ]) {
      expect(deparseExpression(expr(text)), text).toBeUndefined();
    }
  });
});
