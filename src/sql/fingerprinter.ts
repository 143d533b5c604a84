/**
 * SQL statement → shape (fingerprint, literal-free statement, verb, table), cached.
 *
 * PostgreSQL text goes through the real parser (libpg-query 18: fingerprint + normalize + parse
 * ≈ 180 µs of CPU per miss here, Liftoff-compiled), so every distinct shape is parsed once and
 * then served from a bounded two-generation LRU (generational-cache.ts). The cache key is the
 * scanner's canonical form of the raw text (literals, comments, whitespace and list lengths
 * removed, id parts of names templated), so a million texts that differ only in their literals — or
 * in a sqlcommenter `traceparent` comment, or in the tenant schema they run in — share one entry.
 */
// First: libpg-query compiles its WASM when required, and the flag must precede that.
import './wasm-flags';
import { createHash } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { fingerprintSync, loadModule, normalizeSync } from 'libpg-query';
import { DEFAULTS } from '../config/defaults';
import { GenerationalCache } from '../generational-cache';
import { numberClientPlaceholders } from './client-placeholders';
import { describeStatement, fallbackFingerprint } from './fallback';
import { templateIdentifier } from './identifier-ids';
import { type Skeleton, SkeletonIndex, skeletonOf } from './literal-skeleton';
import {
  forEachNode,
  mainStatement,
  operationOf,
  type PgRawStmt,
  parseStatements,
  tableOf,
} from './parse-tree';
import { keepSortPositions } from './sort-positions';
import {
  cutAtAmbiguousString,
  dialectOf,
  hashCanonical,
  LITERAL,
  rewriteIdentifierIds,
  type SqlDialect,
  scanSql,
  scanTemplatedIds,
} from './sql-scanner';
import { collapseLists, numberMarkers, renderStatement, truncateStatement } from './sql-statement';

export interface SqlShape {
  /** 16 hex digits: libpg-query's fingerprint when parsed, else a hash of the normalized text. */
  fingerprint: string;
  /**
   * Normalized text: every literal is `$n`, comments dropped, the id parts of identifiers `*` (unless
   * templateIds is off: `tenant_42.orders` → `tenant_*.orders`), at most 2 KiB (then `…`).
   */
  statement: string;
  /** SELECT, INSERT, UPDATE, DELETE, MERGE, or a utility verb (BEGIN, SET, CREATE…); '' if unknown. */
  operation: string;
  /** First table (schema-qualified when written so, id parts templated as in `statement`); '' when none. */
  table: string;
  /** True when PostgreSQL's parser produced the shape. */
  parsed: boolean;
}

export interface SqlFingerprinterOptions {
  /** Shapes cached (entries). */
  cacheEntries: number;
  /** Longest text handed to the parser (UTF-8 bytes); longer texts use the fallback normalizer. */
  maxParseBytes: number;
  /**
   * Let V8 tier the parser's WASM up to optimized code (default false). Measured here: tiered,
   * a miss costs fingerprint 38 + normalize 17–21 + parse 45–50 µs but RSS reaches ~185 MB after
   * the first calls (TurboFan compiling the PostgreSQL grammar); Liftoff only, 67 + 22–37 + 89–97
   * µs and ~70 MB. Misses are rare once the cache is warm, so memory wins by default.
   */
  wasmTierUp?: boolean;
  /**
   * Write the id parts of identifiers as `*` (identifier-ids.ts), so a statement run on each tenant's schema,
   * or on each month's table, is one shape (default DEFAULTS.sql.templateIds).
   */
  templateIds?: boolean;
}

export interface SqlFingerprinterStats {
  hits: number;
  misses: number;
  /** Misses the fallback normalizer handled (other databases, rejected or oversized text). */
  fallbacks: number;
  cacheEntries: number;
}

/** Canonical texts longer than this are keyed by their SHA-1 so one entry stays small. */
const MAX_KEY_CHARS = 512;
/** Shapes remembered per fingerprint, so every text of one shape reports one statement. */
const MAX_SHARED_SHAPES = 10_000;
/** Raw-text fast path bounds: entries per dialect and text length (≤ ~40 MiB in all). */
const MAX_EXACT_ENTRIES = 10_000;
const MAX_EXACT_CHARS = 2048;
/** Longest literal-bearing text a hashed entry remembers to spot it repeating (bounds its memory). */
const MAX_REPEAT_CHARS = 512;
/** Longest text a skeleton is kept for (it holds the text; bounds the index's memory with its entries). */
const MAX_SKELETON_CHARS = 512;
/**
 * What an id part becomes in the text handed to the parser: a statement run on `tenant_42` and on `tenant_7`
 * is parsed as one on `tenant_0`, so both get one fingerprint; the statement shows it as `*`.
 */
const PARSED_ID = '0';

let moduleLoaded: Promise<void> | undefined;

interface HashedShape {
  /** The first 32 bits of the canonical hash: this entry's key in `hashed`. */
  hash1: number;
  hash2: number;
  length: number;
  oversized: boolean;
  shape: SqlShape;
  /** The last two raw texts served by this entry: one seen again moves to the exact map. */
  recent: string;
  older: string;
  /** The text that created the entry, as `skeletons` compares others with it; null when not indexed. */
  skeleton: Skeleton<HashedShape> | null;
}
/** hashCanonical's output, reused by every call (fingerprint is synchronous). */
const canonicalHash = new Int32Array(3);

export class SqlFingerprinter {
  private readonly cache: GenerationalCache<SqlShape>;
  private readonly shared = new GenerationalCache<SqlShape>(MAX_SHARED_SHAPES);
  /**
   * Raw text → shape for texts that repeat byte for byte: those with no literal and no comment
   * (parameterized queries, the usual node-postgres style) from their first sighting, and
   * literal-bearing ones once they repeat (a constant `LIMIT 10` or `= true` beside the `$n`
   * parameters, a hot id). One Map look-up (~0.1–0.3 µs) replaces the hashing pass (1.3–1.8 µs
   * for 90–150 characters). Texts whose literals vary never repeat, so they cannot flood it.
   */
  private readonly exact: Record<SqlDialect, GenerationalCache<SqlShape>>;
  /**
   * Hash of the canonical form (hashCanonical) → shape, for texts the exact map cannot hold (they
   * carry literals): a hit costs one lexer pass that builds no string, instead of the canonical
   * string, list collapsing and a string-keyed look-up. Keyed by the first 32 bits; the entry
   * holds the other 32 and the length. Measured on the ingest bench's literal-bearing texts
   * (~90 characters, best of 15): 3.0 → 1.3 µs per text; pipeline alone +25–30% (medians of
   * four interleaved A/B runs, 200k → 259k spans/s on the busy VM).
   */
  private readonly hashed: Record<SqlDialect, GenerationalCache<HashedShape, number>>;
  /**
   * The hashed entries again, by the text that created them: a text that differs from it only inside
   * its literals is served with no hashing pass (literal-skeleton.ts; the bench's literal-bearing texts:
   * 11.8k → 5.2k instructions per fingerprint under cachegrind).
   */
  private readonly skeletons: Record<SqlDialect, SkeletonIndex<HashedShape>>;
  private lastSystem = '';
  private lastDialect: SqlDialect = 'generic';
  private readonly maxParseBytes: number;
  private readonly templateIds: boolean;
  /**
   * Fingerprint → the normalized statement with its names as written, for shapes whose names had id parts:
   * the advisor needs a real table to read statistics from and to EXPLAIN. Kept here only; never shown.
   */
  private readonly samples = new GenerationalCache<string>(MAX_SHARED_SHAPES);
  private hits = 0;
  private misses = 0;
  private fallbacks = 0;

  /** Loads the parser's WASM module (once per process, ~20 ms); everything after is synchronous. */
  static async create(opts: SqlFingerprinterOptions): Promise<SqlFingerprinter> {
    if (moduleLoaded === undefined) {
      // './wasm-flags' set --liftoff-only before libpg-query was required; tier-up is opt-in.
      if (opts.wasmTierUp === true) setFlagsFromString('--no-liftoff-only');
      moduleLoaded = loadModule();
    }
    await moduleLoaded;
    return new SqlFingerprinter(opts);
  }

  private constructor(opts: SqlFingerprinterOptions) {
    if (!Number.isInteger(opts.cacheEntries) || opts.cacheEntries < 1) {
      throw new RangeError(`sql.cacheEntries must be a positive integer, got ${opts.cacheEntries}`);
    }
    this.cache = new GenerationalCache(opts.cacheEntries);
    const exactEntries = Math.min(opts.cacheEntries, MAX_EXACT_ENTRIES);
    this.exact = {
      pg: new GenerationalCache(exactEntries),
      mysql: new GenerationalCache(exactEntries),
      generic: new GenerationalCache(exactEntries),
    };
    this.hashed = {
      pg: new GenerationalCache(opts.cacheEntries),
      mysql: new GenerationalCache(opts.cacheEntries),
      generic: new GenerationalCache(opts.cacheEntries),
    };
    this.skeletons = {
      pg: new SkeletonIndex('pg', opts.cacheEntries),
      mysql: new SkeletonIndex('mysql', opts.cacheEntries),
      generic: new SkeletonIndex('generic', opts.cacheEntries),
    };
    this.maxParseBytes = opts.maxParseBytes;
    this.templateIds = opts.templateIds ?? DEFAULTS.sql.templateIds;
  }

  /** Shape of `text` sent by a `system` client (`postgresql`, `mysql`, …). Never throws. */
  fingerprint(system: string, text: string): SqlShape {
    if (system !== this.lastSystem) {
      this.lastSystem = system;
      this.lastDialect = dialectOf(system);
    }
    const dialect = this.lastDialect;
    const exact = this.exact[dialect];
    const known = exact.get(text);
    if (known !== undefined) {
      this.hits++;
      return known;
    }
    const oversized = this.oversized(text);
    // Only the first maxParseBytes characters are read: the statement keeps 2 KiB anyway.
    const source = oversized ? text.slice(0, this.maxParseBytes) : text;
    const hashed = this.hashed[dialect];
    const skeletons = this.skeletons[dialect];
    let byHash: HashedShape | undefined;
    let probed = false;
    if (!oversized && text.length <= MAX_SKELETON_CHARS) {
      const found = skeletons.find(text);
      if (found !== undefined) {
        // A match has its sample's canonical hash, so this is the look-up the hash below would make.
        byHash = hashed.get(found.value.hash1);
        probed = true;
        if (byHash === found.value) return this.hashedHit(byHash, text, exact);
        skeletons.remove(found);
      }
    }
    hashCanonical(source, dialect, canonicalHash, this.templateIds);
    if (!probed) byHash = hashed.get(canonicalHash[0]);
    if (
      byHash !== undefined &&
      byHash.hash2 === canonicalHash[1] &&
      byHash.length === canonicalHash[2] &&
      byHash.oversized === oversized
    ) {
      // Indexed again if the index forgot it (it is bounded apart from `hashed`; add keeps one copy).
      if (byHash.skeleton !== null) skeletons.add(byHash.skeleton);
      return this.hashedHit(byHash, text, exact);
    }
    const canonical = collapseLists(scanSql(source, dialect, this.templateIds));
    const templated = scanTemplatedIds();
    const key = cacheKey(dialect, oversized, canonical);

    let shape = this.cache.get(key);
    if (shape !== undefined) {
      this.hits++;
    } else {
      this.misses++;
      shape = dialect === 'pg' && !oversized ? this.parsePostgresOrNumbered(text, templated) : undefined;
      if (shape === undefined) {
        this.fallbacks++;
        // Text PostgreSQL rejected (or too long to parse): a string with a backslash is read both ways.
        const safe = dialect === 'pg' ? cutAtAmbiguousString(source) : source;
        shape = fallbackShape(
          safe === source ? canonical : collapseLists(scanSql(safe, dialect, this.templateIds)),
        );
      }
      shape = this.share(shape);
      this.cache.set(key, shape);
    }
    if (text.length <= MAX_EXACT_CHARS && isVerbatim(text, canonical, dialect)) exact.set(text, shape);
    else {
      const entry: HashedShape = {
        hash1: canonicalHash[0],
        hash2: canonicalHash[1],
        length: canonicalHash[2],
        oversized,
        shape,
        recent: text.length <= MAX_REPEAT_CHARS ? text : '',
        older: '',
        skeleton: null,
      };
      if (!oversized && text.length <= MAX_SKELETON_CHARS) {
        entry.skeleton = skeletonOf(text, dialect, entry);
        skeletons.add(entry.skeleton);
      }
      hashed.set(canonicalHash[0], entry);
    }
    return shape;
  }

  /** A text served by a hashed entry; one that repeats byte for byte moves to the exact map. */
  private hashedHit(entry: HashedShape, text: string, exact: GenerationalCache<SqlShape>): SqlShape {
    this.hits++;
    if (text === entry.recent || text === entry.older) exact.set(text, entry.shape);
    else if (text.length <= MAX_REPEAT_CHARS) {
      entry.older = entry.recent;
      entry.recent = text;
    }
    return entry.shape;
  }

  stats(): SqlFingerprinterStats {
    return { hits: this.hits, misses: this.misses, fallbacks: this.fallbacks, cacheEntries: this.cache.size };
  }

  /**
   * The statement of `fingerprint` with its names as written (`tenant_42.orders` where the shape shows
   * `tenant_*.orders`), from the latest text of that shape parsed; undefined when its names have no id
   * parts. For the advisor's look-ups only: it names a tenant, so it must never be shown.
   */
  sampleStatement(fingerprint: string): string | undefined {
    return this.samples.get(fingerprint);
  }

  /** A table name from a span attribute (`db.sql.table`) templated as statements are. */
  templateName(name: string): string {
    return this.templateIds ? templateIdentifier(name) : name;
  }

  /**
   * Shape from PostgreSQL's parser, or undefined when it rejects the text. `templated`: the scanner found
   * id parts in its names, so the parser reads them as PARSED_ID and the statement as written is kept
   * as the fingerprint's sample.
   */
  /**
   * parsePostgres, or, when the parser rejects the text because it holds another client's placeholders
   * (`?`, `%s`), parsePostgres of it with them numbered (client-placeholders.ts).
   */
  private parsePostgresOrNumbered(text: string, templated: boolean): SqlShape | undefined {
    const shape = this.parsePostgres(text, templated);
    if (shape !== undefined) return shape;
    const numbered = numberClientPlaceholders(text);
    return numbered === undefined ? undefined : this.parsePostgres(numbered, templated);
  }

  private parsePostgres(text: string, templated: boolean): SqlShape | undefined {
    const parsed = templated ? rewriteIdentifierIds(text, 'pg', PARSED_ID) : text;
    const shape = parsePostgres(parsed, this.templateIds);
    if (shape !== undefined && parsed !== text) {
      const sample = parsePostgres(text, false);
      if (sample !== undefined) this.samples.set(shape.fingerprint, sample.statement);
    }
    return shape;
  }

  /** Raw texts remembered by the literal-free fast path. */
  exactEntries(): number {
    return this.exact.pg.size + this.exact.mysql.size + this.exact.generic.size;
  }

  /** One shape object per fingerprint while it is remembered: consistent statements, less memory. */
  private share(shape: SqlShape): SqlShape {
    const known = this.shared.get(shape.fingerprint);
    if (known !== undefined) return known;
    const frozen = Object.freeze(shape);
    this.shared.set(shape.fingerprint, frozen);
    return frozen;
  }

  private oversized(text: string): boolean {
    if (text.length > this.maxParseBytes) return true;
    // UTF-8 takes at most 3 bytes per UTF-16 unit; count only when that could exceed the limit.
    return text.length * 3 > this.maxParseBytes && Buffer.byteLength(text, 'utf8') > this.maxParseBytes;
  }
}

/** True when the text holds no literal and no comment, so it repeats exactly. */
function isVerbatim(text: string, canonical: string, dialect: SqlDialect): boolean {
  if (canonical.indexOf(LITERAL) >= 0) return false;
  if (text.indexOf('--') >= 0 || text.indexOf('/*') >= 0) return false;
  return dialect !== 'mysql' || text.indexOf('#') < 0;
}

function cacheKey(dialect: SqlDialect, oversized: boolean, canonical: string): string {
  const prefix = oversized ? `${dialect}!` : `${dialect}:`;
  if (canonical.length <= MAX_KEY_CHARS) return prefix + canonical;
  return `${prefix}#${createHash('sha1').update(canonical).digest('base64')}`;
}

/** Shape from PostgreSQL's parser, or undefined when it rejects the text. */
function parsePostgres(text: string, templateIds: boolean): SqlShape | undefined {
  try {
    // normalize keeps comments and leaves literals in utility statements (COMMENT ON … IS 'x',
    // COPY … FROM '/path', PREPARE … AS SELECT 'x'): the scanner removes what it left.
    const stmts = parseStatements(text);
    const fingerprint = withInLists(fingerprintSync(text), stmts);
    const normalized = normalizeSync(text);
    const canonical = keepSortPositions(normalized, scanSql(normalized, 'pg', templateIds), stmts);
    const statement = renderStatement(collapseLists(canonical));
    const main = mainStatement(stmts);
    const table = main ? tableOf(main) : '';
    return {
      fingerprint,
      statement,
      operation: main ? operationOf(main) : '',
      table: templateIds ? templateIdentifier(table) : table,
      parsed: true,
    };
  } catch {
    return undefined;
  }
}

/**
 * libpg-query's fingerprint reads `col IN (…)` and `col = ANY($1)` as `col = …` (`WHERE id = 5`,
 * `WHERE id IN (5, 6)` and `WHERE id = ANY($1)` share one), where pg_stat_statements keeps them apart:
 * an ORM's lazy `= $1` look-up and its batched fetch (the N+1 advice's `= ANY($1)`) would be one row,
 * under whichever text came first. Which comparisons are IN lists or `op ANY` is mixed in, so list
 * lengths still merge but `=`, `IN` and `= ANY` do not; statements with neither keep libpg-query's
 * fingerprint unchanged.
 */
function withInLists(fingerprint: string, stmts: readonly PgRawStmt[]): string {
  let kinds = '';
  let lists = false;
  forEachNode(stmts, (node) => {
    const expr = node.A_Expr as { kind?: string } | undefined;
    if (expr === undefined) return;
    const kind = expr.kind === 'AEXPR_IN' ? 'i' : expr.kind === 'AEXPR_OP_ANY' ? 'a' : 'o';
    kinds += kind;
    lists ||= kind !== 'o';
  });
  if (!lists) return fingerprint;
  return createHash('sha1').update(`${fingerprint}:${kinds}`).digest('hex').slice(0, 16);
}

function fallbackShape(canonical: string): SqlShape {
  const full = numberMarkers(canonical);
  const { operation, table } = describeStatement(full);
  return {
    fingerprint: fallbackFingerprint(full),
    statement: truncateStatement(full),
    operation,
    table,
    parsed: false,
  };
}
