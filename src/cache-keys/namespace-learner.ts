/**
 * Redis key → namespace, with the id parts replaced by `*`: `user:42:profile` → `user:*:profile`.
 *
 * Keys are split on any delimiter character and walked down a trie of learned segments:
 * 1. configured patterns are tried first and win (the pattern is the namespace);
 * 2. id-like segments (numbers, UUIDs, e-mails, tokens: see id-segments.ts) become `*` at once;
 * 3. other segments are kept while few: once more than `learnDistinct` distinct values have been
 *    seen at one position under one prefix, that position becomes `*` for good, and every
 *    namespace learned so far under it is merged (`product:blue-widget` → `product:*`); the
 *    `onMerge` listeners hear each rename so the aggregator can fold its rows together.
 * Keys that are SQL text (TypeORM's query-result cache: the SQL and its parameter values) are one
 * namespace of their own (query-cache-keys.ts), after the patterns.
 * The first segment is the namespace by convention and is never widened by count; it is capped
 * instead: after `learnDistinct × 8` distinct first segments, new ones become `*`.
 *
 * Privacy — residual risk: a non-id-like value is shown until its position widens, so up to
 * `learnDistinct` slugs per prefix (e.g. `product:blue-widget`), and up to `learnDistinct × 8`
 * first segments (if an application puts user names first: `alice:cart`), can appear in
 * namespaces. A `redis.patterns` entry (`product:*`) closes that for a known scheme.
 *
 * Memory: at most `maxLearnedPrefixes` trie nodes; past that, keys that need a new node map to
 * their first segment + `:*` (or `*` when that segment is not already known).
 */
import { isIdLikeSegment } from './id-segments';
import { compileKeyPattern, type KeyPattern, matchKeyPattern } from './key-patterns';
import { isSqlTextKey, SQL_QUERY_CACHE_NAMESPACE } from './query-cache-keys';

export interface NamespaceLearnerOptions {
  /** Characters that separate key segments (e.g. `:` or `:/`). */
  delimiters: string;
  /** Distinct values one position may hold before it becomes `*`. */
  learnDistinct: number;
  /** Globs (`*` one segment, `**` the rest) that name a namespace directly. */
  patterns: readonly string[];
  /** Trie nodes (learned prefixes) kept at most. */
  maxLearnedPrefixes: number;
}

export type MergeListener = (from: string, to: string) => void;

/** Segments past this depth are summarised as one `**`. */
const MAX_SEGMENTS = 8;
const STAR = '*';
const REST = '**';

interface Node {
  /** Namespace of a key that ends here; prefix of the children's namespaces. */
  ns: string;
  label: string;
  /** Delimiter before this segment ('' for the first). */
  delim: string;
  literals: Map<string, Node> | null;
  star: Node | null;
  rest: Node | null;
  /** More than learnDistinct values seen here: every non-literal-child value goes to `star`. */
  wide: boolean;
  /** A key ended here, so the namespace may exist downstream (and is announced when renamed). */
  terminal: boolean;
}

/** Index of the first delimiter at or after `start`, or key.length. */
function segmentEnd(key: string, start: number, delimiters: string): number {
  if (delimiters.length === 1) {
    const at = key.indexOf(delimiters, start);
    return at < 0 ? key.length : at;
  }
  let end = start;
  while (end < key.length && delimiters.indexOf(key[end]) < 0) end++;
  return end;
}

/** A node under `parent` (null for a first segment). */
function newNode(parent: Node | null, label: string, delim: string): Node {
  const ns = parent === null ? label : parent.ns + delim + label;
  return { ns, label, delim, literals: null, star: null, rest: null, wide: false, terminal: false };
}

export class NamespaceLearner {
  /** Holds the first segments; its own namespace is never used. */
  private readonly root: Node = newNode(null, '', '');
  private readonly patterns: KeyPattern[];
  private readonly delimiters: string;
  private readonly learnDistinct: number;
  private readonly maxTopLevel: number;
  private readonly maxNodes: number;
  private readonly listeners: MergeListener[] = [];
  private nodes = 0;

  constructor(opts: NamespaceLearnerOptions) {
    if (opts.delimiters.length === 0) throw new RangeError('redis.delimiters must not be empty');
    this.patterns = opts.patterns.map((p) => compileKeyPattern(p, opts.delimiters));
    this.delimiters = opts.delimiters;
    this.learnDistinct = opts.learnDistinct;
    this.maxTopLevel = opts.learnDistinct * 8;
    this.maxNodes = opts.maxLearnedPrefixes;
  }

  /** Learned trie nodes (bounded by maxLearnedPrefixes). */
  get learnedPrefixes(): number {
    return this.nodes;
  }

  /** Called with (old, new) namespace for each namespace renamed by widening. Returns an unsubscribe. */
  onMerge(listener: MergeListener): () => void {
    this.listeners.push(listener);
    return () => {
      const at = this.listeners.indexOf(listener);
      if (at >= 0) this.listeners.splice(at, 1);
    };
  }

  namespaceOf(key: string): string {
    if (this.patterns.length > 0) {
      const named = matchKeyPattern(this.patterns, key);
      if (named !== undefined) return named;
    }
    if (isSqlTextKey(key)) return SQL_QUERY_CACHE_NAMESPACE;
    const delimiters = this.delimiters;
    let node = this.root;
    let start = 0;
    let delim = '';
    for (let depth = 0; ; depth++) {
      const end = segmentEnd(key, start, delimiters);
      let next: Node | undefined;
      if (depth === MAX_SEGMENTS - 1 && end < key.length) {
        next = this.restOf(node, delim);
      } else {
        next = this.childOf(node, key.slice(start, end), delim);
      }
      if (next === undefined) return this.overflow(key);
      node = next;
      if (end >= key.length || node.label === REST) break;
      delim = key[end];
      start = end + 1;
    }
    node.terminal = true;
    return node.ns;
  }

  private childOf(node: Node, segment: string, delim: string): Node | undefined {
    const known = node.literals?.get(segment);
    if (known !== undefined) return known;
    if (node.wide || isIdLikeSegment(segment)) return this.starOf(node, delim);
    const distinct = node.literals?.size ?? 0;
    if (node === this.root) {
      if (distinct >= this.maxTopLevel) return this.starOf(node, delim);
    } else if (distinct >= this.learnDistinct) {
      this.widen(node);
      return this.starOf(node, delim);
    }
    if (this.nodes >= this.maxNodes) return undefined;
    const child = newNode(node === this.root ? null : node, segment, delim);
    node.literals ??= new Map();
    node.literals.set(segment, child);
    this.nodes++;
    return child;
  }

  private starOf(node: Node, delim: string, force = false): Node | undefined {
    if (node.star !== null) return node.star;
    if (!force && this.nodes >= this.maxNodes) return undefined;
    node.star = newNode(node === this.root ? null : node, STAR, delim);
    this.nodes++;
    return node.star;
  }

  private restOf(node: Node, delim: string): Node | undefined {
    if (node.rest !== null) return node.rest;
    if (this.nodes >= this.maxNodes) return undefined;
    node.rest = newNode(node === this.root ? null : node, REST, delim);
    this.nodes++;
    return node.rest;
  }

  /** Key past the node budget: its known first segment (or `*`) and `*` for the rest. */
  private overflow(key: string): string {
    const end = segmentEnd(key, 0, this.delimiters);
    const first = key.slice(0, end);
    const head = this.root.literals?.has(first) ? first : STAR;
    return end < key.length ? head + key[end] + STAR : head;
  }

  /** Position `node` has seen too many values: fold every literal child into `*`. */
  private widen(node: Node): void {
    if (node.wide) return;
    node.wide = true;
    const literals = node.literals;
    node.literals = null;
    if (literals === null || literals.size === 0) return;
    const first = literals.values().next().value as Node;
    const star = this.starOf(node, first.delim, true) as Node;
    for (const child of literals.values()) this.mergeInto(child, star);
  }

  /** Folds `src` (now detached) into `dst`, announcing each terminal namespace that changes. */
  private mergeInto(src: Node, dst: Node): void {
    this.nodes--;
    if (src.terminal) {
      dst.terminal = true;
      if (src.ns !== dst.ns) this.emit(src.ns, dst.ns);
    }
    if (src.rest !== null) this.adopt(dst, src.rest, REST);
    if (src.star !== null) this.adopt(dst, src.star, STAR);
    if (src.literals !== null) for (const child of src.literals.values()) this.adopt(dst, child, child.label);
    // The values src saw at its next position count for dst's position too.
    if (src.wide) this.widen(dst);
    else if (dst !== this.root && !dst.wide && (dst.literals?.size ?? 0) > this.learnDistinct)
      this.widen(dst);
  }

  /** Places `child` (a former child of a merged node) under `parent`, merging on collision. */
  private adopt(parent: Node, child: Node, label: string): void {
    let existing: Node | null | undefined;
    if (label === REST) existing = parent.rest;
    else if (label === STAR) existing = parent.star;
    else if (parent.wide) existing = this.starOf(parent, child.delim, true);
    else existing = parent.literals?.get(label);
    if (existing) {
      this.mergeInto(child, existing);
      return;
    }
    if (label === REST) parent.rest = child;
    else if (label === STAR) parent.star = child;
    else {
      parent.literals ??= new Map();
      parent.literals.set(label, child);
    }
    this.rename(child, parent);
  }

  /** Re-renders the namespaces of a moved subtree, announcing terminal ones. */
  private rename(node: Node, parent: Node): void {
    const ns = parent.ns + node.delim + node.label;
    if (ns !== node.ns) {
      const old = node.ns;
      node.ns = ns;
      if (node.terminal) this.emit(old, ns);
    }
    if (node.rest !== null) this.rename(node.rest, node);
    if (node.star !== null) this.rename(node.star, node);
    if (node.literals !== null) for (const child of node.literals.values()) this.rename(child, node);
  }

  private emit(from: string, to: string): void {
    for (const listener of this.listeners) listener(from, to);
  }
}
