/**
 * Prisma's own SQL, told apart by its select list: Prisma (its Rust engine up to 6, its query
 * compiler with a driver adapter from 7) writes every column schema-qualified and quoted,
 * `SELECT "public"."User"."id", "public"."User"."email" FROM "public"."User"`, which hand-written SQL
 * and the other ORMs do not. Its look-ups carry parts that are no per-item result: `findUnique`
 * adds ` AND 1=1` to its filter (normalized `$2=$3`), and every read ends in `OFFSET $n` (`skip`,
 * 0 unless given) after `LIMIT $n` (`take`; 1 for findUnique/findFirst). The N+1 advice names
 * Prisma's fix when it sees that shape, with the SQL fix beside it.
 */

const SELECT_LIST = /^\s*SELECT\s+"([^"]+)"\."([^"]+)"\."[^"]+"\s*(?:,|FROM\b)/i;
/** findUnique's ` AND 1=1` as the sidecar keeps it, just before the filter's closing parenthesis. */
const UNIQUE_TAUTOLOGY = /\s+AND\s+\$\d+\s*=\s*\$\d+\s*\)/i;
const TAKE_SKIP = /(\s+LIMIT\s+\$\d+)?\s+OFFSET\s+\$\d+\s*;?\s*$/i;

/** The table of a statement Prisma built (`User` in `SELECT "public"."User"."id", … FROM …`). */
export function prismaTable(statement: string): string | undefined {
  return SELECT_LIST.exec(statement)?.[2];
}

/** The client's name of the model a table holds: `prisma.user` for `model User`; a mapped table (@@map) may differ. */
function prismaModel(table: string): string {
  return /^[A-Z][A-Za-z0-9]*$/.test(table) ? table[0].toLowerCase() + table.slice(1) : '<model>';
}

/** The field a column holds, when its name can be one (a mapped column's field is not shown). */
function prismaField(column: string): string {
  return /^[a-z][A-Za-z0-9]*$/.test(column) ? column : `<field of ${column}>`;
}

export interface PrismaRead {
  /** The statement without findUnique's tautology and the trailing LIMIT/OFFSET. */
  core: string;
  /** findUnique (its ` AND 1=1`): one row per value by the schema. */
  unique: boolean;
  /** A LIMIT was there (`take`, findFirst's 1). */
  limited: boolean;
}

/** A Prisma read with its take/skip and findUnique's tautology taken off; undefined for other SQL. */
export function prismaRead(statement: string): PrismaRead | undefined {
  if (prismaTable(statement) === undefined) return undefined;
  const unique = UNIQUE_TAUTOLOGY.test(statement);
  const filtered = unique ? statement.replace(UNIQUE_TAUTOLOGY, ')') : statement;
  const m = TAKE_SKIP.exec(filtered);
  if (!m) return undefined;
  return { core: filtered.slice(0, m.index), unique, limited: m[1] !== undefined };
}

/**
 * The advice for a Prisma read run once per item, by one column (`column`, unquoted), as `batched`
 * (the core with `= ANY($1)`). `findMany` with `{ in: ids }` is Prisma's one query for them all.
 */
export function prismaBatchAdvice(read: PrismaRead, table: string, column: string, batched: string): string {
  const model = prismaModel(table);
  const field = prismaField(column);
  const many = `\`prisma.${model}.findMany({ where: { ${field}: { in: ids } } })\``;
  const call = read.unique
    ? `Prisma sends this for \`findUnique\` by ${field}, awaited once per item: `
    : read.limited
      ? `Prisma sends this for \`findFirst\` (or \`findMany\` with \`take\`) by ${field}, once per item: if one row per ${field} is meant (a unique field), `
      : `Prisma sends this for \`findMany\` by ${field}, once per item: `;
  const match =
    read.unique || read.limited ? `match the rows to the items by ${field}` : `group the rows by ${field}`;
  return (
    `${call}read them all in one query, ${many} (${batched}), and ${match}; or load them with the query that ` +
    'produced the ids (`include: { <relation>: true }`).' +
    (read.unique
      ? ' `findUnique` calls started together (`Promise.all`) are batched by Prisma into one such query; awaited one by one they are not.'
      : '')
  );
}

/** The advice for a Prisma read by a list run once per item: how Prisma loads an `include`. */
export const PRISMA_INCLUDE_ADVICE =
  'Prisma reads an `include`d relation with this shape, for the ids of the rows its query returned: it repeats ' +
  'when that query runs once per item (a `findUnique` with `include` in a loop) — read those items in one ' +
  '`findMany({ where: { id: { in: ids } }, include })`. Otherwise: ';

/** `count({ where: { col } })` as Prisma writes it: a COUNT over a subquery by one column, `OFFSET` its skip. */
const COUNT =
  /^\s*SELECT\s+COUNT\(\*\)\s+AS\s+"_count\$_all"\s+FROM\s+\(\s*SELECT\s+"[^"]+"\."([^"]+)"\."[^"]+"\s+FROM\s+"[^"]+"\."[^"]+"\s+WHERE\s+\(?\s*"[^"]+"\."[^"]+"\."([^"]+)"\s*=\s*\$\d+\s*\)?\s+OFFSET\s+\$\d+\s*\)\s+AS\s+"sub"\s*$/i;

/** The advice for Prisma's `count` by one column run once per item; undefined for other SQL. */
export function prismaCountAdvice(statement: string): string | undefined {
  const m = COUNT.exec(statement);
  if (!m) return undefined;
  const [, table, column] = m;
  const model = prismaModel(table);
  const field = prismaField(column);
  return (
    `Prisma sends this for \`count({ where: { ${field} } })\`, once per item: count them all in one query, ` +
    `\`prisma.${model}.groupBy({ by: ['${field}'], where: { ${field}: { in: ids } }, _count: { _all: true } })\`, ` +
    'or with the rows that hold the ids (`include: { _count: { select: { <relation>: true } } }`). Otherwise: '
  );
}
