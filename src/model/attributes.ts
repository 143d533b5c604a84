/**
 * OpenTelemetry's `db.client.connection.pool.name`: which of the app's pools a pool span is about,
 * "unique within the instrumented application". The preload sets it on `pg-pool.connect` and
 * `pg-pool.usage` spans as the convention suggests for pools without a name of their own,
 * `server.address:server.port/db.namespace` (never a user or password). (30 bytes: no other read key
 * has that length, so the decoder's by-length match costs other spans nothing.)
 */
export const POOL_NAME_ATTR = 'db.client.connection.pool.name';

/**
 * Attribute names the pipeline reads. Stable OpenTelemetry names first, then the older
 * generation other SDKs and older Node apps still send; the classifier takes the first present.
 */
export const ATTR = {
  dbSystem: ['db.system.name', 'db.system'],
  dbStatement: ['db.query.text', 'db.statement'],
  dbOperation: ['db.operation.name', 'db.operation'],
  dbNamespace: ['db.namespace', 'db.name'],
  dbTable: ['db.collection.name', 'db.sql.table'],
  httpMethod: ['http.request.method', 'http.method'],
  httpStatus: ['http.response.status_code', 'http.status_code'],
  httpRoute: ['http.route'],
  urlPath: ['url.path', 'http.target'],
  serverAddress: ['server.address', 'net.peer.name'],
  dbPoolName: [POOL_NAME_ATTR],
} as const;

/**
 * Attributes only spanstat's preload sets (OpenTelemetry has no names for these): the cache ones on
 * Redis read/write spans from the reply seen in the ioredis responseHook, the pool ones on pg-pool
 * connect spans, `descendants` and the lost-span count on SERVER spans and job roots.
 */
export const SPANSTAT_ATTR = {
  /** Keys the read found (1 for a GET hit; per key for MGET/HMGET). */
  cacheHits: 'spanstat.cache.hits',
  /** Keys the read did not find. */
  cacheMisses: 'spanstat.cache.misses',
  /**
   * On an MGET of more than one key: `1` for each key found and `0` for each not, in the command's
   * key order (`101`), so hits and misses can be counted per key namespace. (23 bytes: no other kept
   * key has that length, so the decoder's by-length match costs other spans nothing.)
   */
  cacheKeyHits: 'spanstat.cache.key_hits',
  /**
   * TTL in seconds a write or EXPIRE set; NO_EXPIRY (−1) on a write that left its key without an
   * expiry (SET without EX/PX/EXAT/PXAT/KEEPTTL, MSET, SETNX, GETSET, PERSIST). A value, not a key
   * of its own, so sidecars that predate it read −1 as "no TTL set" (they keep TTLs ≥ 0 only) and
   * the decoder keeps no further key.
   */
  cacheTtlSeconds: 'spanstat.cache.ttl_s',
  /** Size of the pg pool a pool-connect span came from (for saturation). */
  poolMax: 'spanstat.pool.max',
  /**
   * Clients in use in the pool when the connect started; on a POOL_USAGE_SPAN_NAME sample, the most
   * in use at once (each checkout's client counted) since the previous sample.
   */
  poolInUse: 'spanstat.pool.in_use',
  /**
   * On a usage sample: the most checkouts (pg-pool's queue) or queries (a postgres.js instance's:
   * queued, pipelined behind another query or waiting for a connection to open) waiting for a
   * connection at once since the previous sample.
   */
  poolWaiting: 'spanstat.pool.waiting',
  /**
   * Spans the process started beneath this SERVER span or job root before it ended (nested SERVER
   * spans and what is beneath them excluded): once that many have arrived, the sidecar summarises
   * the request or run at once instead of holding it through the assembly grace period.
   */
  descendants: 'spanstat.descendants',
  /**
   * On SERVER spans and job roots, once it is not zero: spans the sending process has lost so far
   * (its queue was full, or exports were refused, failed or dropped while paused). Cumulative, so a lost carrier
   * costs nothing; the sidecar sums the latest count of each `preloadInstance`.
   */
  lostSpans: 'spanstat.preload.lost_spans',
  /** Random id of the sending process (one per preload start), beside `lostSpans`. */
  preloadInstance: 'spanstat.preload.instance',
  /**
   * On the root span of a background job run (`runJob` in src/job.ts): the job's name, templated
   * (templateName). The sidecar makes such a span a unit of work like a SERVER span: method `JOB`.
   */
  jobName: 'spanstat.job.name',
} as const;

/**
 * The GraphQL operation a request ran, as OpenTelemetry's GraphQL conventions name it: the preload sets
 * type and name on the request's SERVER span (preload/graphql-operation.ts), and
 * `@opentelemetry/instrumentation-graphql` on its `graphql.execute` span. `operations` is spanstat's:
 * on a SERVER span whose request executed more than one distinct operation (a batch), their count.
 * (22 bytes for the two conventional keys: no other read key has that length, so the decoder's
 * by-length match costs other spans nothing.)
 */
export const GRAPHQL_ATTR = {
  operationType: 'graphql.operation.type',
  operationName: 'graphql.operation.name',
  operations: 'spanstat.graphql.operations',
} as const;

/**
 * The tRPC procedure a request called, set by the preload on the request's SERVER span
 * (preload/trpc-procedure.ts) so the sidecar can split the tRPC endpoint's row per procedure, as it
 * does GraphQL operations. spanstat's own keys: OpenTelemetry has no tRPC conventions, and `rpc.*` is
 * for RPC spans, not the HTTP request carrying one. A request that called more than one distinct
 * procedure (a batch) has them all in `procedure`, sorted and comma-separated, and their count in
 * `procedures`.
 */
export const TRPC_ATTR = {
  procedure: 'spanstat.trpc.procedure',
  type: 'spanstat.trpc.type',
  procedures: 'spanstat.trpc.procedures',
} as const;

/**
 * Set by `@opentelemetry/instrumentation-knex` (in auto-instrumentations-node's default set) on each
 * span it makes around one query of knex's, which the driver's instrumentation (pg) traces again
 * beneath it. Its text has knex's `?` placeholders. (12 bytes, as `db.statement`: a first-byte
 * mismatch for most other keys of that length.)
 */
export const KNEX_VERSION_ATTR = 'knex.version';

/** `spanstat.cache.ttl_s` of a write that left its key without an expiry. */
export const NO_EXPIRY = -1;

/**
 * Name of the preload's pool usage samples: root spans without duration carrying a pg pool's peak
 * clients in use over a few seconds (SPANSTAT_ATTR.poolInUse, poolMax), read for that peak only.
 */
export const POOL_USAGE_SPAN_NAME = 'pg-pool.usage';

/**
 * The preload's spans for a postgres.js instance's connections, which it pools itself: a query's wait
 * for a connection of the instance (read as pg-pool.connect spans are) and the instance's usage
 * samples (read as POOL_USAGE_SPAN_NAME's are). See preload/postgres-js-pool.ts.
 */
export const POSTGRES_JS_POOL_SPAN_NAMES = {
  wait: 'postgres.pool.wait',
  usage: 'postgres.pool.usage',
} as const;

/**
 * Every span attribute the pipeline reads (the classifier reads through ATTR and SPANSTAT_ATTR
 * only). The protobuf decoder skips the values of all others unread: about half of a typical
 * span's attributes (`server.port`, `client.address`, `user_agent.original` …).
 */
export const READ_ATTRIBUTE_KEYS: ReadonlySet<string> = new Set<string>([
  ...Object.values(ATTR).flat(),
  ...Object.values(SPANSTAT_ATTR),
  ...Object.values(GRAPHQL_ATTR),
  ...Object.values(TRPC_ATTR),
  KNEX_VERSION_ATTR,
]);
