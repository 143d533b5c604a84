/**
 * `ORDER BY 1` and `GROUP BY 2` name select-list columns by position: structure, not values.
 * libpg-query's normalize keeps them (as pg_stat_statements does), but the scanner pass over its
 * output (the safety net for literals it leaves) would make them `$n`, and the advisor could no
 * longer tell which column a statement sorts on. This puts them back into the canonical form.
 */
import { forEachNode, type PgNode, type PgRawStmt, parseStatements } from './parse-tree';
import { LITERAL, literalSpans } from './sql-scanner';

const LITERALS = new RegExp(LITERAL, 'g');

/**
 * `canonical` (scanSql of `normalized`) with the ORDER BY / GROUP BY positions of `normalized`
 * written back; `raw` is the parsed original text, which says whether there are any.
 */
export function keepSortPositions(normalized: string, canonical: string, raw: readonly PgRawStmt[]): string {
  if (positionLocations(raw).size === 0) return canonical;
  let locations: Set<number>;
  try {
    // Positions in the normalized text (normalize rewrites literals, so offsets move).
    locations = positionLocations(parseStatements(normalized));
  } catch {
    return canonical; // `interval $1` and the like do not parse: the positions stay `$n`.
  }
  const spans = literalSpans(normalized, 'pg');
  const keep = new Map<number, string>();
  for (let i = 0; i < spans.length; i += 2) {
    const digits = normalized.slice(spans[i], spans[i + 1]);
    if (locations.has(spans[i]) && /^\d+$/.test(digits)) keep.set(i / 2, digits);
  }
  if (keep.size === 0) return canonical;
  // scanSql turns exactly the tokens literalSpans lists into LITERAL, in the same order.
  let k = 0;
  return canonical.replace(LITERALS, (m) => keep.get(k++) ?? m);
}

/** Where the integer constants of every ORDER BY and GROUP BY item in the statements are. */
function positionLocations(stmts: readonly PgRawStmt[]): Set<number> {
  const out = new Set<number>();
  const position = (node: PgNode | undefined) => {
    const c = node?.A_Const as PgNode | undefined;
    if (c?.ival !== undefined && typeof c.location === 'number') out.add(c.location);
  };
  forEachNode(
    stmts.map((s) => s.stmt),
    (node) => {
      const select = node.SelectStmt as PgNode | undefined;
      if (!select) return;
      for (const s of (select.sortClause as PgNode[] | undefined) ?? [])
        position((s.SortBy as PgNode | undefined)?.node as PgNode | undefined);
      for (const g of (select.groupClause as PgNode[] | undefined) ?? []) position(g);
    },
  );
  return out;
}
