/**
 * Writes an index-key candidate back as SQL from libpg-query's parse tree (this libpg-query build
 * has no deparser): column references, `$n` parameters, function calls, operators, casts and
 * COALESCE/GREATEST/LEAST/NULLIF — what `lower(email)`, `date(created_at)`, `(payload ->> $1)` or
 * `coalesce(a, b)` are made of. Anything else, and any literal, yields undefined: an expression is
 * only ever written from the normalised statement, so no SQL literal can reach a report through it.
 */
import type { PgNode } from './parse-tree';
import { quoteIdent } from './quote-ident';

/** A function, operator or cast in the expression, with its arguments' SQL (for a volatility check). */
export type ExpressionCall =
  | { kind: 'function'; name: string[]; args: string[] }
  | { kind: 'operator'; name: string; left?: string; right: string }
  | { kind: 'cast'; arg: string; sql: string };

export interface DeparsedExpression {
  sql: string;
  /** Column references as written, qualifier parts first (`['u', 'email']`). */
  columnRefs: string[][];
  /** Holds a `$n` parameter: a value the statement supplies (or a literal the normaliser replaced). */
  hasParameter: boolean;
  calls: ExpressionCall[];
  /** A function call or COALESCE/GREATEST/LEAST/NULLIF: CREATE INDEX takes it without extra parentheses. */
  functionLike: boolean;
}

/** Type keywords: unqualified in the tree only when quoted in the text (`"char"`, not `char`, which is bpchar). */
const TYPE_KEYWORDS = new Set(
  'bigint bit boolean char character dec decimal double float int integer interval json national nchar numeric real smallint time timestamp varchar'.split(
    ' ',
  ),
);

export function deparseExpression(node: PgNode): DeparsedExpression | undefined {
  const out: DeparsedExpression = {
    sql: '',
    columnRefs: [],
    hasParameter: false,
    calls: [],
    functionLike: false,
  };
  try {
    out.sql = new Writer(out).expr(node);
  } catch (err) {
    if (err instanceof Unsupported) return undefined;
    throw err;
  }
  out.functionLike = isFunctionLike(node);
  return out;
}

class Unsupported extends Error {}

function unsupported(): never {
  throw new Unsupported();
}

function isFunctionLike(node: PgNode): boolean {
  const nullif = (node.A_Expr as PgNode | undefined)?.kind === 'AEXPR_NULLIF';
  return nullif || 'FuncCall' in node || 'CoalesceExpr' in node || 'MinMaxExpr' in node;
}

class Writer {
  constructor(private readonly out: DeparsedExpression) {}

  expr(node: PgNode | undefined): string {
    if (!node) return unsupported();
    if (node.ColumnRef) return this.columnRef(node.ColumnRef as PgNode);
    if (node.ParamRef) {
      this.out.hasParameter = true;
      return `$${Number((node.ParamRef as PgNode).number)}`;
    }
    if (node.FuncCall) return this.funcCall(node.FuncCall as PgNode);
    if (node.TypeCast) return this.typeCast(node.TypeCast as PgNode);
    if (node.A_Expr) return this.aExpr(node.A_Expr as PgNode);
    if (node.CoalesceExpr) return `coalesce(${this.list((node.CoalesceExpr as PgNode).args)})`;
    if (node.MinMaxExpr) {
      const m = node.MinMaxExpr as PgNode;
      return `${m.op === 'IS_GREATEST' ? 'greatest' : 'least'}(${this.list(m.args)})`;
    }
    // A literal, a sub-select, CASE, … : not written (a literal would leak; the rest is not indexed here).
    return unsupported();
  }

  private columnRef(ref: PgNode): string {
    const fields = (ref.fields as PgNode[]).map((f) => (f.String as PgNode | undefined)?.sval);
    if (fields.some((f) => typeof f !== 'string')) return unsupported(); // `t.*`
    this.out.columnRefs.push(fields as string[]);
    // Unqualified: an index expression names its own table's columns.
    return quoteIdent(fields[fields.length - 1] as string);
  }

  private funcCall(f: PgNode): string {
    // Aggregates, windows, VARIADIC, named arguments and SQL-syntax forms (EXTRACT, SUBSTRING … FROM) are not index keys here.
    if (f.agg_star || f.agg_distinct || f.agg_order || f.agg_filter || f.over || f.func_variadic)
      return unsupported();
    if (f.funcformat !== 'COERCE_EXPLICIT_CALL') return unsupported();
    const name = names(f.funcname);
    const argNodes = (f.args as PgNode[] | undefined) ?? [];
    if (argNodes.some((a) => 'NamedArgExpr' in a)) return unsupported();
    const args = argNodes.map((a) => this.expr(a));
    this.out.calls.push({ kind: 'function', name, args });
    return `${name.map(quoteIdent).join('.')}(${args.join(', ')})`;
  }

  private typeCast(c: PgNode): string {
    const arg = this.operand(c.arg as PgNode);
    const sql = `${arg}::${typeName(c.typeName as PgNode)}`;
    this.out.calls.push({ kind: 'cast', arg, sql });
    return sql;
  }

  private aExpr(a: PgNode): string {
    const op = names(a.name);
    if (a.kind === 'AEXPR_NULLIF') {
      const [l, r] = [this.expr(a.lexpr as PgNode), this.expr(a.rexpr as PgNode)];
      this.out.calls.push({ kind: 'operator', name: '=', left: l, right: r });
      return `nullif(${l}, ${r})`;
    }
    if (a.kind !== 'AEXPR_OP' || op.length !== 1) return unsupported(); // OPERATOR(schema.op), IN, LIKE, …
    const right = this.operand(a.rexpr as PgNode);
    if (!a.lexpr) {
      this.out.calls.push({ kind: 'operator', name: op[0], right });
      return `${op[0]}${right}`;
    }
    const left = this.operand(a.lexpr as PgNode);
    this.out.calls.push({ kind: 'operator', name: op[0], left, right });
    return `${left} ${op[0]} ${right}`;
  }

  /** An operand, parenthesised when it is itself an operator expression (precedence stays as parsed). */
  private operand(node: PgNode): string {
    const sql = this.expr(node);
    return node.A_Expr && (node.A_Expr as PgNode).kind !== 'AEXPR_NULLIF' ? `(${sql})` : sql;
  }

  private list(args: unknown): string {
    return ((args as PgNode[] | undefined) ?? []).map((a) => this.expr(a)).join(', ');
  }
}

function names(list: unknown): string[] {
  const parts = ((list as PgNode[] | undefined) ?? []).map((n) => (n.String as PgNode | undefined)?.sval);
  if (parts.length === 0 || parts.some((p) => typeof p !== 'string')) return unsupported();
  return parts as string[];
}

function typeName(t: PgNode): string {
  if (t.setof || t.pct_type) return unsupported();
  const parts = names(t.names);
  let name: string;
  if (parts.length === 1) name = TYPE_KEYWORDS.has(parts[0]) ? `"${parts[0]}"` : quoteIdent(parts[0]);
  // `pg_catalog.int4` reads as `int4`; `pg_catalog.char` stays (bare `char` is bpchar).
  else if (parts.length === 2 && parts[0] === 'pg_catalog' && parts[1] !== 'char') name = parts[1];
  else name = parts.map(quoteIdent).join('.');
  // Type modifiers (`varchar(20)`, `numeric(10, 2)`) are structure, not data: kept when plain integers.
  const mods = ((t.typmods as PgNode[] | undefined) ?? []).map((m) => {
    const ival = ((m.A_Const as PgNode | undefined)?.ival as PgNode | undefined)?.ival;
    return typeof ival === 'number' && parts[parts.length - 1] !== 'interval' ? String(ival) : unsupported();
  });
  const bounds = '[]'.repeat(((t.arrayBounds as unknown[] | undefined) ?? []).length);
  return `${name}${mods.length ? `(${mods.join(', ')})` : ''}${bounds}`;
}
