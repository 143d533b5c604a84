/**
 * SQL statement → shape (fingerprint, literal-free statement, verb, table), cached.
 *
 * PostgreSQL text goes through the real parser (libpg-query: fingerprint 11–45 µs, normalize
 * 7–25 µs, parse similar on this machine), so every distinct shape is parsed once and then served
 * from a bounded LRU. The cache key is the scanner's canonical form of the raw text (literals,
 * comments, whitespace and list lengths removed), so a million texts that differ only in their
 * literals — or in a sqlcommenter `traceparent` comment — share one entry.
 */
import { createHash } from 'node:crypto';
import { fingerprintSync, loadModule, normalizeSync } from 'libpg-query';
import { describeStatement, fallbackFingerprint } from './fallback';
import { mainStatement, operationOf, parseStatements, tableOf } from './parse-tree';
import {
  collapseLists,
  dialectOf,
  numberMarkers,
  renderStatement,
  type SqlDialect,
  scanSql,
  truncateStatement,
} from './sql-scanner';

export interface SqlShape {
  /** 16 hex digits: libpg-query's fingerprint when parsed, else a hash of the normalized text. */
  fingerprint: string;
  /** Normalized text: every literal is `$n`, comments dropped, at most 2 KiB (then `…`). */
  statement: string;
  /** SELECT, INSERT, UPDATE, DELETE, MERGE, or a utility verb (BEGIN, SET, CREATE…); '' if unknown. */
  operation: string;
  /** First table (schema-qualified when written so); '' when none. */
  table: string;
  /** True when PostgreSQL's parser produced the shape. */
  parsed: boolean;
}

export interface SqlFingerprinterOptions {
  /** Shapes cached (entries). */
  cacheEntries: number;
  /** Longest text handed to the parser (UTF-8 bytes); longer texts use the fallback normalizer. */
  maxParseBytes: number;
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

let moduleLoaded: Promise<void> | undefined;

export class SqlFingerprinter {
  private readonly cache: Map<string, SqlShape> = new Map();
  private readonly capacity: number;
  private readonly shared = new Map<string, SqlShape>();
  private readonly maxParseBytes: number;
  private hits = 0;
  private misses = 0;
  private fallbacks = 0;

  /** Loads the parser's WASM module (once per process, ~20 ms); everything after is synchronous. */
  static async create(opts: SqlFingerprinterOptions): Promise<SqlFingerprinter> {
    moduleLoaded ??= loadModule();
    await moduleLoaded;
    return new SqlFingerprinter(opts);
  }

  private constructor(opts: SqlFingerprinterOptions) {
    if (!Number.isInteger(opts.cacheEntries) || opts.cacheEntries < 1) {
      throw new RangeError(`sql.cacheEntries must be a positive integer, got ${opts.cacheEntries}`);
    }
    this.capacity = opts.cacheEntries;
    this.maxParseBytes = opts.maxParseBytes;
  }

  /** Shape of `text` sent by a `system` client (`postgresql`, `mysql`, …). Never throws. */
  fingerprint(system: string, text: string): SqlShape {
    const dialect = dialectOf(system);
    const oversized = this.oversized(text);
    // Only the first maxParseBytes characters are read: the statement keeps 2 KiB anyway.
    const source = oversized ? text.slice(0, this.maxParseBytes) : text;
    const canonical = collapseLists(scanSql(source, dialect));
    const key = cacheKey(dialect, oversized, canonical);

    const cached = this.cache.get(key);
    if (cached !== undefined) {
      this.hits++;
      // Refresh recency: Map iteration order is insertion order, the front is evicted first.
      this.cache.delete(key);
      this.cache.set(key, cached);
      return cached;
    }
    this.misses++;
    let shape = dialect === 'pg' && !oversized ? parsePostgres(text) : undefined;
    if (shape === undefined) {
      this.fallbacks++;
      shape = fallbackShape(canonical);
    }
    shape = this.share(shape);
    if (this.cache.size >= this.capacity) {
      const oldest = this.cache.keys().next();
      if (!oldest.done) this.cache.delete(oldest.value);
    }
    this.cache.set(key, shape);
    return shape;
  }

  stats(): SqlFingerprinterStats {
    return { hits: this.hits, misses: this.misses, fallbacks: this.fallbacks, cacheEntries: this.cache.size };
  }

  /** One shape object per fingerprint while it is remembered: consistent statements, less memory. */
  private share(shape: SqlShape): SqlShape {
    const known = this.shared.get(shape.fingerprint);
    if (known !== undefined) return known;
    if (this.shared.size >= MAX_SHARED_SHAPES) {
      const oldest = this.shared.keys().next();
      if (!oldest.done) this.shared.delete(oldest.value);
    }
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

function cacheKey(dialect: SqlDialect, oversized: boolean, canonical: string): string {
  const prefix = oversized ? `${dialect}!` : `${dialect}:`;
  if (canonical.length <= MAX_KEY_CHARS) return prefix + canonical;
  return `${prefix}#${createHash('sha1').update(canonical).digest('base64')}`;
}

/** Shape from PostgreSQL's parser, or undefined when it rejects the text. */
function parsePostgres(text: string): SqlShape | undefined {
  try {
    const fingerprint = fingerprintSync(text);
    // normalize keeps comments and leaves literals in utility statements (COMMENT ON … IS 'x',
    // COPY … FROM '/path', PREPARE … AS SELECT 'x'): the scanner removes what it left.
    const statement = renderStatement(collapseLists(scanSql(normalizeSync(text), 'pg')));
    const main = mainStatement(parseStatements(text));
    return {
      fingerprint,
      statement,
      operation: main ? operationOf(main) : '',
      table: main ? tableOf(main) : '',
      parsed: true,
    };
  } catch {
    return undefined;
  }
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
