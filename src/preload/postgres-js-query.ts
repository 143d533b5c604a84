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
 * read-only check: a query without a canceller). A span's time includes any wait for a free connection, as postgres.js
 * queues queries itself (there is no pool checkout to time apart). The CommonJS build is patched by the
 * require hook; an ES module app's `import postgres from 'postgres'` loads the package's ES build, whose
 * files hand the same class and factory over as they load (esm-targets.ts). Never breaks the app: a
 * failure leaves the query untraced.
 */
import { type Attributes, type Span, SpanKind } from '@opentelemetry/api';
import {
  InstrumentationNodeModuleDefinition,
  InstrumentationNodeModuleFile,
} from '@opentelemetry/instrumentation';
import { endSpan } from './end-span';
import { registerEsmPatch } from './esm-patches';
import { shareAttributes } from './lean-tracer';
import { PreloadInstrumentation } from './module-hooks';
import { isPatched, markPatched } from './patch-mark';
import { commandOf } from './pg-query';
import { preloadContext } from './preload-context';

type Method = (this: unknown, ...args: unknown[]) => unknown;
type Settle = (value: unknown) => unknown;

interface QueryLike {
  executed?: boolean;
  handler?: unknown;
  strings?: unknown;
  string?: unknown;
  statement?: { string?: unknown } | null;
  canceller?: unknown;
  cursorRows?: unknown;
  streaming?: unknown;
  resolve?: Settle;
  reject?: Settle;
}

interface SqlLike {
  options?: { database?: unknown; host?: unknown; port?: unknown };
  unsafe?: (text: string) => QueryLike;
}

interface QueryModule {
  Query?: { prototype?: { handle?: Method } };
}

const VERSIONS = ['>=3.0.0 <4'];
const NO_DATABASE: Attributes = shareAttributes({ 'db.system.name': 'postgresql' });

/** Each instance's connection attributes, by its queries' handler. */
const attributesByHandler = new WeakMap<object, Attributes>();
/** The instance created last: for the queries of transaction and reserved scopes. */
let lastAttributes: Attributes = NO_DATABASE;

export class PostgresJsQueryInstrumentation extends PreloadInstrumentation {
  constructor() {
    super('spanstat-postgres-js', '1.0.0');
  }

  protected init() {
    const patchQuery = (exports: QueryModule) => {
      const proto = exports?.Query?.prototype;
      if (proto && typeof proto.handle === 'function' && !isPatched(proto.handle))
        this._wrap(proto, 'handle', (original: Method) => markPatched(this.tracedHandle(original)));
      return exports;
    };
    const unpatchQuery = (exports?: QueryModule) => {
      const proto = exports?.Query?.prototype;
      if (proto && isPatched(proto.handle)) this._unwrap(proto, 'handle');
    };
    // The factory is the package's export (its CommonJS entry, cjs/src/index.js): the wrapper replaces
    // it in the module cache, and is never unwrapped.
    const patchFactory = (factory: unknown) =>
      typeof factory === 'function' && !isPatched(factory) ? noteConnections(factory as Method) : factory;
    // An ES module app's import loads the package's ES build: its files hand these over (esm-targets.ts).
    registerEsmPatch('postgres/src/query.js', (exports) => patchQuery(exports as QueryModule));
    registerEsmPatch('postgres', patchFactory);
    return new InstrumentationNodeModuleDefinition('postgres', VERSIONS, patchFactory, () => {}, [
      new InstrumentationNodeModuleFile('postgres/cjs/src/query.js', VERSIONS, patchQuery, unpatchQuery),
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
          const attributes = attributesOf(query.handler);
          const options = { kind: SpanKind.CLIENT, attributes };
          traceQuery(
            query,
            instrumentation.tracer.startSpan('postgres.query', options, preloadContext.active()),
          );
        } catch {
          // The query runs untraced.
        }
      }
      // biome-ignore lint/complexity/noArguments: pass every argument through unchanged
      return original.apply(this, arguments as unknown as unknown[]);
    };
  }
}

/** Wraps the query's own resolve and reject (set per query in its constructor) to end `span` first. */
function traceQuery(query: QueryLike, span: Span): void {
  const resolve = query.resolve;
  const reject = query.reject;
  if (typeof resolve !== 'function' || typeof reject !== 'function') {
    span.end();
    return;
  }
  query.resolve = (value) => {
    finish(query, span, undefined);
    return resolve(value);
  };
  query.reject = (err) => {
    finish(query, span, err ?? new Error('query failed'));
    return reject(err);
  };
}

function finish(query: QueryLike, span: Span, err: unknown): void {
  try {
    const text = textOf(query);
    if (text !== undefined) {
      span.setAttribute('db.query.text', text);
      const db = attributesOf(query.handler)['db.namespace'];
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

function attributesOf(handler: unknown): Attributes {
  return (typeof handler === 'function' && attributesByHandler.get(handler)) || lastAttributes;
}

/** The factory, noting each instance's connection attributes for its queries' handler. */
function noteConnections(factory: Method): Method {
  const wrapped = function postgres(this: unknown, ...args: unknown[]) {
    const sql = factory.apply(this, args) as SqlLike;
    try {
      const attributes = connectionAttributes(sql.options);
      lastAttributes = attributes;
      // A query made and never run gives the instance's handler (it holds no connection).
      const handler = sql.unsafe?.('').handler;
      if (typeof handler === 'function') attributesByHandler.set(handler, attributes);
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
