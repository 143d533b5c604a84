/**
 * TypeORM's own SQL, told apart by its select list: its SelectQueryBuilder writes every column as
 * `"alias"."column" AS "alias_column"`, which hand-written SQL and the other ORMs (Knex, Sequelize)
 * do not. The N+1 advice names TypeORM's fix when it sees that shape; the SQL fix stays beside it.
 */
import { escapeRegex } from '../../escape-regex';

const SELECT_LIST = /^\s*SELECT\s+(?:DISTINCT\s+)?"([^"]+)"\."([^"]+)"\s+AS\s+"([^"]+)"/i;

/** The main alias of a statement TypeORM built (`"User"` in `SELECT "User"."id" AS "User_id" …`). */
export function typeormAlias(statement: string): string | undefined {
  const m = SELECT_LIST.exec(statement);
  return m && m[3] === `${m[1]}_${m[2]}` ? m[1] : undefined;
}

/**
 * `FROM "invoice_lines" "lines" … WHERE "lines"."invoice_id" IN ($1)`: how TypeORM's RelationLoader reads a
 * lazy relation (`await invoice.lines`), aliased by the relation's property, one entity's id per call.
 * The relation's name (`lines`) when the statement has that shape (a filter on one column by an IN
 * list, and the soft-delete filter), else undefined. A QueryBuilder's own `where('x.id IN (:...ids)')`
 * can read the same, hence the advice says "if".
 */
export function typeormRelationLoad(statement: string): string | undefined {
  const alias = typeormAlias(statement);
  // The loader's alias is the relation's property (camelCase); `save([...])` reads its entities with
  // the same filter under the entity's name (PascalCase, as TypeORM's entity classes are named).
  if (alias === undefined || !/^[a-z]/.test(alias)) return undefined;
  const from = new RegExp(`\\bFROM\\s+"[^"]+"\\s+"${escapeRegex(alias)}"`).test(statement);
  return from && RELATION_FILTER.test(statement) ? alias : undefined;
}

/**
 * The RelationLoader's WHERE: `"a"."c" IN (…)`, alone or as `( … ) AND ( "a"."deletedAt" IS NULL )`
 * for a soft-deletable entity. `find`/`findBy` wrap their conditions in `((…))`, so theirs differ.
 */
const RELATION_FILTER =
  /\bWHERE\s+(?:\(\s+)?"[^"]+"\."[^"]+"\s+IN\s*\(\s*\$\d+\s*(?:\/\*,\s*\.\.\.\s*\*\/\s*)?\)(?:\s+\)\s+AND\s+\(\s*"[^"]+"\."[^"]+"\s+IS\s+NULL\s*\))?\s*$/i;

/**
 * `… FROM "things" "Thing" WHERE "Thing"."id" = $1` and nothing more: how `save()` reads an entity it
 * was given before updating it (`find`/`findOneBy` write `((…))`, and add the soft-delete filter).
 */
export function typeormSaveLoad(statement: string): boolean {
  const alias = typeormAlias(statement);
  if (alias === undefined) return false;
  const a = escapeRegex(alias);
  return new RegExp(`\\bFROM\\s+"[^"]+"\\s+"${a}"\\s+WHERE\\s+"${a}"\\."[^"]+"\\s*=\\s*\\$\\d+\\s*$`).test(
    statement,
  );
}

/**
 * The two queries TypeORM sends for `findOne`, or `find` with `take`/`skip`, when relations are joined:
 * `SELECT DISTINCT "distinctAlias"."Post_id" … LIMIT 1` for the page's ids, then the rows with
 * `… AND ( "Post"."id" IN (…) )` (ids inlined, which the sidecar normalizes to `$n`).
 */
export function typeormPagedFetch(statement: string): boolean {
  if (/^\s*SELECT\s+DISTINCT\s+"distinctAlias"\./.test(statement)) return true;
  const alias = typeormAlias(statement);
  if (alias === undefined) return false;
  const a = escapeRegex(alias);
  return new RegExp(
    `\\bAND\\s+\\(\\s*"${a}"\\."[^"]+"\\s+IN\\s*\\(\\s*\\$\\d+\\s*(?:/\\*,\\s*\\.\\.\\.\\s*\\*/\\s*)?\\)\\s*\\)(?:\\s+ORDER\\s+BY\\s[^()]*)?\\s*$`,
  ).test(statement);
}

/** The advice for a paged fetch (typeormPagedFetch) run once per id. */
export const TYPEORM_PAGED_FETCH_ADVICE =
  'TypeORM sends this pair (the ids with `SELECT DISTINCT "distinctAlias"…`, then their rows) for `findOne`, or ' +
  '`find` with `take`/`skip`, when `relations` are joined: once per id in a loop, read them all with one ' +
  "`find({ where: { <property>: In(ids) }, relations })` without `take` (one query) and pick each id's rows in code. Otherwise: ";

/** TypeORM's batched form of a one-row look-up on `column`: `findBy({ id: In(ids) })`. */
export function typeormFindByIn(column: string): string {
  // A snake_case column usually maps to a camelCase property whose name the SQL does not show.
  const property = /^[a-z][A-Za-z0-9]*$/.test(column) ? column : `<property of ${column}>`;
  return `findBy({ ${property}: In(ids) })`;
}
