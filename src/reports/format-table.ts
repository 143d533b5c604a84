/**
 * Aligned plain-text tables for `spanstat report`: a header of titles, one line per row,
 * columns separated by two spaces, numbers right-aligned, no trailing spaces. Width is counted
 * in code points (wide CJK characters would misalign; routes and SQL are ASCII in practice).
 */

export interface Column<R> {
  key: keyof R & string;
  title: string;
  /** Default: right for numbers, left for everything else (decided per column from its values). */
  align?: 'left' | 'right';
  /** Default: see formatValue. */
  format?: (value: R[keyof R & string], row: R) => string;
  /** Longer cells are cut with '…'. */
  maxWidth?: number;
}

const GAP = '  ';

/** `-` for null/undefined, integers as is, other numbers to 2 decimals, objects as JSON. */
export function formatValue(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : value.toFixed(2);
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function width(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function cut(s: string, max: number | undefined): string {
  if (max === undefined || width(s) <= max) return s;
  return `${[...s].slice(0, Math.max(0, max - 1)).join('')}…`;
}

function pad(s: string, w: number, align: 'left' | 'right'): string {
  const fill = ' '.repeat(w - width(s));
  return align === 'right' ? fill + s : s + fill;
}

export interface TableOptions {
  /** Cells are never cut (`spanstat report --wide`): whole statements, for a pager or a wide terminal. */
  wide?: boolean;
}

export function formatTable<R extends object>(
  rows: readonly R[],
  columns: readonly Column<R>[],
  options: TableOptions = {},
): string {
  const cells = rows.map((row) =>
    columns.map((c) => {
      const v = row[c.key];
      // Flattened to one line: a cell never breaks the table.
      const text = (c.format ? c.format(v, row) : formatValue(v)).replace(/\s*[\r\n\t]\s*/g, ' ');
      return options.wide ? text : cut(text, c.maxWidth);
    }),
  );
  const aligns = columns.map((c) => {
    if (c.align) return c.align;
    const sample = rows.find((r) => r[c.key] !== null && r[c.key] !== undefined);
    return sample !== undefined && typeof sample[c.key] === 'number' ? 'right' : 'left';
  });
  const widths = columns.map((c, i) => Math.max(width(c.title), ...cells.map((line) => width(line[i]))));
  const render = (line: string[]) =>
    line
      .map((cell, i) => pad(cell, widths[i], aligns[i]))
      .join(GAP)
      .trimEnd();
  return [render(columns.map((c) => c.title)), ...cells.map(render)].join('\n');
}
