/** Identifier quoting as PostgreSQL's own `quote_ident` does it, for SQL the advisor writes. */

/**
 * PostgreSQL's reserved and type/function-name keywords (kwlist.h, up to 17): not usable as a bare
 * table or column name. Column-name and unreserved keywords are (ColId), so they stay unquoted.
 */
const RESERVED = new Set(
  (
    'all analyse analyze and any array as asc asymmetric both case cast check collate column constraint create ' +
    'current_catalog current_date current_role current_time current_timestamp current_user default deferrable ' +
    'desc distinct do else end except false fetch for foreign from grant group having in initially intersect ' +
    'into lateral leading limit localtime localtimestamp not null offset on only or order placing primary ' +
    'references returning select session_user some symmetric system_user table then to trailing true union ' +
    'unique user using variadic when where window with ' +
    // type_func_name_keyword
    'authorization binary collation concurrently cross current_schema freeze full ilike inner is isnull join ' +
    'left like natural notnull outer overlaps right similar tablesample verbose'
  ).split(' '),
);

export function quoteIdent(name: string): string {
  if (/^[a-z_][a-z0-9_$]*$/.test(name) && !RESERVED.has(name)) return name;
  return quoteAlways(name);
}

/** `name` in double quotes whatever it is (for catalog look-ups of a name as stored). */
export function quoteAlways(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
