/**
 * Reads the columns a statement filters, joins and sorts on from the PostgreSQL parse tree
 * (libpg-query): the raw material of index advice. Aliases map to tables per query scope;
 * an unqualified column in a multi-table scope is left for the catalog to resolve.
 * Only predicates a plain btree can serve count: `=`, IN, `= ANY`, IS NULL, ranges, BETWEEN, on a
 * column or on an expression over one table's columns (`lower(email) = $1`, an expression index's
 * key). LIKE and ILIKE are noted on either (a trigram index serves any pattern). A top-level
 * OR is kept apart, branch by branch (orGroups): only a BitmapOr of one index per branch serves it.
 * Containment and key tests on a column (`tags @> $1`, `tags && $1`, `attrs ? $1`) are noted too, for
 * a GIN index (index-containment.ts). NOT and `<>` are skipped.
 */
import { loadModule, parseSync } from 'libpg-query';
import { deparseExpression, type ExpressionCall } from '../sql/deparse-expression';
import { forEachNode, someNode } from '../sql/parse-tree';

/**
 * `like`: `col LIKE $1`, which a btree serves only for a prefix pattern (not seen once normalised);
 * `ilike`: `col ILIKE $1` / `~~*`, which no btree serves. A trigram index serves both.
 */
export type ColumnUse = 'eq' | 'range' | 'join' | 'order' | 'like' | 'ilike' | 'contains';

export interface TableRef {
  schema?: string;
  name: string;
}

export interface PredicateColumn {
  /** The table the column belongs to; undefined when the statement alone cannot tell. */
  table?: TableRef;
  /** Tables in scope an unqualified column may belong to (set when `table` is undefined). */
  candidates?: TableRef[];
  column: string;
  use: ColumnUse;
  /**
   * An `eq` use whose matched value is known from the statement: `IS NULL`, or a bare boolean
   * column (`WHERE published`, true). Other equalities compare with a parameter of unknown value.
   */
  matches?: 'null' | 'true';
  /** Set when `column` is an expression over the table's columns (`lower(email)`), written as SQL. */
  expression?: PredicateExpression;
  /** A `contains` use's operator: `@>`, `<@`, `&&` (arrays, and `@>` jsonb), `?`, `?|`, `?&` (jsonb keys). */
  operator?: ContainmentOperator;
  /** An `order` use sorted descending. */
  desc?: true;
  /** An `order` use whose NULLS FIRST/LAST differs from its direction's default (first for DESC). */
  nullsFirst?: boolean;
}

export interface PredicateExpression {
  /** The table's columns it reads. */
  columns: string[];
  /** Holds a `$n`: a literal the normaliser replaced (or a value bound per call), which an index cannot hold. */
  hasParameter: boolean;
  /** A function call or COALESCE-like form, which CREATE INDEX takes without extra parentheses. */
  functionLike: boolean;
  /** Its functions, operators and casts, whose volatility decides whether it can be indexed. */
  calls: ExpressionCall[];
}

export interface StatementColumns {
  operation: 'SELECT' | 'UPDATE' | 'DELETE';
  /** Tables the statement reads, in order of appearance (CTE names and subqueries excluded). */
  tables: TableRef[];
  columns: PredicateColumn[];
  /** The top-level query has a LIMIT (an index on the ORDER BY columns can stop early). */
  hasLimit: boolean;
  /** ORs among the WHERE/ON conjuncts (`a = $1 OR b = $2`); absent when there are none. */
  orGroups?: OrGroup[];
}

/** One OR: per branch, the `=`/IN/range/LIKE/ILIKE columns an index could serve that branch by. */
export interface OrGroup {
  branches: PredicateColumn[][];
  /** Which branch has no such condition (`status <> …`, NOT, a join, a subquery); no index serves the OR then. */
  unindexable?: string;
}

type Node = Record<string, unknown>;

let loading: Promise<void> | undefined;
let loaded = false;

/** Loads the parser's WASM module once (~20 ms); extractColumns returns undefined until then. */
export async function loadParser(): Promise<void> {
  loading ??= loadModule().then(() => {
    loaded = true;
  });
  await loading;
}

export function parserLoaded(): boolean {
  return loaded;
}

/** Columns of one SELECT/UPDATE/DELETE; undefined for other statements, several statements or parse errors. */
export function extractColumns(sql: string): StatementColumns | undefined {
  if (!loaded) return undefined;
  let tree: { stmts?: { stmt?: Node }[] };
  try {
    tree = parseSync(sql) as unknown as { stmts?: { stmt?: Node }[] };
  } catch {
    return undefined;
  }
  if (tree.stmts?.length !== 1) return undefined;
  const stmt = tree.stmts[0].stmt ?? {};
  const out = new Collector();
  if (stmt.SelectStmt) {
    const select = stmt.SelectStmt as Node;
    out.select(select, undefined);
    return out.result('SELECT', select.limitCount !== undefined);
  }
  if (stmt.UpdateStmt) {
    const update = stmt.UpdateStmt as Node;
    out.modify(update, (update.fromClause as Node[]) ?? []);
    return out.result('UPDATE', false);
  }
  if (stmt.DeleteStmt) {
    const del = stmt.DeleteStmt as Node;
    out.modify(del, (del.usingClause as Node[]) ?? []);
    return out.result('DELETE', false);
  }
  return undefined;
}

/**
 * One query level: alias → table (null for a subquery or CTE whose columns are not one table's), and
 * the CTEs in scope, each with the table it passes through (passThroughTable) or null.
 */
interface Scope {
  parent?: Scope;
  aliases: Map<string, TableRef | null>;
  ctes: Map<string, TableRef | null>;
}

const EQ_OPS = new Set(['=']);
const RANGE_OPS = new Set(['<', '>', '<=', '>=']);
/** LIKE and ILIKE, written as keywords or as their operators (`~~`, `~~*`); not their NOT forms. */
const PATTERN_OPS: Record<string, ColumnUse | undefined> = { '~~': 'like', '~~*': 'ilike' };
/** Operators a GIN index serves on an array or jsonb column (`col <op> value`). */
export const CONTAINMENT_OPS = ['@>', '<@', '&&', '?', '?|', '?&'] as const;
/** `$1 = ANY(col)`: an element test on an array column, which no index serves as written (index-containment.ts). */
export const ANY_ELEMENT = '= ANY';
export type ContainmentOperator = (typeof CONTAINMENT_OPS)[number] | typeof ANY_ELEMENT;
const isContainment = (op: string): op is ContainmentOperator =>
  (CONTAINMENT_OPS as readonly string[]).includes(op);

class Collector {
  private readonly tables: TableRef[] = [];
  private columns: PredicateColumn[] = [];
  private seen = new Set<string>();
  private orGroups: OrGroup[] = [];

  result(operation: StatementColumns['operation'], hasLimit: boolean): StatementColumns {
    const ors = this.orGroups.length ? { orGroups: this.orGroups } : {};
    return { operation, tables: this.tables, columns: this.columns, hasLimit, ...ors };
  }

  select(node: Node, parent: Scope | undefined): void {
    if (node.op && node.op !== 'SETOP_NONE') {
      if (node.larg) this.select(node.larg as Node, parent);
      if (node.rarg) this.select(node.rarg as Node, parent);
      return;
    }
    const scope: Scope = { parent, aliases: new Map(), ctes: new Map(parent?.ctes) };
    this.withClause(node, scope);
    for (const item of (node.fromClause as Node[]) ?? []) this.fromItem(item, scope);
    this.predicate(node.whereClause as Node | undefined, scope);
    const sorts = ((node.sortClause as Node[]) ?? []).map((s) => (s.SortBy ?? {}) as Node);
    const sortCols = sorts.map((s) => {
      const key = selectListItem(node, s.node as Node) ?? (s.node as Node);
      const c = s.sortby_dir === 'SORTBY_USING' ? undefined : this.resolveTerm(key, scope);
      return c && { ...c, ...sortDirection(s) };
    });
    // An index serves an ORDER BY only when every sort key is a plain column of one table.
    if (sortCols.length && sortCols.every((c) => c !== undefined && c.table !== undefined)) {
      const first = sortCols[0]?.table;
      if (sortCols.every((c) => sameTable(c?.table, first))) {
        for (const c of sortCols) if (c) this.add({ ...c, use: 'order' });
      }
    }
  }

  modify(node: Node, extraFrom: Node[]): void {
    const scope: Scope = { aliases: new Map(), ctes: new Map() };
    this.withClause(node, scope);
    if (node.relation) this.rangeVar(node.relation as Node, scope);
    for (const item of extraFrom) this.fromItem(item, scope);
    this.predicate(node.whereClause as Node | undefined, scope);
  }

  /**
   * The statement's CTEs: each one's own query is read, and one PostgreSQL inlines that passes one
   * table's rows through (passThroughTable) reads as that table, so a filter on it outside
   * (`WITH i AS (SELECT * FROM invoices) SELECT … FROM i WHERE account_id = $1`) is the table's.
   * PostgreSQL 12+ inlines a CTE that is not recursive, not MATERIALIZED and referenced once (or
   * NOT MATERIALIZED).
   */
  private withClause(statement: Node, scope: Scope): void {
    const withClause = statement.withClause as Node | undefined;
    for (const cte of (withClause?.ctes as Node[]) ?? []) {
      const c = cte.CommonTableExpr as Node | undefined;
      if (!c) continue;
      const name = String(c.ctename);
      const query = c.ctequery as Node | undefined;
      const inlined =
        !withClause?.recursive &&
        c.ctematerialized !== 'CTEMaterializeAlways' &&
        (c.ctematerialized === 'CTEMaterializeNever' || references(statement, name) === 1);
      const through =
        inlined && query?.SelectStmt ? passThroughTable(query.SelectStmt as Node, scope) : undefined;
      scope.ctes.set(name, through ?? null);
      if (query?.SelectStmt) this.select(query.SelectStmt as Node, scope);
    }
  }

  private fromItem(item: Node, scope: Scope): void {
    if (item.RangeVar) this.rangeVar(item.RangeVar as Node, scope);
    else if (item.JoinExpr) {
      const join = item.JoinExpr as Node;
      this.fromItem(join.larg as Node, scope);
      this.fromItem(join.rarg as Node, scope);
      this.predicate(join.quals as Node | undefined, scope);
    } else if (item.RangeSubselect) {
      const sub = item.RangeSubselect as Node;
      const alias = (sub.alias as Node | undefined)?.aliasname;
      const query = sub.subquery as Node | undefined;
      // A subquery that passes one table's rows through is pulled up by the planner: its filters are the table's.
      const through =
        !sub.lateral && query?.SelectStmt ? passThroughTable(query.SelectStmt as Node, scope) : undefined;
      if (alias) scope.aliases.set(String(alias), through ?? null);
      if (query?.SelectStmt) this.select(query.SelectStmt as Node, scope);
    } else if (item.RangeFunction) {
      const alias = ((item.RangeFunction as Node).alias as Node | undefined)?.aliasname;
      if (alias) scope.aliases.set(String(alias), null);
    }
  }

  private rangeVar(rv: Node, scope: Scope): void {
    const name = String(rv.relname);
    const alias = (rv.alias as Node | undefined)?.aliasname as string | undefined;
    if (!rv.schemaname && scope.ctes.has(name)) {
      scope.aliases.set(alias ?? name, scope.ctes.get(name) ?? null);
      return;
    }
    const table: TableRef = rv.schemaname ? { schema: String(rv.schemaname), name } : { name };
    scope.aliases.set(alias ?? name, table);
    if (!alias && table.schema) scope.aliases.set(`${table.schema}.${name}`, table);
    if (!this.tables.some((t) => sameTable(t, table))) this.tables.push(table);
  }

  private predicate(expr: Node | undefined, scope: Scope): void {
    if (!expr) return;
    if (expr.BoolExpr) {
      const bool = expr.BoolExpr as Node;
      // Only AND keeps every conjunct's column usable by one index.
      if (bool.boolop === 'AND_EXPR') for (const arg of bool.args as Node[]) this.predicate(arg, scope);
      // An OR is served only by one index per branch (a BitmapOr): kept apart from the AND columns.
      else if (bool.boolop === 'OR_EXPR') this.orGroup(bool.args as Node[], scope);
      return;
    }
    if (expr.A_Expr) {
      this.comparison(expr.A_Expr as Node, scope);
      return;
    }
    if (expr.NullTest) {
      const test = expr.NullTest as Node;
      if (test.nulltesttype === 'IS_NULL') this.addColumn(test.arg as Node, scope, 'eq', 'null');
      return;
    }
    if (expr.ColumnRef) {
      this.addColumn(expr, scope, 'eq', 'true');
      return;
    }
    if (expr.SubLink) {
      const link = expr.SubLink as Node;
      if (link.subLinkType === 'ANY_SUBLINK' && link.testexpr)
        this.addColumn(link.testexpr as Node, scope, 'join');
      const sub = link.subselect as Node | undefined;
      if (sub?.SelectStmt) this.select(sub.SelectStmt as Node, scope);
    }
  }

  private orGroup(args: Node[], scope: Scope): void {
    const branches = args.map((arg) => this.branchColumns(arg, scope));
    const blocked = branches.findIndex((b) => b.length === 0);
    const unindexable =
      blocked < 0
        ? undefined
        : `OR branch ${blocked + 1} of ${args.length} (${describeBranch(args[blocked])}) has no =, IN, range, LIKE or ILIKE condition an index can serve`;
    this.orGroups.push(unindexable ? { branches, unindexable } : { branches });
  }

  /**
   * The `=`/IN/range/LIKE/ILIKE columns of one OR branch, read as a conjunction of its own (`a = $1 AND b = $2`).
   * Conjuncts holding a subquery are not looked into (as before ORs were read); a nested OR adds nothing.
   */
  private branchColumns(expr: Node, scope: Scope): PredicateColumn[] {
    const bool = expr.BoolExpr as Node | undefined;
    const conjuncts = bool?.boolop === 'AND_EXPR' ? (bool.args as Node[]) : [expr];
    const saved = { columns: this.columns, seen: this.seen, orGroups: this.orGroups };
    this.columns = [];
    this.seen = new Set();
    this.orGroups = [];
    try {
      for (const c of conjuncts) if (!holdsSubLink(c)) this.predicate(c, scope);
      // A containment branch is not served by index-or.ts's btree and trigram indexes.
      return this.columns.filter((c) => c.use !== 'join' && c.use !== 'order' && c.use !== 'contains');
    } finally {
      ({ columns: this.columns, seen: this.seen, orGroups: this.orGroups } = saved);
    }
  }

  private comparison(a: Node, scope: Scope): void {
    const op = operatorName(a);
    const kind = a.kind as string;
    const left = a.lexpr as Node | undefined;
    const right = a.rexpr as Node | undefined;
    if (!left || !right) return;
    if (kind === 'AEXPR_OP' && (EQ_OPS.has(op) || RANGE_OPS.has(op))) {
      const use: ColumnUse = EQ_OPS.has(op) ? 'eq' : 'range';
      if (left.ColumnRef && right.ColumnRef) {
        if (use === 'eq') {
          this.addColumn(left, scope, 'join');
          this.addColumn(right, scope, 'join');
        }
      } else if (isValue(right)) this.addTerm(left, scope, use);
      else if (isValue(left)) this.addTerm(right, scope, use);
      this.sublinks(left, scope);
      this.sublinks(right, scope);
      return;
    }
    if (kind === 'AEXPR_OP_ANY' && op === '=' && right.ColumnRef && isValue(left)) {
      const resolved = this.resolve(right, scope);
      if (resolved) this.add({ ...resolved, use: 'contains', operator: ANY_ELEMENT });
      return;
    }
    if ((kind === 'AEXPR_IN' || kind === 'AEXPR_OP_ANY') && op === '=' && isValue(right)) {
      this.addTerm(left, scope, 'eq');
      return;
    }
    if (kind === 'AEXPR_BETWEEN' && isValue(right)) this.addTerm(left, scope, 'range');
    const pattern = PATTERN_OPS[op];
    if (pattern && (kind === 'AEXPR_LIKE' || kind === 'AEXPR_ILIKE' || kind === 'AEXPR_OP')) {
      if (isValue(right)) this.addTerm(left, scope, pattern);
    }
    // A column's containment or key test: a GIN index's (only on a plain column: index-containment.ts).
    if (kind === 'AEXPR_OP' && isContainment(op) && left.ColumnRef && isValue(right)) {
      const resolved = this.resolve(left, scope);
      if (resolved) this.add({ ...resolved, use: 'contains', operator: op });
    }
  }

  /** `col = (SELECT …)`: the subquery is a scope of its own. */
  private sublinks(node: Node, scope: Scope): void {
    const sub = (node.SubLink as Node | undefined)?.subselect as Node | undefined;
    if (sub?.SelectStmt) this.select(sub.SelectStmt as Node, scope);
  }

  private addColumn(node: Node, scope: Scope, use: ColumnUse, matches?: 'null' | 'true'): void {
    const resolved = this.resolve(node, scope);
    if (resolved) this.add(matches ? { ...resolved, use, matches } : { ...resolved, use });
  }

  /** A column or an expression over one table's columns. */
  private addTerm(node: Node, scope: Scope, use: ColumnUse): void {
    const resolved = this.resolveTerm(node, scope);
    if (resolved) this.add({ ...resolved, use });
  }

  private resolveTerm(node: Node | undefined, scope: Scope): Omit<PredicateColumn, 'use'> | undefined {
    if (!node || node.ColumnRef) return this.resolve(node, scope);
    const ex = deparseExpression(node);
    if (!ex || ex.columnRefs.length === 0) return undefined;
    const refs = ex.columnRefs.map((parts) => this.resolveRef(parts, scope));
    const first = refs[0];
    if (!first) return undefined;
    // Every column it reads must be one table's (or, unqualified, the same candidates').
    const oneTable = refs.every((r) =>
      first.table ? sameTable(r?.table, first.table) : r && !r.table && sameCandidates(r, first),
    );
    if (!oneTable) return undefined;
    const { table, candidates } = first;
    const expression: PredicateExpression = {
      columns: [...new Set(refs.map((r) => r?.column as string))],
      hasParameter: ex.hasParameter,
      functionLike: ex.functionLike,
      calls: ex.calls,
    };
    return { ...(table ? { table } : { candidates }), column: ex.sql, expression };
  }

  private resolve(node: Node | undefined, scope: Scope): Omit<PredicateColumn, 'use'> | undefined {
    const ref = node?.ColumnRef as Node | undefined;
    if (!ref) return undefined;
    const parts = (ref.fields as Node[]).map(
      (f) => (f.String as Node | undefined)?.sval as string | undefined,
    );
    if (parts.some((p) => p === undefined)) return undefined; // `t.*`
    return this.resolveRef(parts as string[], scope);
  }

  private resolveRef(parts: string[], scope: Scope): Omit<PredicateColumn, 'use'> | undefined {
    const column = parts[parts.length - 1] as string;
    if (parts.length === 1) return resolveUnqualified(column, scope);
    const qualifier = parts.slice(0, -1).join('.');
    for (let s: Scope | undefined = scope; s; s = s.parent) {
      if (s.aliases.has(qualifier)) {
        const table = s.aliases.get(qualifier);
        return table ? { table, column } : undefined;
      }
    }
    return undefined;
  }

  private add(col: PredicateColumn): void {
    const key = `${col.table?.schema ?? ''}.${col.table?.name ?? '?'}.${col.column}.${col.use}.${col.matches ?? col.operator ?? ''}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.columns.push(col);
  }
}

function resolveUnqualified(column: string, scope: Scope): Omit<PredicateColumn, 'use'> | undefined {
  // The innermost scope with any relation owns an unqualified name (SQL's own rule, minus the catalog).
  for (let s: Scope | undefined = scope; s; s = s.parent) {
    if (s.aliases.size === 0) continue;
    const entries = [...s.aliases.values()];
    const tables = dedupe(entries.filter((t): t is TableRef => t !== null));
    if (tables.length === 1 && entries.every((t) => t !== null)) return { table: tables[0], column };
    if (tables.length === 0) return undefined;
    return { candidates: tables, column };
  }
  return undefined;
}

/**
 * The table a query passes through unchanged, which PostgreSQL inlines or pulls up into the query
 * reading it: a plain SELECT of one table's columns, unrenamed (or `*`), with no grouping, DISTINCT,
 * LIMIT/OFFSET, window or locking clause. Its own WHERE is read where the query is.
 */
function passThroughTable(select: Node, scope: Scope): TableRef | undefined {
  if ((select.op && select.op !== 'SETOP_NONE') || select.withClause) return undefined;
  for (const clause of [
    'groupClause',
    'havingClause',
    'distinctClause',
    'limitCount',
    'limitOffset',
    'windowClause',
    'lockingClause',
  ])
    if (select[clause] !== undefined) return undefined;
  const from = select.fromClause as Node[] | undefined;
  const rv = from?.length === 1 ? (from[0].RangeVar as Node | undefined) : undefined;
  if (!rv || rv.inh === false) return undefined;
  const name = String(rv.relname);
  if (!rv.schemaname && scope.ctes.has(name)) return undefined;
  const targets = (select.targetList as Node[] | undefined) ?? [];
  const plain = targets.every((t) => {
    const target = (t.ResTarget ?? {}) as Node;
    const fields = ((target.val as Node | undefined)?.ColumnRef as Node | undefined)?.fields as
      | Node[]
      | undefined;
    if (!fields) return false;
    const last = fields[fields.length - 1];
    if (last.A_Star) return target.name === undefined;
    return target.name === undefined || target.name === (last.String as Node | undefined)?.sval;
  });
  if (!plain || targets.length === 0) return undefined;
  return rv.schemaname ? { schema: String(rv.schemaname), name } : { name };
}

/** How many times the statement reads `name` as an unqualified relation (a CTE's references). */
function references(statement: Node, name: string): number {
  let count = 0;
  forEachNode(statement, (n) => {
    const rv = n.RangeVar as Node | undefined;
    if (rv && !rv.schemaname && rv.relname === name) count++;
  });
  return count;
}

/**
 * The select-list expression an ORDER BY key names: by position (`ORDER BY 2`) or by an output
 * column's name (`SELECT lower(name) AS n … ORDER BY n`), which PostgreSQL tries before input columns.
 */
function selectListItem(select: Node, key: Node | undefined): Node | undefined {
  const targets = ((select.targetList as Node[] | undefined) ?? []).map((t) => (t.ResTarget ?? {}) as Node);
  const position = ((key?.A_Const as Node | undefined)?.ival as Node | undefined)?.ival;
  if (typeof position === 'number') return (targets[position - 1]?.val as Node | undefined) ?? {};
  const fields = (key?.ColumnRef as Node | undefined)?.fields as Node[] | undefined;
  const name = fields?.length === 1 ? (fields[0].String as Node | undefined)?.sval : undefined;
  return name === undefined ? undefined : (targets.find((t) => t.name === name)?.val as Node | undefined);
}

/** DESC, and NULLS FIRST/LAST when it is not the direction's default (NULLS FIRST for DESC). */
function sortDirection(sortBy: Node): Pick<PredicateColumn, 'desc' | 'nullsFirst'> {
  const desc = sortBy.sortby_dir === 'SORTBY_DESC';
  const nulls = sortBy.sortby_nulls as string | undefined;
  const nullsFirst = nulls === 'SORTBY_NULLS_FIRST' ? true : nulls === 'SORTBY_NULLS_LAST' ? false : desc;
  return { ...(desc ? { desc: true as const } : {}), ...(nullsFirst !== desc ? { nullsFirst } : {}) };
}

function sameCandidates(a: { candidates?: TableRef[] }, b: { candidates?: TableRef[] }): boolean {
  const x = a.candidates ?? [];
  const y = b.candidates ?? [];
  return x.length > 0 && x.length === y.length && x.every((t, i) => sameTable(t, y[i]));
}

function dedupe(tables: TableRef[]): TableRef[] {
  const out: TableRef[] = [];
  for (const t of tables) if (!out.some((o) => sameTable(o, t))) out.push(t);
  return out;
}

export function sameTable(a: TableRef | undefined, b: TableRef | undefined): boolean {
  return a !== undefined && b !== undefined && a.name === b.name && (a.schema ?? '') === (b.schema ?? '');
}

export function tableName(t: TableRef): string {
  return t.schema ? `${t.schema}.${t.name}` : t.name;
}

function operatorName(a: Node): string {
  const names = (a.name as Node[] | undefined) ?? [];
  const last = names[names.length - 1];
  return ((last?.String as Node | undefined)?.sval as string | undefined) ?? '';
}

/** `status <> …` or `reads a, b` (no values): which OR branch no index serves. */
function describeBranch(node: Node): string {
  const a = node.A_Expr as Node | undefined;
  const refs: string[] = [];
  // A ColumnRef's fields hold no ColumnRef: each column is seen once.
  const walk = (value: unknown): void =>
    forEachNode(value, (n) => {
      const ref = n.ColumnRef as Node | undefined;
      if (ref)
        refs.push(
          (ref.fields as Node[])
            .map((f) => ((f.String as Node | undefined)?.sval as string) ?? '*')
            .join('.'),
        );
    });
  walk(a ? a.lexpr : node);
  const columns = [...new Set(refs)].join(', ');
  if (a && columns) return `${columns} ${operatorName(a) || 'IN'} …`;
  walk(node);
  const all = [...new Set(refs)];
  if (node.BoolExpr)
    return `${String((node.BoolExpr as Node).boolop).replace('_EXPR', '')} on ${all.join(', ') || 'no column'}`;
  return all.length ? `on ${all.join(', ')}` : 'no column';
}

function holdsSubLink(node: Node): boolean {
  return someNode(node, (n) => 'SubLink' in n);
}

/** True when the expression references no column: a parameter, constant, cast or function of those. */
function isValue(node: Node): boolean {
  return !someNode(node, (n) => 'ColumnRef' in n || 'SubLink' in n);
}
