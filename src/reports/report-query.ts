/** Validation of a ReportQuery and the shared filter → sort → limit step of every report. */
import { SpanstatError } from '../errors';
import type { Report, ReportQuery, WindowName } from './types';
import { WINDOWS } from './types';

/** Keys of R whose values are numbers (nullable ones included: nulls sort last). */
export type NumericKey<R> = { [K in keyof R]-?: R[K] extends number | null ? K : never }[keyof R] & string;

export interface ReportSpec<R> {
  /** Columns `sort` may name. */
  sortable: readonly NumericKey<R>[];
  defaultSort: NumericKey<R>;
  /** Order among equal sort values, so output is deterministic. */
  identity: (row: R) => string;
}

export interface CheckedQuery<R> {
  window: WindowName;
  service: string | undefined;
  sort: NumericKey<R>;
  limit: number | undefined;
}

function badParam(detail: string): SpanstatError {
  return new SpanstatError('SPANSTAT_ERR_API_BAD_PARAM', detail);
}

/** Rejects an unknown window, an unknown or non-numeric sort column and a limit that is not a positive integer. */
export function checkQuery<R>(q: ReportQuery, spec: ReportSpec<R>): CheckedQuery<R> {
  if (!WINDOWS.includes(q.window)) {
    throw badParam(`'window' must be one of ${WINDOWS.join(', ')}, got '${String(q.window)}'`);
  }
  const sort = q.sort ?? spec.defaultSort;
  if (!(spec.sortable as readonly string[]).includes(sort)) {
    throw badParam(`'sort' must be one of ${spec.sortable.join(', ')}, got '${sort}'`);
  }
  if (q.limit !== undefined && !(Number.isInteger(q.limit) && q.limit > 0)) {
    throw badParam(`'limit' must be a positive integer, got '${String(q.limit)}'`);
  }
  return { window: q.window, service: q.service, sort: sort as NumericKey<R>, limit: q.limit };
}

/** Sorts rows by the query's column, descending (nulls last, ties by identity), and applies the limit. */
export function finishReport<R>(
  rows: R[],
  q: CheckedQuery<R>,
  spec: ReportSpec<R>,
  range: { fromMs: number; toMs: number },
): Report<R> {
  const key = q.sort;
  const ids = new Map<R, string>();
  const id = (row: R) => {
    let s = ids.get(row);
    if (s === undefined) {
      s = spec.identity(row);
      ids.set(row, s);
    }
    return s;
  };
  rows.sort((a, b) => {
    const x = a[key] as number | null;
    const y = b[key] as number | null;
    if (x !== y) {
      if (x === null) return 1;
      if (y === null) return -1;
      if (y !== x) return y - x;
    }
    const ia = id(a);
    const ib = id(b);
    return ia < ib ? -1 : ia > ib ? 1 : 0;
  });
  const totalRows = rows.length;
  return {
    window: q.window,
    fromMs: range.fromMs,
    toMs: range.toMs,
    rows: q.limit !== undefined && rows.length > q.limit ? rows.slice(0, q.limit) : rows,
    totalRows,
  };
}

/** Milliseconds to 1 µs. */
export function roundMs(v: number): number {
  return Math.round(v * 1000) / 1000;
}

/** Ratios and rates to 4 decimals. */
export function roundRatio(v: number): number {
  return Math.round(v * 10_000) / 10_000;
}

/** a / b, 0 when b is 0. */
export function per(a: number, b: number): number {
  return b > 0 ? a / b : 0;
}
