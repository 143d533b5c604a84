/**
 * A bounded cache with approximate least-recently-used eviction in two generations (the hashlru
 * scheme), shared by the SQL caches and the request assembler: entries go into the current
 * generation; when it is full it becomes the previous one and the old previous one is dropped whole;
 * a hit in the previous generation copies the entry forward. At most `capacity` entries are held.
 *
 * Why not a Map kept in recency order (delete + set on every hit, evict `keys().next()`): the
 * re-insert cost ~0.6–0.8 µs per hit here, and V8's ordered tables keep deleted entries as holes
 * that `keys().next()` walks, so evicting grows costly under churn. A hit here is one Map look-up.
 */
export class GenerationalCache<V, K = string> {
  private current = new Map<K, V>();
  private previous = new Map<K, V>();
  private readonly generationSize: number;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    }
    // current < generationSize between calls and previous ≤ generationSize: ≤ capacity in all.
    this.generationSize = Math.ceil(capacity / 2);
  }

  /** Entries held (an entry copied forward may count twice until its old generation is dropped). */
  get size(): number {
    return this.current.size + this.previous.size;
  }

  /**
   * Whether `key` is held, without copying it forward: for a set of recent keys (the assembler's
   * summarised requests) whose members must age out in insertion order, however often they are asked for.
   */
  has(key: K): boolean {
    return this.current.has(key) || this.previous.has(key);
  }

  get(key: K): V | undefined {
    const value = this.current.get(key);
    if (value !== undefined) return value;
    const old = this.previous.get(key);
    if (old !== undefined) this.set(key, old);
    return old;
  }

  set(key: K, value: V): void {
    this.current.set(key, value);
    if (this.current.size >= this.generationSize) {
      this.previous = this.current;
      this.current = new Map();
    }
  }
}
