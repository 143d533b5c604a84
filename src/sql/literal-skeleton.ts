/**
 * Recognises a SQL text as a sample seen before with other literal values, without lexing the text
 * between its literals: that text is compared whole (substring + ===, native), and only the literals
 * go through the lexer to find where they end.
 *
 * Why: a literal-bearing text is new with every request, so the fingerprinter had to lex and hash all of
 * it (hashCanonical) to find its shape: ~11.5k instructions for the ingest bench's ~100-character texts,
 * at ~25 per character for a charCodeAt loop in V8, and ~2.9k of the pipeline's ~9.3k instructions per
 * span. A match here costs a look-up by the text's first HEAD characters and a few native compares.
 *
 * Why a match proves the same shape: the lexer (scanToken in sql-scanner.ts) has no state besides its
 * position, and a token's kind and end depend only on the characters it reads. A text that equals the
 * sample outside the literals, with each literal opened by the same character (or, for numbers, any
 * digit — the lexer never tells digits apart) and read as a literal by the lexer, is cut into the same
 * tokens, except for what the literals hold; scanSql gives both the same canonical form.
 */
import { GenerationalCache } from '../generational-cache';
import { literalEndAt, literalSpans, type SqlDialect } from './sql-scanner';

/** Characters of a text's start that pick the samples it is compared with. */
const HEAD = 16;
/** Samples kept per head, and of those with a literal in their first HEAD characters (newest kept). */
const MAX_PER_HEAD = 8;
/** A literal opened by a digit in the sample: any digit may open it in another text. */
const ANY_DIGIT = -1;

export interface Skeleton<V> {
  /** The text around the literals: before the first, between two, after the last (literals + 1). */
  readonly parts: readonly string[];
  /** The character that opens each literal in the sample, ANY_DIGIT for a digit. */
  readonly opens: readonly number[];
  /** What a match stands for (the fingerprinter's cache entry). */
  readonly value: V;
}

export function skeletonOf<V>(sample: string, dialect: SqlDialect, value: V): Skeleton<V> {
  const spans = literalSpans(sample, dialect);
  const parts: string[] = [];
  const opens: number[] = [];
  let from = 0;
  for (let k = 0; k < spans.length; k += 2) {
    parts.push(sample.slice(from, spans[k]));
    const c = sample.charCodeAt(spans[k]);
    opens.push(c >= 48 && c <= 57 ? ANY_DIGIT : c);
    from = spans[k + 1];
  }
  parts.push(sample.slice(from));
  return { parts, opens, value };
}

/** True when `text` is the skeleton's sample with other literals (see the file comment). */
export function matchesSkeleton<V>(text: string, skeleton: Skeleton<V>, dialect: SqlDialect): boolean {
  const { parts, opens } = skeleton;
  let at = parts[0].length;
  // substring + === rather than startsWith: ~0.3k vs ~3.2k instructions for 70 characters (cachegrind).
  if (text.substring(0, at) !== parts[0]) return false;
  for (let k = 0; k < opens.length; k++) {
    const c = text.charCodeAt(at);
    if (opens[k] === ANY_DIGIT ? !(c >= 48 && c <= 57) : c !== opens[k]) return false;
    const end = literalEndAt(text, at, dialect);
    if (end < 0) return false;
    const part = parts[k + 1];
    at = end + part.length;
    if (part.length > 0 && text.substring(end, at) !== part) return false;
  }
  return at === text.length;
}

/** Skeletons of one dialect, found by the text's first HEAD characters; bounded. */
export class SkeletonIndex<V> {
  private readonly byHead: GenerationalCache<Skeleton<V>[]>;
  /** Skeletons whose first literal starts within HEAD characters: tried one by one. */
  private readonly shortHead: Skeleton<V>[] = [];

  constructor(
    private readonly dialect: SqlDialect,
    heads: number,
  ) {
    this.byHead = new GenerationalCache(heads);
  }

  /** Adds `skeleton`; nothing when it is held already. */
  add(skeleton: Skeleton<V>): void {
    const list = this.listOf(skeleton);
    if (list === undefined) this.byHead.set(skeleton.parts[0].slice(0, HEAD), [skeleton]);
    else addBounded(list, skeleton);
  }

  /** True when `skeleton` is held. */
  has(skeleton: Skeleton<V>): boolean {
    return this.listOf(skeleton)?.includes(skeleton) === true;
  }

  /** The first skeleton `text` matches, or undefined. */
  find(text: string): Skeleton<V> | undefined {
    if (text.length >= HEAD) {
      const list = this.byHead.get(text.slice(0, HEAD));
      if (list !== undefined) {
        for (const skeleton of list) if (matchesSkeleton(text, skeleton, this.dialect)) return skeleton;
      }
    }
    for (const skeleton of this.shortHead) if (matchesSkeleton(text, skeleton, this.dialect)) return skeleton;
    return undefined;
  }

  /** Drops a skeleton whose value went stale. */
  remove(skeleton: Skeleton<V>): void {
    const list = this.listOf(skeleton);
    const at = list === undefined ? -1 : list.indexOf(skeleton);
    if (list !== undefined && at >= 0) list.splice(at, 1);
  }

  /** The list `skeleton` belongs in: by its head, or the short-head list; undefined for a head not seen. */
  private listOf(skeleton: Skeleton<V>): Skeleton<V>[] | undefined {
    const first = skeleton.parts[0];
    return first.length < HEAD ? this.shortHead : this.byHead.get(first.slice(0, HEAD));
  }
}

function addBounded<V>(list: Skeleton<V>[], skeleton: Skeleton<V>): void {
  if (list.includes(skeleton)) return;
  if (list.length >= MAX_PER_HEAD) list.shift();
  list.push(skeleton);
}
