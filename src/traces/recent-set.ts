/**
 * A set that remembers at least the `capacity / 2` most recent strings and at most `capacity`: members
 * go into the current generation; when it holds half the capacity it becomes the previous one and the
 * old previous one is forgotten whole (the hashlru scheme, as GenerationalCache).
 *
 * Why not a ring of the last `capacity` members beside one Set (the exact oldest-first order): each add
 * was three look-ups in a 64k-entry table (a repeat check, deleting the oldest, adding), cache misses
 * on this VM, ~4% of the pipeline in a profile of the ingest bench; an add is one here. Why not a Set
 * evicting `set.values().next()`: V8's ordered hash tables keep deleted entries as holes until they
 * rehash, and iteration from the front walks every hole (~28 µs per insert when full).
 */
export class RecentSet {
  private current = new Set<string>();
  private previous = new Set<string>();
  private readonly generationSize: number;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`capacity must be ≥ 1, got ${capacity}`);
    this.generationSize = Math.ceil(capacity / 2);
  }

  /** Members remembered (one added again after its generation turned may count twice until it is dropped). */
  get size(): number {
    return this.current.size + this.previous.size;
  }

  has(value: string): boolean {
    return this.current.has(value) || this.previous.has(value);
  }

  add(value: string): void {
    this.current.add(value);
    if (this.current.size >= this.generationSize) {
      this.previous = this.current;
      this.current = new Set();
    }
  }
}
