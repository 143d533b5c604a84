/**
 * Query spans for postgres.js (the `postgres` package, 3.x): apps that talk to PostgreSQL through it —
 * directly or through Drizzle's `drizzle-orm/postgres-js` — send no query through `pg`, so without this
 * they had requests and Redis but no query report at all.
 *
 * A postgres.js query is a `Query` (a Promise subclass) that runs lazily: the first `then`/`catch`/
 * `finally`/`execute`/`forEach` calls its `handle()`, in the caller's context, which hands it to the
 * connection pool. One wrapper on `Query.prototype.handle` starts a CLIENT span there on the first call
 * and wraps that query's own `resolve`/`reject` to end it; the text is read when it settles,
 * `query.statement.string` as postgres.js built and sent it (`$n` placeholders for every interpolated
 * value, which never appear; inline literals of `sql.unsafe` text are the fingerprinter's to remove).
 * Spans have pg-query.ts's shape (`postgres.query:<COMMAND> <db>`, `db.system.name`, `db.namespace`,
 * `server.address`/`port`, `db.query.text`; an error status with the error's class and SQLSTATE only).
 *
 * The connection attributes come from the instance's options: the factory (`postgres(url, options)`) is
 * wrapped to note them for its queries' handler; queries of `sql.begin()`/`sql.reserve()` scopes, whose
 * handler is their own, take those of the instance created last (exact for the usual one instance).
 *
 * Not traced: cursors (`.cursor()`, which swaps the query's resolve per batch), COPY streams
 * (`.readable()`/`.writable()`) and the connection's own queries on connecting (array types, the
 * read-only check: a query without a canceller). An instance is a pool of its own (postgres-js-pool.ts):
 * a query of the instance's that waited for a connection gets a `postgres.pool.wait` span beside it, as a
 * pg-pool checkout that waited gets `pg-pool.connect`, and its query span starts once a connection starts
 * on it, so its time is its own (queries of a transaction, run on the connection the transaction holds,
 * have no such wait: their spans start when they are run). The CommonJS build is patched by the
 * require hook; an ES module app's `import postgres from 'postgres'` loads the package's ES build, whose
 * files hand the same class and factory over as they load (esm-targets.ts). Never breaks the app: a
 * failure leaves the query untraced.
 */
import { type Attributes, type Context, type Span, SpanKind } from '@opentelemetry/api';
import {
  InstrumentationNodeModuleDefinition,
  InstrumentationNodeModuleFile,
} from '@opentelemetry/instrumentation';
import { POSTGRES_JS_POOL_SPAN_NAMES } from '../model/attributes';
import { endSpan } from './end-span';
import { registerEsmPatch } from './esm-patches';
import { shareAttributes } from './lean-tracer';
import { PreloadInstrumentation } from './module-hooks';
import { isPatched, markPatched } from './patch-mark';
import { commandOf } from './pg-query';
import type { PoolUsageSampler } from './pool-usage-sampler';
import {
  hookActive,
  type InstanceOptions,
  noteConnectionQueues,
  PostgresJsPool,
  postgresJsUsageSampler,
  waitAttributes,
} from './postgres-js-pool';
import { preloadContext } from './preload-context';

type Method = (this: unknown, ...args: unknown[]) => unknown;

const RECORD = Symbol('spanstat.postgresJs.query');
type Settle = (value: unknown) => unknown;

interface QueryLike {
  executed?: boolean;
  active?: boolean;
  handler?: unknown;
  strings?: unknown;
  string?: unknown;
  statement?: { string?: unknown } | null;
  canceller?: unknown;
  cursorRows?: unknown;
  streaming?: unknown;
  resolve?: Settle;
  reject?: Settle;
  [RECORD]?: PooledQuery;
}

interface SqlLike {
  options?: InstanceOptions;
  unsafe?: (text: string) => QueryLike;
  reserve?: Method;
}

interface QueryModule {
  Query?: { prototype?: { handle?: Method } };
}

const VERSIONS = ['>=3.0.0 <4'];
const NO_DATABASE: Attributes = shareAttributes({ 'db.system.name': 'postgresql' });

/** What the preload knows of an instance made by the factory: its queries' attributes, and its pool. */
interface Instance {
  attributes: Attributes;
  pool: PostgresJsPool | undefined;
  /** The instance's handler, wrapped to see where it puts each query (countingHandler). */
  handler: Method | undefined;
}

/** Each instance, by its queries' handler. */
const instances = new WeakMap<object, Instance>();
/** The instance created last: for the queries of transaction and reserved scopes. */
let lastAttributes: Attributes = NO_DATABASE;

/** Where a query of an instance with a pool is, from its handle() on. */
const Phase = {
  /** Not yet placed by the instance's handler. */
  Handled: 0,
  /** No connection was free for it: its wait span is open. */
  Waiting: 1,
  /** On a connection: its query span is open. */
  Running: 2,
  Settled: 3,
} as const;
type Phase = (typeof Phase)[keyof typeof Phase];

/** A traced query of an instance with a pool (traceOnPool). */
interface PooledQuery {
  phase: Phase;
  readonly parent: Context;
  readonly instance: Instance;
  readonly pool: PostgresJsPool;
  wait: Span | undefined;
  span: Span | undefined;
}

export class PostgresJsQueryInstrumentation extends PreloadInstrumentation {
  /** Per-instance usage samples; undefined when pool spans are off (SPANSTAT_POOL_CONNECT_SPANS=false). */
  private readonly usage: PoolUsageSampler<PostgresJsPool> | undefined;

  constructor(options: { poolSpans?: boolean } = {}) {
    super('spanstat-postgres-js', '1.0.0');
    // Set after super(), which hooks require: the pool seams below only act once `usage` is set.
    this.usage = options.poolSpans === false ? undefined : postgresJsUsageSampler(() => this.tracer);
  }

  protected init() {
    const patchQuery = (exports: QueryModule) => {
      const proto = exports?.Query?.prototype;
      if (
        proto &&
        this.wrapOnce(proto, 'handle', (original: Method) => this.tracedHandle(original)) &&
        this.usage
      )
        hookActive(proto, (query) => this.onActive(query as QueryLike));
      return exports;
    };
    const patchConnection = (factory: unknown) =>
      typeof factory === 'function' && !isPatched(factory)
        ? markPatched(noteConnectionQueues(factory as Method))
        : factory;
    const unpatchQuery = (exports?: QueryModule) => {
      const proto = exports?.Query?.prototype;
      this.unwrapOurs(proto, 'handle');
    };
    // The factory is the package's export (its CommonJS entry, cjs/src/index.js): the wrapper replaces
    // it in the module cache, and is never unwrapped.
    const patchFactory = (factory: unknown) =>
      typeof factory === 'function' && !isPatched(factory)
        ? noteInstances(
            factory as Method,
            this.usage && {
              handler: (handler, pool) => this.countingHandler(handler, pool),
              reserve: (reserve, pool) => this.timedReserve(reserve, pool),
            },
          )
        : factory;
    // An ES module app's import loads the package's ES build: its files hand these over (esm-targets.ts).
    registerEsmPatch('postgres/src/query.js', (exports) => patchQuery(exports as QueryModule));
    registerEsmPatch('postgres/src/connection.js', patchConnection);
    registerEsmPatch('postgres', patchFactory);
    // connection.js exports its factory, which index.js reads as it loads: replaced in the module
    // cache, never unwrapped (as the package's own factory).
    return new InstrumentationNodeModuleDefinition('postgres', VERSIONS, patchFactory, () => {}, [
      new InstrumentationNodeModuleFile('postgres/cjs/src/query.js', VERSIONS, patchQuery, unpatchQuery),
      new InstrumentationNodeModuleFile(
        'postgres/cjs/src/connection.js',
        VERSIONS,
        patchConnection,
        () => {},
      ),
    ]);
  }

  private tracedHandle(original: Method): Method {
    const instrumentation = this;
    return function handle(this: unknown) {
      const query = this as QueryLike;
      // A query without a canceller is the connection's own (the array types it reads on connecting,
      // its read-only check): its time stays in the query that waited for the connection.
      if (!query.executed && query.canceller && query.cursorRows === undefined && !query.streaming) {
        try {
          const instance = instanceOf(query.handler);
          if (instance?.pool !== undefined && instance.handler !== undefined && instrumentation.usage)
            instrumentation.traceOnPool(query, instance, instance.pool, instance.handler);
          else {
            const attributes = instance?.attributes ?? lastAttributes;
            const options = { kind: SpanKind.CLIENT, attributes };
            traceQuery(
              query,
              instrumentation.tracer.startSpan('postgres.query', options, preloadContext.active()),
              attributes,
            );
          }
        } catch {
          // The query runs untraced.
        }
      }
      // biome-ignore lint/complexity/noArguments: pass every argument through unchanged
      return original.apply(this, arguments as unknown as unknown[]);
    };
  }

  /**
   * The instance's handler, wrapped (once per instance): after it placed a query, notes the
   * connections in use for the usage samples and opens the query's wait span, or its query span when a
   * connection took it at once. Three queue lengths read before and after; nothing else per query.
   */
  private countingHandler(handler: Method, pool: PostgresJsPool): Method {
    const instrumentation = this;
    const counting = function countedHandler(this: unknown, query: unknown): unknown {
      const before = pool.inUse();
      // biome-ignore lint/complexity/noArguments: pass every argument through unchanged
      const result: unknown = handler.apply(this, arguments as unknown as unknown[]);
      try {
        const record = (query as { [RECORD]?: PooledQuery })?.[RECORD];
        if (record !== undefined && record.phase === Phase.Handled)
          instrumentation.placed(query as QueryLike, record, before);
        instrumentation.usage?.noteInUse(pool, pool.inUse(), pool.waiting);
      } catch {
        // The query runs; its wait is not timed.
      }
      return result;
    };
    // Read by the query for its origin stack trace (`debug: true`).
    return Object.assign(counting, { debug: (handler as { debug?: unknown }).debug });
  }

  /**
   * The instance's `sql.reserve()`, wrapped (once per instance): with no idle connection it waits for one,
   * queued with the instance's queries, timed as a postgres.pool.wait span in the caller's context — as a
   * query's wait is. A connection taken at once costs one length read.
   */
  private timedReserve(reserve: Method, pool: PostgresJsPool): Method {
    const instrumentation = this;
    return function reserveConnection(this: unknown) {
      let wait: Span | undefined;
      if (!pool.hasIdle()) {
        try {
          wait = instrumentation.waitSpan(pool, pool.inUse(), preloadContext.active());
          pool.waiting++;
          instrumentation.usage?.noteInUse(pool, pool.inUse(), pool.waiting);
        } catch {
          wait = undefined;
        }
      }
      // biome-ignore lint/complexity/noArguments: pass every argument through unchanged
      const result = reserve.apply(this, arguments as unknown as unknown[]);
      if (wait === undefined) return result;
      const span = wait;
      const done = (err?: unknown) => {
        pool.waiting--;
        endSpan(span, err, 'connection wait failed');
      };
      Promise.resolve(result).then(
        () => done(),
        (err: unknown) => done(err ?? new Error('reserve failed')),
      );
      return result;
    };
  }

  /** The handler has placed `query`: on a connection (it is active) or waiting for one. */
  private placed(query: QueryLike, record: PooledQuery, inUseBefore: number): void {
    if (query.active === true) {
      record.phase = Phase.Running;
      record.span = this.startQuery(record);
      return;
    }
    record.phase = Phase.Waiting;
    record.pool.waiting++;
    record.wait = this.waitSpan(record.pool, inUseBefore, record.parent);
  }

  /** The span of a wait for one of the pool's connections, `inUse` of them taken as it began. */
  private waitSpan(pool: PostgresJsPool, inUse: number, parent: Context): Span {
    return this.tracer.startSpan(
      POSTGRES_JS_POOL_SPAN_NAMES.wait,
      { kind: SpanKind.CLIENT, attributes: waitAttributes(pool, inUse) },
      parent,
    );
  }

  /** A connection started on `query` (hookActive): its wait ends, its query span starts. */
  private onActive(query: QueryLike): void {
    const record = query[RECORD];
    if (record === undefined || record.phase !== Phase.Waiting) return;
    record.wait?.end();
    record.wait = undefined;
    record.pool.waiting--;
    record.phase = Phase.Running;
    record.span = this.startQuery(record);
  }

  private startQuery(record: PooledQuery): Span {
    const options = { kind: SpanKind.CLIENT, attributes: record.instance.attributes };
    return this.tracer.startSpan('postgres.query', options, record.parent);
  }

  /** Traces a query of an instance with a pool: its spans start once the handler has placed it. */
  private traceOnPool(query: QueryLike, instance: Instance, pool: PostgresJsPool, handler: Method): void {
    const resolve = query.resolve;
    const reject = query.reject;
    if (typeof resolve !== 'function' || typeof reject !== 'function') return;
    const record: PooledQuery = {
      phase: Phase.Handled,
      parent: preloadContext.active(),
      instance,
      pool,
      wait: undefined,
      span: undefined,
    };
    query[RECORD] = record;
    query.handler = handler;
    query.resolve = (value) => {
      this.settle(query, record, undefined);
      return resolve(value);
    };
    query.reject = (err) => {
      this.settle(query, record, err ?? new Error('query failed'));
      return reject(err);
    };
  }

  /** The query settled: its wait (failed, if it never got a connection) and its query span end. */
  private settle(query: QueryLike, record: PooledQuery, err: unknown): void {
    const phase = record.phase;
    record.phase = Phase.Settled;
    if (phase === Phase.Settled) return;
    if (phase === Phase.Waiting) record.pool.waiting--;
    if (record.wait !== undefined) {
      endSpan(record.wait, err, 'connection wait failed');
      record.wait = undefined;
    }
    // One that never reached a connection (refused, cancelled, the instance ended) still counts as a
    // query, with its error, as before the wait was timed apart.
    const span = record.span ?? this.startQuery(record);
    finish(query, span, err, record.instance.attributes);
  }
}

/** Wraps the query's own resolve and reject (set per query in its constructor) to end `span` first. */
function traceQuery(query: QueryLike, span: Span, attributes: Attributes): void {
  const resolve = query.resolve;
  const reject = query.reject;
  if (typeof resolve !== 'function' || typeof reject !== 'function') {
    span.end();
    return;
  }
  query.resolve = (value) => {
    finish(query, span, undefined, attributes);
    return resolve(value);
  };
  query.reject = (err) => {
    finish(query, span, err ?? new Error('query failed'), attributes);
    return reject(err);
  };
}

function finish(query: QueryLike, span: Span, err: unknown, attributes: Attributes): void {
  try {
    const text = textOf(query);
    if (text !== undefined) {
      span.setAttribute('db.query.text', text);
      const db = attributes['db.namespace'];
      const command = commandOf(text);
      span.updateName(db === undefined ? `postgres.query:${command}` : `postgres.query:${command} ${db}`);
    }
  } catch {
    // The span ends without its text.
  }
  endSpan(span, err, 'query failed');
}

/** The text postgres.js sent (built with `$n` for each value), else the one it was given. */
function textOf(query: QueryLike): string | undefined {
  const built = query.statement?.string ?? query.string;
  if (typeof built === 'string') return built;
  const strings = query.strings;
  if (!Array.isArray(strings) || strings.length === 0) return undefined;
  // Not built (failed before it was sent): the template with a placeholder per value.
  return strings.map((s, i) => (i === 0 ? String(s) : `$${i}${String(s)}`)).join('');
}

function instanceOf(handler: unknown): Instance | undefined {
  return typeof handler === 'function' ? instances.get(handler) : undefined;
}

/**
 * The factory, noting each instance (its connection attributes, and its pool when `countingHandler`
 * is given: the pool spans are on) for its queries' handler.
 */
function noteInstances(
  factory: Method,
  poolSeams:
    | {
        handler: (handler: Method, pool: PostgresJsPool) => Method;
        reserve: (reserve: Method, pool: PostgresJsPool) => Method;
      }
    | undefined,
): Method {
  const wrapped = function postgres(this: unknown, ...args: unknown[]) {
    const sql = factory.apply(this, args) as SqlLike;
    try {
      const attributes = connectionAttributes(sql.options);
      lastAttributes = attributes;
      // A query made and never run gives the instance's handler (it holds no connection).
      const handler = sql.unsafe?.('').handler;
      if (typeof handler === 'function') {
        const pool = poolSeams && PostgresJsPool.of(sql.options);
        const counting = pool && poolSeams?.handler(handler as Method, pool);
        instances.set(handler, { attributes, pool, handler: counting });
        if (pool && typeof sql.reserve === 'function') sql.reserve = poolSeams?.reserve(sql.reserve, pool);
      }
    } catch {
      // Its queries carry no database name.
    }
    return sql;
  };
  // The factory's own properties (`postgres.PostgresError`, `postgres.toCamel`, …).
  return markPatched(Object.assign(wrapped, factory));
}

function connectionAttributes(options: SqlLike['options']): Attributes {
  const attributes: Attributes = { 'db.system.name': 'postgresql' };
  if (typeof options?.database === 'string' && options.database)
    attributes['db.namespace'] = options.database;
  const host = Array.isArray(options?.host) ? options.host[0] : options?.host;
  if (typeof host === 'string' && host) attributes['server.address'] = host;
  const port = Number(Array.isArray(options?.port) ? options.port[0] : options?.port);
  if (Number.isInteger(port) && port > 0) attributes['server.port'] = port;
  return shareAttributes(attributes);
}
