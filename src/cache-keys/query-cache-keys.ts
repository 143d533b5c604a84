/**
 * Redis keys that are SQL text. TypeORM's query-result cache in Redis (`cache: { type: 'ioredis' }`
 * with `find({ cache: 60000 })` or a QueryBuilder's `.cache(…)`) keys each result by the query's SQL
 * and its parameter values: `SELECT "User"."id" AS "User_id" … LIMIT 1 -- PARAMETERS: ["alice@…"]`,
 * which the preload sends cut to MAX_SERIALIZED_KEY_CHARS (256), so usually without the parameters,
 * and with `_` for each whitespace character.
 * Split on the delimiters such keys read as `*`, `*:*`, `*:*:gb:*`… by the colons the SQL and the
 * values hold (a word between two colons of a value was learned like a name), so they are one
 * namespace, named for what it is. A cache `id` the app gives (`cache: { id: 'user:1' }`) is a key
 * like any other.
 */
export const SQL_QUERY_CACHE_NAMESPACE = '(sql query cache)';

/** `SELECT 1 -- PARAMETERS: []`: shorter keys are not taken for SQL. */
const MIN_CHARS = 24;

/**
 * The statement openings an ORM writes (TypeORM: `SELECT "Alias"."col" AS …`, `SELECT DISTINCT "…`,
 * `SELECT COUNT(DISTINCT(…`, `WITH "cte" AS (…`), with ` ` or the `_` the preload puts for whitespace
 * in a key; a key such as `SELECT_OPTIONS:42` is not one.
 */
const SQL_OPENING =
  /^(?:SELECT[ _](?:"|\*|DISTINCT[ _]|COUNT\()|WITH[ _](?:RECURSIVE[ _])?"?\w+"?[ _]AS[ _]\()/;

export function isSqlTextKey(key: string): boolean {
  if (key.length < MIN_CHARS) return false;
  const c = key.charCodeAt(0);
  if (c !== 83 /* S */ && c !== 87 /* W */) return false;
  return SQL_OPENING.test(key);
}
