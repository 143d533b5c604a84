/**
 * Index advice for a statement whose names have id parts (`tenant_*.invoices`, src/sql/identifier-ids.ts).
 * The check runs on the fingerprint's sample, the statement as one tenant wrote it (SqlFingerprinter
 * .sampleStatement), since a real table is needed to read statistics from and to EXPLAIN; what it found is
 * written back with the id parts as `*` here, so the sample's names never leave the advisor.
 */
import { templateNamesInText } from '../sql/identifier-ids';
import type { PredicateColumn, TableRef } from './predicate-columns';
import type { IndexFinding, IndexProposal } from './types';

/** Said with every proposal on a templated table: which tables it is for. */
export const EACH_TABLE_NOTE =
  '`*` stands for the ids in the names the statement runs on (one row for all of them; one was checked): ' +
  'create it on each of them, e.g. in each tenant schema';

/** Text of the finding with its names' id parts as `*`, but for its columns (the statement's shape keeps them too). */
type Template = (text: string) => string;

function tableRef(ref: TableRef, sql: Template): TableRef {
  return ref.schema === undefined
    ? { name: sql(ref.name) }
    : { schema: sql(ref.schema), name: sql(ref.name) };
}

function column(c: PredicateColumn, sql: Template): PredicateColumn {
  return {
    ...c,
    ...(c.table ? { table: tableRef(c.table, sql) } : {}),
    ...(c.candidates ? { candidates: c.candidates.map((ref) => tableRef(ref, sql)) } : {}),
  };
}

function proposal(p: IndexProposal, sql: Template): IndexProposal {
  const table = sql(p.table);
  const statement = sql(p.statement);
  const templated = table !== p.table || statement !== p.statement;
  const note = templated ? (p.note ? `${sql(p.note)}; ${EACH_TABLE_NOTE}` : EACH_TABLE_NOTE) : p.note;
  return {
    ...p,
    table,
    statement,
    existingIndexes: p.existingIndexes.map(sql),
    ...(p.invalidIndex !== undefined ? { invalidIndex: sql(p.invalidIndex) } : {}),
    ...(p.plan ? { plan: { ...p.plan, shape: sql(p.plan.shape) } } : {}),
    ...(p.bitmapOr !== undefined ? { bitmapOr: sql(p.bitmapOr) } : {}),
    ...(note !== undefined ? { note } : {}),
  };
}

/** `finding` (of a sample statement) with the id parts of every name in it but its columns as `*`. */
export function templateFinding(finding: IndexFinding): IndexFinding {
  const columns = new Set<string>();
  for (const c of finding.columns) {
    columns.add(c.column);
    for (const name of c.expression?.columns ?? []) columns.add(name);
  }
  for (const p of finding.proposals) for (const name of p.columns) columns.add(name);
  const sql: Template = (text) => templateNamesInText(text, columns);
  return {
    ...finding,
    columns: finding.columns.map((c) => column(c, sql)),
    ...(finding.error !== undefined ? { error: sql(finding.error) } : {}),
    proposals: finding.proposals.map((p) => proposal(p, sql)),
    skipped: finding.skipped.map((s) => ({ ...s, table: sql(s.table), detail: sql(s.detail) })),
  };
}
