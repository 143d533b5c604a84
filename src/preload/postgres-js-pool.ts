/**
 * The pool side of postgres.js (the `postgres` package, 3.x): an instance (`postgres(url, { max })`)
 * is its own pool of `max` connections (10 by default), opened lazily. Its handler places each query:
 * on an idle (`open`) connection, else on a `closed` one it opens for it, else pipelined behind the
 * queries of a `busy` one, else on its `queries` queue, which connections take from as they come free
 * (index.js). Every connection is in exactly one of the instance's queues (`connecting`, `reserved` by
 * a transaction or sql.reserve(), `closed`, `ended`, `open`, `busy`, `full`), so the connections in use
 * are `max` less the open, closed and ended ones — what pg-pool calls clients checked out.
 *
 * Three seams, all set up once (per instance, per connection or per class), none per query:
 * - the Connection factory (connection.js), given each instance's options and queues as it makes the
 *   instance's connections: noted here by options, which the instance's `sql.options` is;
 * - the instance's handler, which a traced query is handed (its own `handler` property, set by the
 *   query instrumentation before it runs): a wrapper reads the connections in use before and after it,
 *   and whether the query got a connection at once (it is `active`);
 * - `Query.prototype.active`, an accessor over the instance's own flag: postgres.js sets it when a
 *   connection starts on the query — at once on an idle connection, or when the query before it on the
 *   connection completes (a pipelined query), or once a connection it waited for opens or comes free.
 *
 * So a query's wait for a connection is timed from where the handler put it to when it went active,
 * with no timer and no clock read for a query that got a connection at once; a pipelined query's wait
 * is the queries ahead of it on the connection, which a larger pool would have run beside it.
 *
 * Cost, A/B against SPANSTAT_POOL_CONNECT_SPANS=false (query spans as before, no pool): an HTTP app
 * running 10 sequential `SELECT $1` per request, 4 requests at a time on `max: 4`, process CPU per query
 * (its share of the request included), medians of 5–7 alternating rounds in three runs on this shared VM:
 * 207/171/193 µs off against 214/177/197 µs on — within the rounds' own ±10–20% scatter, not resolved.
 */
import type { Attributes } from '@opentelemetry/api';
import { POSTGRES_JS_POOL_SPAN_NAMES, SPANSTAT_ATTR } from '../model/attributes';
import { applicationNameOf, poolIdentityAttributes } from './pg-pool-connect';
import { POOL_USAGE_SAMPLE_MS, PoolUsageSampler } from './pool-usage-sampler';

type Method = (this: unknown, ...args: unknown[]) => unknown;

interface QueueLike {
  readonly length: number;
}

/** The queues an instance keeps its connections in (index.js's `queues`). */
interface Queues {
  open: QueueLike;
  closed: QueueLike;
  ended: QueueLike;
}

/** The instance's options as postgres.js resolved them (parseOptions): hosts and ports are arrays. */
export interface InstanceOptions {
  max?: unknown;
  host?: unknown;
  port?: unknown;
  database?: unknown;
  connection?: { application_name?: unknown } | null;
}

/** Each instance's connection queues, by its options object (the Connection factory is given both). */
const queuesByOptions = new WeakMap<object, Queues>();

/** The Connection factory, noting the queues each instance's connections are made with. */
export function noteConnectionQueues(factory: Method): Method {
  const wrapped = function Connection(this: unknown, options: unknown, queues: unknown) {
    if (options !== null && typeof options === 'object' && isQueues(queues)) {
      try {
        queuesByOptions.set(options, queues);
      } catch {
        // The instance has no pool report.
      }
    }
    // biome-ignore lint/complexity/noArguments: pass every argument through unchanged
    return factory.apply(this, arguments as unknown as unknown[]);
  };
  return Object.assign(wrapped, factory);
}

function isQueues(value: unknown): value is Queues {
  const queues = value as Partial<Queues> | null | undefined;
  return (
    typeof queues?.open?.length === 'number' &&
    typeof queues.closed?.length === 'number' &&
    typeof queues.ended?.length === 'number'
  );
}

/** One postgres.js instance seen as a pool: its name and size, and its connections in use. */
export class PostgresJsPool {
  /** The pool's constant span attributes (name, address, database, size), as pg pools'. */
  readonly attributes: Attributes;
  /** The instance's traced queries waiting for a connection now (their wait spans open). */
  waiting = 0;

  private constructor(
    private readonly queues: Queues,
    private readonly max: number,
    options: InstanceOptions,
  ) {
    this.attributes = instancePoolAttributes(options, max);
  }

  /** The instance `options` belong to as a pool; undefined when its queues were not seen. */
  static of(options: InstanceOptions | undefined): PostgresJsPool | undefined {
    if (options === undefined || options === null) return undefined;
    const queues = queuesByOptions.get(options);
    const max = options.max;
    if (queues === undefined || typeof max !== 'number' || !(max > 0)) return undefined;
    return new PostgresJsPool(queues, max, options);
  }

  /** Whether a connection is open and idle: what `sql.reserve()` takes at once, else it waits. */
  hasIdle(): boolean {
    return this.queues.open.length > 0;
  }

  /** Connections in use: opening, running or pipelining queries, or held by a transaction. */
  inUse(): number {
    const q = this.queues;
    return this.max - q.open.length - q.closed.length - q.ended.length;
  }
}

/** Usage samples for postgres.js instances: `postgres.pool.usage` spans, one per instance per 5 s at most. */
export function postgresJsUsageSampler(
  tracer: ConstructorParameters<typeof PoolUsageSampler>[0],
): PoolUsageSampler<PostgresJsPool> {
  return new PoolUsageSampler<PostgresJsPool>(
    tracer,
    (pool) => pool.attributes,
    POOL_USAGE_SAMPLE_MS,
    POSTGRES_JS_POOL_SPAN_NAMES.usage,
  );
}

/**
 * The instance's pool attributes, named as pg pools are (pg-pool-connect.ts): `host:port/database`,
 * every host of a multi-host URL (`a:5432,b:5433/shop`), and ` (application_name)` when the instance
 * sets its own (its options' `connection`, or the URL's `?application_name=`) — not postgres.js's
 * default, `postgres.js` or PGAPPNAME, which names every instance of the process alike.
 */
export function instancePoolAttributes(
  options: InstanceOptions,
  max: number | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Attributes {
  const hosts = Array.isArray(options.host) ? options.host : [options.host];
  const ports = Array.isArray(options.port) ? options.port : [options.port];
  const servers = hosts.map((host, i) => `${hostOf(host)}:${portOf(ports[i] ?? ports[0])}`);
  const database =
    typeof options.database === 'string' && options.database !== '' ? options.database : undefined;
  const own = applicationNameOf(options.connection?.application_name);
  const application = own === applicationNameOf(env.PGAPPNAME || 'postgres.js') ? undefined : own;
  const address = { host: hostOf(hosts[0]), port: portOf(ports[0]), database };
  const attributes = poolIdentityAttributes(address, application, max, servers.join(','));
  return attributes;
}

function hostOf(host: unknown): string {
  return typeof host === 'string' && host !== '' ? host : 'localhost';
}

function portOf(port: unknown): number {
  const n = Number(port);
  return Number.isInteger(n) && n > 0 ? n : 5432;
}

/** The flag behind the accessor (hookActive). */
const ACTIVE = Symbol('spanstat.postgresJs.active');

/**
 * Makes `active` of the Query class an accessor over the instance's own flag, which calls `onActive`
 * whenever postgres.js sets it true (a connection starts on the query). Set up once per class; left in
 * place when the instrumentation is unpatched (`onActive` then finds nothing to do). A class that
 * already has an `active` of its own is left as it is.
 */
export function hookActive(proto: object, onActive: (query: object) => void): void {
  if (Object.getOwnPropertyDescriptor(proto, 'active') !== undefined) return;
  Object.defineProperty(proto, 'active', {
    configurable: true,
    get(this: { [ACTIVE]?: unknown }) {
      return this[ACTIVE];
    },
    set(this: { [ACTIVE]?: unknown }, value: unknown) {
      this[ACTIVE] = value;
      if (value === true) {
        try {
          onActive(this);
        } catch {
          // The query's wait is not timed; it runs.
        }
      }
    },
  });
}

/** The span attributes of a query's wait: the pool's, and its connections in use when it was placed. */
export function waitAttributes(pool: PostgresJsPool, inUse: number): Attributes {
  return { ...pool.attributes, [SPANSTAT_ATTR.poolInUse]: inUse };
}
