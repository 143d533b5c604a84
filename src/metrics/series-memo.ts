/** Label sets remembered per key (more are resolved every time, still correctly). */
const MAX_SETS_PER_KEY = 16;
const NONE: readonly never[] = [];

/**
 * Series resolved once per label set and remembered under one of its labels (route, fingerprint,
 * namespace), so recording a span costs one Map look-up instead of a walk down a label tree per
 * metric. Safe to keep because a BoundedSeries never drops a series: what a label set resolves to
 * never changes. Bounded by `maxKeys` keys × MAX_SETS_PER_KEY label sets; beyond that a label set
 * is simply resolved afresh each time.
 */
export class SeriesMemo<T> {
  private readonly byKey = new Map<string, T[]>();

  constructor(private readonly maxKeys: number) {}

  /** What is remembered under `key`; the caller matches the rest of its labels. */
  seen(key: string): readonly T[] {
    return this.byKey.get(key) ?? NONE;
  }

  remember(key: string, entry: T): void {
    let list = this.byKey.get(key);
    if (list === undefined) {
      if (this.byKey.size >= this.maxKeys) return;
      list = [];
      this.byKey.set(key, list);
    }
    if (list.length < MAX_SETS_PER_KEY) list.push(entry);
  }
}
