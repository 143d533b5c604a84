/**
 * Space-saving top-k counter (Metwally et al.): at most `capacity` keys. A new key arriving at a
 * full counter replaces the smallest and inherits its count, so any key with more than
 * total / capacity of the weight is guaranteed to be kept, and a kept count over-estimates by at
 * most the count it inherited. Linear scans are fine at the sizes used (2 × topEndpoints ≈ 10);
 * keys are the endpoint rows' own label strings, so comparisons are mostly pointer-equal.
 */
export interface KeyCount {
  key: string;
  count: number;
}

export class TopK {
  private keys: string[] = [];
  private counts: number[] = [];

  constructor(readonly capacity: number) {}

  add(key: string, n: number): void {
    const keys = this.keys;
    for (let i = 0; i < keys.length; i++) {
      if (keys[i] === key) {
        this.counts[i] += n;
        return;
      }
    }
    if (keys.length < this.capacity) {
      keys.push(key);
      this.counts.push(n);
      return;
    }
    let min = 0;
    for (let i = 1; i < keys.length; i++) if (this.counts[i] < this.counts[min]) min = i;
    keys[min] = key;
    this.counts[min] += n;
  }

  /** Adds other's counts (the usual approximate merge of space-saving summaries). */
  merge(other: TopK): void {
    for (let i = 0; i < other.keys.length; i++) this.add(other.keys[i], other.counts[i]);
  }

  /** The k largest, count descending, ties by key. */
  top(k: number): KeyCount[] {
    const out: KeyCount[] = this.keys.map((key, i) => ({ key, count: this.counts[i] }));
    out.sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return out.length > k ? out.slice(0, k) : out;
  }

  get size(): number {
    return this.keys.length;
  }

  /** Forgets every key. */
  clear(): void {
    this.keys = [];
    this.counts = [];
  }
}
