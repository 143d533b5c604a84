/**
 * `pg-pool.connect` spans carrying the pool's name (`db.client.connection.pool.name`, see
 * poolAddress), its size and how many clients were in use when the checkout started
 * (spanstat.pool.max / spanstat.pool.in_use), which the sidecar's per-pool saturation advice reads
 * (the query spans come from pg-query.ts; plain-client `pg.connect` spans are not made: they are
 * noise for the reports).
 *
 * Only checkouts that wait get a span: no idle client was free for them (the pool queued them or
 * had to open a connection). A checkout served by an idle client takes microseconds and says
 * nothing about saturation, yet its span cost as much as the query's — one extra span per
 * `pool.query`. So the sidecar's pool `connects` count waited checkouts; wait time per request
 * is unchanged (skipped checkouts waited ~0). On the demo's quote route (pool of 10, 8 connections)
 * 5 spans a request become 4; preload-cpu-probe could not resolve the CPU gain from the noise of
 * the shared VM (load ~5 on 2 cores: min of 6 rounds 802 → 828 µs, medians 858 → 887 µs).
 * Every checkout, waiting or not, is noted for the pool's usage samples (pool-usage-sampler.ts).
 */
import { type Attributes, type Span, SpanKind } from '@opentelemetry/api';
import { InstrumentationNodeModuleDefinition } from '@opentelemetry/instrumentation';
import { POOL_NAME_ATTR, SPANSTAT_ATTR } from '../model/attributes';
import { endSpan, endWhenSettled } from './end-span';
import { exportedPrototype, PreloadInstrumentation } from './module-hooks';
import { clientsInUse, PoolUsageSampler } from './pool-usage-sampler';
import { preloadContext } from './preload-context';

const BASE_ATTRIBUTES = Symbol('spanstat.poolAttributes');

type ConnectCallback = (err: unknown, client?: unknown, done?: unknown) => void;
type Connect = (this: PoolLike, cb?: ConnectCallback) => unknown;

interface PoolOptions {
  max?: number;
  host?: string;
  port?: number | string;
  database?: string;
  connectionString?: string;
  application_name?: string;
}

interface PoolLike {
  options?: PoolOptions;
  totalCount?: number;
  idleCount?: number;
  _clients?: unknown[];
  _idle?: unknown[];
  waitingCount?: number;
  _pendingQueue?: unknown[];
  [BASE_ATTRIBUTES]?: Attributes;
  connect: Connect;
}

/**
 * True when a checkout made now cannot be served by an idle client: fewer idle clients than
 * checkouts already queued ahead of it (pg-pool serves its queue in order), so it waits for a
 * release or a new connection. Unknown internals count as waiting (span kept).
 */
export function checkoutWaits(pool: PoolLike): boolean {
  const idle = pool.idleCount ?? pool._idle?.length;
  const waiting = pool.waitingCount ?? pool._pendingQueue?.length;
  if (typeof idle !== 'number' || typeof waiting !== 'number') return true;
  return idle <= waiting;
}

export class PgPoolConnectInstrumentation extends PreloadInstrumentation {
  constructor() {
    super('spanstat-pg-pool-connect', '1.0.0');
  }

  protected init() {
    const { patch, unpatch } = this.methodsPatch(exportedPrototype, {
      connect: (original: Connect) => this.patchConnect(original),
    });
    return new InstrumentationNodeModuleDefinition('pg-pool', ['>=2.0.0 <4'], patch, unpatch);
  }

  private patchConnect(original: Connect): Connect {
    const instrumentation = this;
    const usage = new PoolUsageSampler<PoolLike>(() => instrumentation.tracer, poolBaseAttributes);
    return function connect(this: PoolLike, cb?: ConnectCallback) {
      const parent = preloadContext.active();
      try {
        usage.noteCheckout(this);
      } catch {
        // Odd pool internals: no usage sample, the checkout goes on.
      }
      if (!checkoutWaits(this)) {
        // No span. A callback still runs in the caller's context: pg-pool answers from a
        // nextTick pulse, and a release in between (another request's code) can serve this
        // checkout from the queue first. A promise continues in the awaiting code's context.
        if (typeof cb !== 'function') return original.call(this);
        const callback = cb;
        return original.call(this, (err: unknown, client?: unknown, done?: unknown) =>
          preloadContext.with(parent, callback, undefined, err, client, done),
        );
      }
      let span: Span;
      try {
        span = instrumentation.tracer.startSpan(
          'pg-pool.connect',
          { kind: SpanKind.CLIENT, attributes: poolAttributes(this) },
          parent,
        );
      } catch {
        return original.call(this, cb);
      }
      if (typeof cb === 'function') {
        // A waiting checkout is answered from whichever request released a client: run the
        // callback in the caller's context, or its queries would join that other request's trace.
        const callback = cb;
        return original.call(
          this,
          // context.with, not context.bind: bind defines properties on a new function per call,
          // which showed up in CPU profiles of the pg route.
          (err: unknown, client?: unknown, done?: unknown) => {
            endSpan(span, err, 'connect failed');
            preloadContext.with(parent, callback, undefined, err, client, done);
          },
        );
      }
      const result = original.call(this) as PromiseLike<unknown> | undefined;
      // pg-pool may be configured with another Promise implementation: check for a thenable.
      if (result && typeof result.then === 'function') return endWhenSettled(result, span, 'connect failed');
      span.end();
      return result;
    };
  }
}

/** A pool's constant span attributes (identity, address, database, size), computed once per pool. */
export function poolBaseAttributes(pool: PoolLike): Attributes {
  let base = pool[BASE_ATTRIBUTES];
  if (base === undefined) {
    base = baseAttributes(pool.options ?? {});
    pool[BASE_ATTRIBUTES] = base;
  }
  return base;
}

/** Span attributes for a checkout from `pool`: the constant ones and the clients in use before it. */
export function poolAttributes(pool: PoolLike): Attributes {
  const base = poolBaseAttributes(pool);
  const inUse = clientsInUse(pool);
  const attributes: Attributes = { ...base };
  if (inUse !== undefined) attributes[SPANSTAT_ATTR.poolInUse] = inUse;
  return attributes;
}

function baseAttributes(options: PoolOptions): Attributes {
  return poolIdentityAttributes(poolAddress(options), poolApplicationName(options), options.max);
}

/**
 * A pool's constant span attributes: its name, `host:port/database` (`servers` for the `host:port`
 * part when it connects to several), then ` (application_name)` when it sets its own; its address,
 * database and size. pg pools and postgres.js instances (postgres-js-pool.ts) are named alike.
 */
export function poolIdentityAttributes(
  { host, port, database }: PoolAddress,
  application: string | undefined,
  max: number | undefined,
  servers = `${host}:${port}`,
): Attributes {
  const attributes: Attributes = { 'db.system.name': 'postgresql' };
  const address = database === undefined ? servers : `${servers}/${database}`;
  attributes[POOL_NAME_ATTR] = application === undefined ? address : `${address} (${application})`;
  if (database !== undefined) attributes['db.namespace'] = database;
  attributes['server.address'] = host;
  attributes['server.port'] = port;
  if (typeof max === 'number') attributes[SPANSTAT_ATTR.poolMax] = max;
  return attributes;
}

/** Where a pool's clients connect: host (or socket directory), port and database, never the user. */
export interface PoolAddress {
  host: string;
  port: number;
  /** Undefined when nothing names it (pg then connects to the database named like the user). */
  database: string | undefined;
}

/**
 * The server and database a pool's clients connect to, resolved as pg's ConnectionParameters does
 * (the connection string over the options, then PGHOST / PGPORT / PGDATABASE, then localhost:5432),
 * so the pool spans name what the query spans (which read the client's resolved parameters) name.
 * Read once per pool. The pool's identity, `db.client.connection.pool.name`, is built from it as
 * OpenTelemetry suggests (`server.address:server.port/db.namespace`), followed by the pool's own
 * `application_name` when it sets one (poolApplicationName). Two pools of one process to the same
 * host, port and database without their own application_name read as one pool (their peaks and
 * sizes merge as the larger): nothing else cheap and stable tells them apart (pg-pool has no pool
 * name, and an order of creation would differ between the app's processes). A database left to
 * pg's default (the user's name) is left out rather than guessed from the user.
 */
export function poolAddress(options: PoolOptions, env: NodeJS.ProcessEnv = process.env): PoolAddress {
  let host: string | undefined;
  let port: number | string | undefined;
  let database: string | undefined;
  if (options.connectionString) {
    try {
      const url = new URL(options.connectionString);
      if (url.protocol === 'socket:') {
        // pg-connection-string's socket form: socket:/run/postgresql?db=shop
        host = decodeURIComponent(url.pathname) || undefined;
        database = url.searchParams.get('db') || undefined;
      } else {
        // URL.hostname never holds the user or password; `?host=/run/postgresql` names a socket directory.
        host = url.hostname || url.searchParams.get('host') || undefined;
        port = url.port || undefined;
        database = url.pathname.length > 1 ? decodeURIComponent(url.pathname.slice(1)) : undefined;
      }
    } catch {
      // Not a URL: the options and the environment say where it connects, as for pg.
    }
  }
  host ||= options.host || env.PGHOST || 'localhost';
  port ||= options.port || env.PGPORT || 5432;
  database ||= options.database || env.PGDATABASE || undefined;
  const portNumber = Number(port);
  return { host, port: Number.isInteger(portNumber) && portNumber > 0 ? portNumber : 5432, database };
}

/**
 * The `application_name` a pool's own options or connection string give (`?application_name=jobs`),
 * which names a web and a jobs pool to one database apart, as it does in `pg_stat_activity`. Not
 * PGAPPNAME: the environment names every pool of the process alike, which tells none apart. Cut to
 * PostgreSQL's 63 bytes-or-fewer identifier length, as the server cuts it.
 */
export function poolApplicationName(options: PoolOptions): string | undefined {
  let name = options.application_name;
  if (options.connectionString) {
    try {
      name = new URL(options.connectionString).searchParams.get('application_name') || name;
    } catch {
      // Not a URL: the options' own application_name, as for pg.
    }
  }
  return applicationNameOf(name);
}

/** An application_name as PostgreSQL keeps it (63 bytes or fewer), or undefined for none or an empty one. */
export function applicationNameOf(name: unknown): string | undefined {
  if (typeof name !== 'string') return undefined;
  const cut = name.trim().slice(0, 63);
  return cut === '' ? undefined : cut;
}
