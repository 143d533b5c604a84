/**
 * Redis keys that are SQL text. TypeORM's query-result cache in Redis (`cache: { type: 'ioredis' }`
 * with `find({ cache: 60000 })` or a QueryBuilder's `.cache(…)`) keys each result by the query's SQL
 * and its parameter values: `SELECT "User"."id" AS "User_id" … LIMIT 1 -- PARAMETERS: ["alice@…"]`,
 * which the preload sends cut to MAX_SERIALIZED_KEY_CHARS (256), so usually without the parameters.
 * Split on the delimiters such keys read as `*`, `*:*`, `*:*:gb:*`… by the colons the SQL and the
 * values hold (a word between two colons of a value was learned like a name), so they are one
 * namespace, named for what it is. A cache `id` the app gives (`cache: { id: 'user:1' }`) is a key
 * like any other.
 */
export const SQL_QUERY_CACHE_NAMESPACE = '(sql query cache)';

/** `SELECT 1 -- PARAMETERS: []`: shorter keys are not taken for SQL. */
const MIN_CHARS = 24;

/** A key that starts as a statement does (`SELECT `, `WITH `, in capitals as ORMs write them). */
export function isSqlTextKey(key: string): boolean {
  if (key.length < MIN_CHARS) return false;
  const c = key.charCodeAt(0);
  if (c !== 83 /* S */ && c !== 87 /* W */) return false;
  return key.startsWith('SELECT ') || key.startsWith('WITH ');
}
