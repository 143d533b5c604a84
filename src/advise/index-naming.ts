/**
 * How an index and its table are written in advice: the table as SQL, an existing index described,
 * a new index's name, a key's direction. Apart from index-plan.ts so index-pattern.ts and
 * index-or.ts use them without importing the planner that calls them.
 */
import { quoteIdent } from '../sql/quote-ident';
import type { ExistingIndex, SortDirection, TableInfo } from './index-plan';
import type { PredicateExpression } from './predicate-columns';

export function displayTable(info: Pick<TableInfo, 'schema' | 'name'>): string {
  return info.schema === 'public'
    ? quoteIdent(info.name)
    : `${quoteIdent(info.schema)}.${quoteIdent(info.name)}`;
}

/** ` DESC`, ` NULLS FIRST`, … as CREATE INDEX spells a key's direction (nothing for ASC NULLS LAST). */
export function directionSql(d: SortDirection | undefined): string {
  if (!d) return '';
  const nulls = d.nullsFirst === d.desc ? '' : d.nullsFirst ? ' NULLS FIRST' : ' NULLS LAST';
  return `${d.desc ? ' DESC' : ''}${nulls}`;
}

export function describeIndex(ix: ExistingIndex): string {
  const cols = ix.columns
    .map(
      (c, i) =>
        (c ?? ix.expressions?.[i]?.shown ?? '(expression)') +
        (ix.opclasses?.[i] ? ` ${ix.opclasses[i]}` : '') +
        directionSql({ desc: !!ix.desc?.[i], nullsFirst: !!ix.nullsFirst?.[i] }),
    )
    .join(', ');
  const tags = [
    ix.unique ? 'unique' : '',
    ix.method !== 'btree' ? ix.method : '',
    ix.partial ? 'partial' : '',
  ]
    .filter(Boolean)
    .join(' ');
  return `${ix.name} (${cols})${tags ? ` ${tags}` : ''}`;
}

/**
 * `<table>_<col>_<col>_idx` (an expression by its words: `users_lower_email_idx`), within
 * PostgreSQL's 63-byte limit and not clashing with an existing name.
 */
export function indexName(
  info: TableInfo,
  columns: string[],
  expressions: ReadonlyMap<string, unknown>,
): string {
  const base = `${info.name}_${indexWords(columns, expressions)}`.slice(0, 59);
  const taken = new Set(info.indexes.map((ix) => ix.name));
  let name = `${base}_idx`;
  for (let n = 2; taken.has(name); n++) name = `${base.slice(0, 56)}_idx${n}`;
  return name;
}

/** The part of an index's name after its table's: its columns, an expression by its words. */
function indexWords(columns: string[], expressions: ReadonlyMap<string, unknown>): string {
  return columns
    .map((c) => (expressions.has(c) ? c.replace(/[^A-Za-z0-9_]+/g, '_').replace(/^_+|_+$/g, '') : c))
    .join('_');
}

/** A column's name, or an expression in the parentheses CREATE INDEX wants unless it reads as a function call. */
export function keySql(
  column: string,
  expression: Pick<PredicateExpression, 'functionLike'> | undefined,
): string {
  if (!expression) return quoteIdent(column);
  return expression.functionLike ? column : `(${column})`;
}

/** Partitions whose statements a partitioned table's advice spells out; the rest are counted. */
export const MAX_LISTED_PARTITIONS = 8;

/**
 * The CREATE INDEX that builds `name` on `info` without blocking writes: `keys` the key list as SQL,
 * `using` an access method clause (` USING gin`), `naming` what a partition's own index is named from.
 *
 * A table takes CREATE INDEX CONCURRENTLY. A partitioned table refuses it, and a plain CREATE INDEX
 * on one blocks writes to every partition while it builds; PostgreSQL's documented way round is an
 * index ON ONLY the parent (no rows read; INVALID until every partition has its own attached), then
 * each partition's built concurrently and attached. The parent's index then becomes valid by itself,
 * and partitions added later get theirs automatically.
 */
export function createIndexSql(
  info: TableInfo,
  name: string,
  keys: string,
  naming: { columns: string[]; expressions: ReadonlyMap<string, unknown> },
  using = '',
): string {
  if (info.relkind !== 'p')
    return `CREATE INDEX CONCURRENTLY ${quoteIdent(name)} ON ${displayTable(info)}${using} (${keys});`;
  const lines = [
    `CREATE INDEX IF NOT EXISTS ${quoteIdent(name)} ON ONLY ${displayTable(info)}${using} (${keys});`,
  ];
  // Each partition's index attaches to its own parent's: the table's, or a sub-partitioned partition's.
  const indexOf = new Map<string, string>([
    [displayTable(info), displayTable({ schema: info.schema, name })],
  ]);
  let leaves = 0;
  for (const part of info.partitions ?? []) {
    if (!part.partitioned && leaves >= MAX_LISTED_PARTITIONS) break;
    const own = indexName({ ...info, ...part, indexes: [] }, naming.columns, naming.expressions);
    const ownIndex = displayTable({ schema: part.schema, name: own });
    const parentIndex = indexOf.get(displayTable(part.of ?? info));
    if (parentIndex === undefined) continue;
    if (part.partitioned) {
      indexOf.set(displayTable(part), ownIndex);
      lines.push(
        `CREATE INDEX IF NOT EXISTS ${quoteIdent(own)} ON ONLY ${displayTable(part)}${using} (${keys});`,
      );
    } else {
      leaves++;
      lines.push(
        `CREATE INDEX CONCURRENTLY IF NOT EXISTS ${quoteIdent(own)} ON ${displayTable(part)}${using} (${keys});`,
      );
    }
    lines.push(`ALTER INDEX ${parentIndex} ATTACH PARTITION ${ownIndex};`);
  }
  return lines.join(' ');
}

/**
 * A proposal's CREATE INDEX (createIndexSql) and, for a partitioned table, its `partitions`, and when
 * there are more than createIndexSql spells out, `otherPartitionsSql` (partitionStatementsQuery).
 */
export function indexStatement(
  info: TableInfo,
  name: string,
  keys: string,
  naming: { columns: string[]; expressions: ReadonlyMap<string, unknown> },
  using = '',
): { statement: string; partitions?: number; otherPartitionsSql?: string } {
  const statement = createIndexSql(info, name, keys, naming, using);
  if (info.relkind !== 'p') return { statement };
  const partitions = info.partitionCount ?? (info.partitions ?? []).filter((p) => !p.partitioned).length;
  if (partitions <= MAX_LISTED_PARTITIONS) return { statement, partitions };
  return {
    statement,
    partitions,
    otherPartitionsSql: partitionStatementsQuery(info, name, keys, naming, using),
  };
}

/**
 * A query that writes createIndexSql's statements for every partition of the table, one per row,
 * each partitioned partition's before its own partitions' (psql's `\gexec` runs them in order, each
 * outside a transaction as CREATE INDEX CONCURRENTLY needs). Its names are createIndexSql's, so the
 * statements spelt out already are written again and do nothing: IF NOT EXISTS, and PostgreSQL leaves
 * an index attached to the same parent as it is.
 */
function partitionStatementsQuery(
  info: TableInfo,
  name: string,
  keys: string,
  naming: { columns: string[]; expressions: ReadonlyMap<string, unknown> },
  using: string,
): string {
  const literal = (text: string) => `'${text.replace(/'/g, "''")}'`;
  // The index's keys go into format()'s template, where a % of theirs must be doubled.
  const rest = `${using} (${keys});`.replace(/%/g, '%%');
  const suffix = literal(`_${indexWords(naming.columns, naming.expressions)}`);
  // indexName's rule in SQL: `<partition>_<words>` cut to 59 characters, then `_idx`.
  const indexOf = (relname: string) => `left(${relname} || ${suffix}, 59) || '_idx'`;
  const own = indexOf('c.relname');
  const parentIndex = `CASE WHEN t.level = 1 THEN ${literal(name)} ELSE ${indexOf('p.relname')} END`;
  const create =
    `format(CASE WHEN t.isleaf THEN ${literal(`CREATE INDEX CONCURRENTLY IF NOT EXISTS %I ON %I.%I${rest}`)} ` +
    `ELSE ${literal(`CREATE INDEX IF NOT EXISTS %I ON ONLY %I.%I${rest}`)} END, ${own}, n.nspname, c.relname)`;
  const attach = `format('ALTER INDEX %I.%I ATTACH PARTITION %I.%I;', pn.nspname, ${parentIndex}, n.nspname, ${own})`;
  return (
    `SELECT s.sql FROM pg_partition_tree(${literal(displayTable(info))}::regclass) t ` +
    'JOIN pg_class c ON c.oid = t.relid JOIN pg_namespace n ON n.oid = c.relnamespace ' +
    'JOIN pg_class p ON p.oid = t.parentrelid JOIN pg_namespace pn ON pn.oid = p.relnamespace ' +
    `CROSS JOIN LATERAL (VALUES (1, ${create}), (2, ${attach})) AS s(step, sql) ` +
    'WHERE t.level > 0 ORDER BY t.level, n.nspname, c.relname, s.step'
  );
}
