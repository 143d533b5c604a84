/**
 * TypeORM's query-result cache in Redis (`cache: { type: 'ioredis' }` with `find({ cache: 60000 })` or
 * a QueryBuilder's `.cache(…)`) keys each result by the query's SQL text and its parameter values:
 * `SELECT "User"."id" AS "User_id" … WHERE "User"."email" = $1 LIMIT 1 -- PARAMETERS: ["alice@…"]`.
 * Split on the delimiters such keys read as `*`, `*:*`, `*:*:*`… by how many colons the SQL and the
 * values hold (ids hidden, but one cache scattered over rows that say nothing of it), so they are one
 * namespace, named for what it is. A cache `id` the app gives (`cache: { id: 'user:1' }`) is a key like
 * any other.
 */
export const TYPEORM_QUERY_CACHE_NAMESPACE = '(typeorm query cache)';

const MARK = ' -- PARAMETERS: ';
/** `SELECT 1 -- PARAMETERS: []`: shorter keys are never TypeORM's. */
const MIN_CHARS = 24;

export function isTypeormQueryCacheKey(key: string): boolean {
  if (key.length < MIN_CHARS) return false;
  // Cheap first: TypeORM caches SELECTs (`WITH …` when it has CTEs), in capitals.
  const c = key.charCodeAt(0);
  if (c !== 83 /* S */ && c !== 87 /* W */) return false;
  return key.indexOf(MARK) > 0 && (key.startsWith('SELECT ') || key.startsWith('WITH '));
}
