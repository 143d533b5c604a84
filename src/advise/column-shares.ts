/**
 * The share of a table's rows an equality on one column matches, from its pg_stats: what the index
 * planner ranks columns by (index-plan.ts) and how many rows a LIKE beside an `=` filter is checked
 * on (index-pattern.ts).
 */
import type { ColumnStats, PlannedUse } from './index-plan';

/**
 * The share of rows the equality `tests` of one column match when they name the value (IS NULL, a
 * bare boolean: its null or true share); undefined for `= $1`, when they disagree, or without statistics.
 */
export function namedShare(tests: PlannedUse[], stats: ColumnStats | undefined): number | undefined {
  if (!stats || tests.length === 0 || tests.some((u) => u.matches !== tests[0].matches)) return undefined;
  if (tests[0].matches === 'null') return stats.nullFrac;
  if (tests[0].matches === 'true') return stats.trueFrac;
  return undefined;
}

/** One value's share of the column's non-null rows (pg_stats' n_distinct); undefined without statistics. */
export function valueShare(stats: ColumnStats | undefined): number | undefined {
  return !stats || stats.distinct == null || stats.distinct <= 0
    ? undefined
    : (1 - stats.nullFrac) / Math.max(1, stats.distinct);
}
