/** What the classifier makes of a span; the aggregator and the trace assembler read only this. */
export type ClassifiedSpan = DbCall | CacheCall | PoolConnect | PoolUsageSample | RequestSpan | OtherSpan;

interface Base {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  startMs: number;
  durationMs: number;
  error: boolean;
}

export interface DbCall extends Base {
  type: 'db';
  /** `postgresql`, `mysql`, … as sent in db.system(.name). */
  system: string;
  /** Stable id of the statement shape (libpg-query fingerprint for PostgreSQL). */
  fingerprint: string;
  /** Statement with every literal replaced by a placeholder; never holds a literal value. */
  statement: string;
  /** SELECT / INSERT / UPDATE / DELETE / … */
  operation: string;
  /** First table the statement names, when known. */
  table: string;
  /**
   * An ORM's span around its driver's (Prisma's `prisma:client:db_query`, knex's): its service's DB
   * spans go through the nested-call check (nested-db-calls.ts), so the two count as one call.
   */
  aroundDriver?: boolean;
  /**
   * The wrapper makes exactly one driver call (knex's query span): whatever DB span is beneath it is
   * that call, whether or not its text matches (knex's may be cut at its maxQueryLength).
   */
  wrapsOneCall?: boolean;
}

export type CacheResult = 'hit' | 'miss' | 'none';

export interface CacheCall extends Base {
  type: 'cache';
  system: string;
  /** Lower-case command name: get, set, mget, … */
  command: string;
  /** Namespace of the first key, with id parts replaced by `*`. */
  namespace: string;
  /** True for commands that read a value (the ones with a hit/miss). */
  read: boolean;
  /** True for commands that write or expire a value. */
  write: boolean;
  /** Keys found (per key for MGET/HMGET); 0 when unknown. */
  hits: number;
  /** Keys not found; 0 when unknown. */
  misses: number;
  /** TTL in seconds set by the command (SET EX, SETEX, EXPIRE…), when the preload recorded it. */
  ttlSeconds?: number;
  /**
   * Keys of other namespaces an MGET found or not (from `spanstat.cache.key_hits`); `hits` and
   * `misses` above then count the first key's namespace only. Absent for most calls.
   */
  otherNamespaceReads?: NamespaceReads[];
}

/** Keys of one namespace a multi-key read looked up. */
export interface NamespaceReads {
  namespace: string;
  hits: number;
  misses: number;
}

/** Time spent waiting for a pooled connection (pg-pool.connect). */
export interface PoolConnect extends Base {
  type: 'pool-connect';
  system: string;
  /**
   * Which of the service's pools (`db.client.connection.pool.name`; the preload's is
   * `host:port/database`); '' when the span does not say (older preloads, other instrumentations).
   */
  pool: string;
  /** Pool size (`spanstat.pool.max`), when the preload recorded it. */
  poolMax?: number;
  /** Clients checked out when the wait began (`spanstat.pool.in_use`). */
  poolInUse?: number;
  /** Not sent on waits (PoolUsageSample's); here so both records have one shape. */
  poolWaiting?: number;
}

/**
 * A pool's peak clients in use over a few seconds (the preload's POOL_USAGE_SPAN_NAME samples,
 * made whether or not any checkout waited); not a checkout, and part of no request.
 */
export interface PoolUsageSample extends Base {
  type: 'pool-usage';
  system: string;
  /** As PoolConnect.pool. */
  pool: string;
  /** Pool size (`spanstat.pool.max`), when the preload recorded it. */
  poolMax?: number;
  /** Most clients in use at once since the previous sample (`spanstat.pool.in_use`). */
  poolInUse?: number;
  /** Most checkouts or queries waiting at once since the previous sample (`spanstat.pool.waiting`). */
  poolWaiting?: number;
}

/**
 * The `method` of units of work that are not HTTP requests: a job run (a preload job root, src/job.ts)
 * and a message consumer's span (kind CONSUMER, e.g. BullMQ's or kafkajs's `process` spans).
 */
export const JOB_METHOD = 'JOB';
export const CONSUMER_METHOD = 'CONSUMER';

/** A unit of work: an HTTP request (SERVER span), a job run (`JOB`) or a consumed message (`CONSUMER`). */
export interface RequestSpan extends Base {
  type: 'request';
  /** The HTTP method, or `JOB` / `CONSUMER` (classify-span.ts). */
  method: string;
  /**
   * Framework route (`/users/:id`) or, lacking one, the path with id segments as `:id`; for a job or
   * consumer, its name with id-like words as `:id`.
   */
  route: string;
  /** HTTP status code, 0 when unknown (and for jobs and consumers). */
  status: number;
  /** Spans the sender declared beneath it (`spanstat.descendants`), -1 when it did not say. */
  descendants: number;
  /** Spans the sending process had lost so far, when it said (`spanstat.preload.lost_spans`). */
  senderLoss: SenderLoss | undefined;
  /**
   * `service.version` of the span's resource: set by the pipeline from the resource's sender (a fact per
   * resource, so it is not read per span), undefined when the resource names none.
   */
  version?: string;
  /**
   * The route names a GraphQL operation from the span's own attributes (the preload's): one a span
   * beneath it names (GraphqlExecution) is not taken then. The classifier always sets it (one shape).
   */
  namesOperation?: boolean;
}

/** A GraphQL operation a span beneath a request names (instrumentation-graphql's `graphql.execute`). */
export interface GraphqlExecution {
  /** `query`, `mutation` or `subscription`. */
  type: string;
  /** Undefined for an anonymous operation. */
  name: string | undefined;
}

/** A sender's cumulative lost-span count, and which of a service's processes it is. */
export interface SenderLoss {
  /** The sender's random process id (`spanstat.preload.instance`), at most 64 characters. */
  instance: string;
  lostSpans: number;
}

export interface OtherSpan extends Base {
  type: 'other';
  /** The GraphQL operation this span executed, when it says (GRAPHQL_ATTR); the request beneath which it runs takes its name. */
  graphql?: GraphqlExecution | undefined;
}
