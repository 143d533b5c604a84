/**
 * Read-only helpers over libpg-query's JSON parse tree (PostgreSQL 18 grammar). Kept apart from
 * the fingerprinter so other stages (the advisor's predicate-column look-ups) can reuse them.
 * The tree is treated as plain JSON: every node is `{ NodeType: { …fields } }`.
 */
import { parseSync } from 'libpg-query';

export type PgNode = Record<string, unknown>;

export interface PgRawStmt {
  /** `{ SelectStmt: {…} }`, `{ InsertStmt: {…} }`, … */
  stmt: PgNode;
  stmt_location?: number;
  stmt_len?: number;
}

const DML = new Set(['SelectStmt', 'InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);

/** Statements of `text`; throws libpg-query's SqlError when the text is not valid PostgreSQL. */
export function parseStatements(text: string): PgRawStmt[] {
  const result = parseSync(text) as unknown as { stmts?: PgRawStmt[] };
  return result.stmts ?? [];
}

/** The node type of a statement: `SelectStmt`, `TransactionStmt`, … */
export function nodeType(node: PgNode): string {
  for (const key in node) return key;
  return '';
}

/**
 * The statement a report should describe: the first SELECT/INSERT/UPDATE/DELETE/MERGE, so
 * `BEGIN; UPDATE …; COMMIT` is an UPDATE; otherwise the first statement.
 */
export function mainStatement(stmts: readonly PgRawStmt[]): PgNode | undefined {
  for (const s of stmts) if (DML.has(nodeType(s.stmt))) return s.stmt;
  return stmts[0]?.stmt;
}

/** Node types whose verb is not the first word of their name. */
const VERBS: Record<string, string> = {
  VariableSetStmt: 'SET',
  VariableShowStmt: 'SHOW',
  ConstraintsSetStmt: 'SET',
  IndexStmt: 'CREATE',
  ViewStmt: 'CREATE',
  RuleStmt: 'CREATE',
  DefineStmt: 'CREATE',
  CompositeTypeStmt: 'CREATE',
  RenameStmt: 'ALTER',
  CheckPointStmt: 'CHECKPOINT',
  SecLabelStmt: 'SECURITY LABEL',
  ClosePortalStmt: 'CLOSE',
  DeclareCursorStmt: 'DECLARE',
  RefreshMatViewStmt: 'REFRESH',
  PLAssignStmt: 'ASSIGN',
};

/** SELECT / INSERT / UPDATE / DELETE / MERGE, or the verb of a utility statement (BEGIN, SET, CREATE…). */
export function operationOf(stmt: PgNode): string {
  const type = nodeType(stmt);
  const body = stmt[type] as PgNode | undefined;
  switch (type) {
    case 'TransactionStmt': {
      const kind = String(body?.kind ?? 'TRANS_STMT_BEGIN');
      return kind.replace('TRANS_STMT_', '').replace('_', ' ');
    }
    case 'GrantStmt':
    case 'GrantRoleStmt':
      return body?.is_grant ? 'GRANT' : 'REVOKE';
    case 'VacuumStmt':
      return body?.is_vacuumcmd ? 'VACUUM' : 'ANALYZE';
    case 'FetchStmt':
      return body?.ismove ? 'MOVE' : 'FETCH';
  }
  const verb = VERBS[type];
  if (verb !== undefined) return verb;
  // SelectStmt → SELECT, AlterTableStmt → ALTER, CreateStmt → CREATE, TruncateStmt → TRUNCATE…
  const word = /^[A-Z][a-z]+/.exec(type);
  return word ? word[0].toUpperCase() : '';
}

interface RangeVar {
  schemaname?: string;
  relname?: string;
}

/** CTE names declared anywhere in the statement: a RangeVar naming one is not a table. */
function cteNames(node: unknown, into: Set<string>): Set<string> {
  if (Array.isArray(node)) {
    for (const item of node) cteNames(item, into);
  } else if (node !== null && typeof node === 'object') {
    const cte = (node as PgNode).CommonTableExpr as { ctename?: string } | undefined;
    if (cte?.ctename) into.add(cte.ctename);
    for (const key in node as PgNode) cteNames((node as PgNode)[key], into);
  }
  return into;
}

function relationName(rv: RangeVar, ctes: ReadonlySet<string>): string {
  if (!rv.relname) return '';
  if (rv.schemaname) return `${rv.schemaname}.${rv.relname}`;
  return ctes.has(rv.relname) ? '' : rv.relname;
}

/** Depth-first search for the first relation, FROM clauses before select lists and WHERE. */
function findRelation(node: unknown, ctes: ReadonlySet<string>): string {
  if (Array.isArray(node)) {
    for (const item of node) {
      const found = findRelation(item, ctes);
      if (found) return found;
    }
    return '';
  }
  if (node === null || typeof node !== 'object') return '';
  const obj = node as PgNode;
  if (obj.RangeVar) return relationName(obj.RangeVar as RangeVar, ctes);
  // Fields typed RangeVar (InsertStmt.relation, CopyStmt.relation, …) are not wrapped in a node.
  if (typeof obj.relname === 'string') return relationName(obj as RangeVar, ctes);
  const select = obj.SelectStmt as PgNode | undefined;
  if (select) {
    const found =
      findRelation(select.fromClause, ctes) ||
      findRelation(select.larg, ctes) ||
      findRelation(select.rarg, ctes);
    if (found) return found;
  }
  for (const key in obj) {
    const found = findRelation(obj[key], ctes);
    if (found) return found;
  }
  return '';
}

/**
 * The table a statement is about: the target of INSERT/UPDATE/DELETE/MERGE, else the first
 * relation in FROM (CTE names skipped), else the first relation anywhere; schema-qualified when
 * the text qualifies it; '' when there is none (`SELECT 1`, `SELECT nextval(…)`).
 */
export function tableOf(stmt: PgNode): string {
  const ctes = cteNames(stmt, new Set());
  const body = stmt[nodeType(stmt)] as PgNode | undefined;
  const target = body?.relation as RangeVar | undefined;
  if (target && DML.has(nodeType(stmt))) {
    const name = relationName(target, ctes);
    if (name) return name;
  }
  return findRelation(stmt, ctes);
}

/** Calls `visit` on every object of `value` (a tree, a node list or a field), parents before children. */
export function forEachNode(value: unknown, visit: (node: PgNode) => void): void {
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    for (const v of value) forEachNode(v, visit);
    return;
  }
  visit(value as PgNode);
  for (const v of Object.values(value)) forEachNode(v, visit);
}

/** Whether any object of `value` passes `test`, parents first; stops at the first that does. */
export function someNode(value: unknown, test: (node: PgNode) => boolean): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return value.some((v) => someNode(v, test));
  return test(value as PgNode) || Object.values(value).some((v) => someNode(v, test));
}
