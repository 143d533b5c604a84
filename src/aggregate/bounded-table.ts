/**
 * A row table with a cardinality cap, like the OpenTelemetry spanmetrics connector: once
 * `maxRows` ordinary rows exist, a record for a new key lands in its service's overflow row
 * (key `__overflow__`, statement/namespace/route `(other)`), so the sum over all rows still
 * equals everything recorded. Overflow rows are one per service up to `maxOverflowRows`; past
 * that, records go to one shared overflow row whose service is `(other)`.
 *
 * Rows are found by (group, key) in nested maps rather than by a concatenated string: the group
 * (service) and key (fingerprint) strings are reused objects whose hashes V8 caches, while a
 * concatenation would be re-hashed on every call.
 */

export const OVERFLOW_KEY = '__overflow__';
export const OVERFLOW_LABEL = '(other)';
/** Per-service overflow rows before the shared `(other)` row is used. */
export const MAX_OVERFLOW_ROWS = 64;

/**
 * Builds a row from the record that needs it. `overflowService` is null for an ordinary row;
 * for an overflow row it is the service the row stands for (`(other)` for the shared row).
 */
export type RowFactory<A, R> = (arg: A, overflowService: string | null) => R;

export class BoundedTable<R> {
  private readonly groups = new Map<string, Map<string, R>>();
  private readonly overflowRows = new Map<string, R>();
  private shared: R | undefined;
  private ordinary = 0;
  /** Records that landed in an overflow row because the table was full. */
  overflowRecords = 0;

  constructor(
    readonly maxRows: number,
    readonly maxOverflowRows = MAX_OVERFLOW_ROWS,
  ) {}

  get(group: string, key: string): R | undefined {
    return this.groups.get(group)?.get(key);
  }

  /** The row for (group, key), created while under the cap, else the service's overflow row. */
  upsert<A>(group: string, key: string, service: string, arg: A, make: RowFactory<A, R>): R {
    let rows = this.groups.get(group);
    if (rows !== undefined) {
      const row = rows.get(key);
      if (row !== undefined) return row;
    }
    if (this.ordinary >= this.maxRows) return this.overflowFor(service, arg, make);
    const row = make(arg, null);
    if (rows === undefined) {
      rows = new Map();
      this.groups.set(group, rows);
    }
    rows.set(key, row);
    this.ordinary++;
    return row;
  }

  /** The row for (group, key) if it exists, else the overflow row the key would have landed in. */
  find(group: string, key: string, service: string): R | undefined {
    const row = this.get(group, key);
    if (row !== undefined) return row;
    const overflow = this.overflowRows.get(service);
    if (overflow !== undefined) return overflow;
    return this.overflowRows.size >= this.maxOverflowRows ? this.shared : undefined;
  }

  /** Removes an ordinary row; true when it existed. */
  delete(group: string, key: string): boolean {
    const rows = this.groups.get(group);
    if (rows === undefined || !rows.delete(key)) return false;
    if (rows.size === 0) this.groups.delete(group);
    this.ordinary--;
    return true;
  }

  /** Moves an ordinary row to a new key in the same group (the caller relabels the row). */
  rekey(group: string, from: string, to: string): boolean {
    const rows = this.groups.get(group);
    const row = rows?.get(from);
    if (rows === undefined || row === undefined || rows.has(to)) return false;
    rows.delete(from);
    rows.set(to, row);
    return true;
  }

  /** Ordinary rows of one group. */
  group(group: string): IterableIterator<[string, R]> {
    return (this.groups.get(group) ?? new Map<string, R>()).entries();
  }

  /** Group names holding ordinary rows. */
  groupNames(): IterableIterator<string> {
    return this.groups.keys();
  }

  /** Every row: ordinary, per-service overflow, then the shared overflow row. */
  *rows(): IterableIterator<R> {
    for (const rows of this.groups.values()) yield* rows.values();
    yield* this.overflowRows.values();
    if (this.shared !== undefined) yield this.shared;
  }

  /** Ordinary rows (the cap applies to these). */
  get size(): number {
    return this.ordinary;
  }

  private overflowFor<A>(service: string, arg: A, make: RowFactory<A, R>): R {
    this.overflowRecords++;
    let row = this.overflowRows.get(service);
    if (row !== undefined) return row;
    if (this.overflowRows.size < this.maxOverflowRows) {
      row = make(arg, service);
      this.overflowRows.set(service, row);
      return row;
    }
    if (this.shared === undefined) this.shared = make(arg, OVERFLOW_LABEL);
    return this.shared;
  }
}
