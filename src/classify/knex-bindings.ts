/**
 * knex's `?` placeholders numbered as its PostgreSQL dialect numbers them before the driver sees the
 * text (`Client_PG#positionBindings`: a `?` after an even run of backslashes becomes `$1`, `$2`…, one
 * after an odd run a plain `?`, the backslashes dropped either way; quotes are not considered). The
 * same rule here turns the text instrumentation-knex records into the driver's, so the pair shares
 * one fingerprint.
 */
export function knexPositionalBindings(sql: string): string {
  if (!sql.includes('?')) return sql;
  let n = 0;
  return sql.replace(/(\\*)\?/g, (_match, escapes: string) => (escapes.length % 2 === 1 ? '?' : `$${++n}`));
}
