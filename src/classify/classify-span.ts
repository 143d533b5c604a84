import type { KeyPattern } from '../cache-keys/key-patterns';
import { commandLabel, describeRedisCommand, parseRedisStatement } from '../cache-keys/redis-commands';
import { DEFAULTS } from '../config/defaults';
import {
  ATTR,
  GRAPHQL_ATTR,
  KNEX_VERSION_ATTR,
  POOL_USAGE_SPAN_NAME,
  POSTGRES_JS_POOL_SPAN_NAMES,
  SPANSTAT_ATTR,
  TRPC_ATTR,
} from '../model/attributes';
import {
  type CacheCall,
  type ClassifiedSpan,
  CONSUMER_METHOD,
  type DbCall,
  type GraphqlExecution,
  JOB_METHOD,
  type NamespaceReads,
  type OtherSpan,
  type PoolConnect,
  type PoolUsageSample,
  type RequestSpan,
  type SenderLoss,
} from '../model/classified';
import { type DecodedSpan, SpanKind, StatusCode } from '../model/span';
import { numberAttr, stringAttr } from './attributes';
import { isOperationType, OperationRoutes } from './graphql-operation';
import { knexPositionalBindings } from './knex-bindings';
import { compileRoutePatterns, matchRoutePattern } from './route-patterns';
import {
  MIDDLEWARE_ROUTE,
  methodLabel,
  STATIC_ROUTE,
  templateName,
  templatePath,
  templateWords,
  UNMATCHED_ROUTE,
} from './route-template';
import { procedureRoutes } from './trpc-procedure';

/** What the classifier needs from the SQL stage (src/sql). */
export interface SqlShaper {
  fingerprint(
    system: string,
    text: string,
  ): { fingerprint: string; statement: string; operation: string; table: string };
  /** A table name from a span attribute, its id parts templated as statements' are (`tenant_*.orders`). */
  templateName?(name: string): string;
}

/** What the classifier needs from the key-namespace stage (src/cache-keys). */
export interface KeyNamespacer {
  namespaceOf(key: string): string;
}

const CACHE_SYSTEMS = new Set(['redis', 'valkey', 'memcached', 'keydb', 'dragonfly']);
const POOL_CONNECT_NAMES = new Set([
  'pg-pool.connect',
  'pg.pool.connect',
  'mysql.pool.connect',
  POSTGRES_JS_POOL_SPAN_NAMES.wait,
]);
const POOL_USAGE_NAMES = new Set([POOL_USAGE_SPAN_NAME, POSTGRES_JS_POOL_SPAN_NAMES.usage]);
/**
 * Connection-level commands a client sends on connect (ioredis: hello, client setname, info, select…): no key,
 * no cache semantics, so they are not cache calls.
 */
const CONNECTION_COMMANDS = new Set([
  'hello',
  'client',
  'info',
  'connect',
  'auth',
  'select',
  'ping',
  'quit',
  'command',
  'cluster',
  'readonly',
  'readwrite',
  // A Cluster client's flag before a command redirected by ASK.
  'asking',
  'echo',
  'reset',
]);
/** A span name that cannot hold a literal: one word of letters, digits and `_ . : / -` (`pg.connect`). */
const PLAIN_NAME = /^[\w.:/-]*$/;

/** The text up to its first whitespace: an operation name is one word (`GET`, `MULTI get` → `MULTI`). */
function firstWord(text: string): string {
  const space = text.search(/\s/);
  return space < 0 ? text : text.slice(0, space);
}

/** Statement used for DB spans that carry no text, keyed by span name (e.g. `pg.connect`). */
const NO_STATEMENT_PREFIX = '(no statement) ';

/**
 * Turns a decoded span into a DB call, a cache call, a pool wait, a request or "other".
 * Pure apart from the SQL and namespace caches it is given; never throws on odd input.
 */
export class SpanClassifier {
  /**
   * The last `db.system` value seen and what it reads as: spans of one client repeat the same (interned)
   * string, and lower-casing it and looking it up in CACHE_SYSTEMS per span was a builtin call and a
   * hash look-up each.
   */
  private lastSystem = '';
  private lastLowerSystem = '';
  private lastIsCache = false;

  /** Configured route templates (`http.routes`), for requests without `http.route`. */
  private readonly routes: KeyPattern[];

  /** GraphQL requests' endpoint names, bounded per route (graphql-operation.ts). */
  private readonly operations: OperationRoutes;

  /** tRPC requests' endpoint names, bounded per route (trpc-procedure.ts). */
  private readonly procedures: OperationRoutes;

  constructor(
    private readonly sql: SqlShaper,
    private readonly keys: KeyNamespacer,
    routes: readonly string[] = [],
    graphqlOperationsPerRoute: number = DEFAULTS.http.graphqlOperationsPerRoute,
    trpcProceduresPerRoute: number = DEFAULTS.http.trpcProceduresPerRoute,
  ) {
    this.routes = compileRoutePatterns(routes);
    this.operations = new OperationRoutes(graphqlOperationsPerRoute);
    this.procedures = procedureRoutes(trpcProceduresPerRoute);
  }

  /** A request path as a route: a configured template it matches, else the path with ids as `:id`. */
  /** A configured route template the path matches (`http.routes`), also for requests the preload named by a fixed name. */
  private readonly configuredRoute = (path: string): string | undefined =>
    this.routes.length > 0 ? matchRoutePattern(this.routes, path) : undefined;

  private readonly routeOfPath = (path: string): string => this.configuredRoute(path) ?? templatePath(path);

  /**
   * Services that have sent a SERVER span with `http.route`: their framework names the requests it
   * routes, so one of theirs without a route was answered before routing (see `request`).
   */
  private readonly routedServices = new Set<string>();

  classify(span: DecodedSpan): ClassifiedSpan {
    const attributes = span.attributes;
    const system = stringAttr(attributes, ATTR.dbSystem);
    if (system !== undefined) {
      if (system !== this.lastSystem) {
        this.lastSystem = system;
        this.lastLowerSystem = system.toLowerCase();
        this.lastIsCache = CACHE_SYSTEMS.has(this.lastLowerSystem);
      }
      const lowerSystem = this.lastLowerSystem;
      if (this.lastIsCache) return this.cacheCall(span, lowerSystem) ?? other(span);
      if (POOL_CONNECT_NAMES.has(span.name)) return poolConnect(span, lowerSystem);
      if (POOL_USAGE_NAMES.has(span.name)) return poolUsage(span, lowerSystem);
      if (span.name === CONNECT_SPAN_NAME) return other(span);
      return this.dbCall(span, normalizeSystem(lowerSystem));
    }
    if (POOL_CONNECT_NAMES.has(span.name)) return poolConnect(span, 'postgresql');
    if (span.kind === SpanKind.SERVER) {
      const record = request(span, this.routeOfPath, this.configuredRoute, this.routedServices);
      // One property read per request each: the preload's GraphQL operation (graphql-operation.ts), else
      // its tRPC procedure (trpc-procedure.ts).
      const type = span.attributes[GRAPHQL_ATTR.operationType];
      if (typeof type === 'string' && isOperationType(type))
        nameByOperation(record, this.operations, type, span, OPERATION_NAME, OPERATIONS);
      else {
        const procedureType = span.attributes[TRPC_ATTR.type];
        if (typeof procedureType === 'string' && isOperationType(procedureType))
          nameByOperation(record, this.procedures, procedureType, span, PROCEDURE, PROCEDURES);
      }
      return record;
    }
    const job = stringAttr(span.attributes, JOB_NAME);
    if (job !== undefined) return unit(span, JOB_METHOD, runName(job), 0, false);
    if (span.kind === SpanKind.CONSUMER) return unit(span, CONSUMER_METHOD, runName(span.name), 0, false);
    const record = other(span);
    // One property read per span: instrumentation-graphql's `graphql.execute` span names the operation.
    const operationType = attributes[GRAPHQL_ATTR.operationType];
    if (typeof operationType === 'string' && isOperationType(operationType))
      record.graphql = { type: operationType, name: stringAttr(attributes, OPERATION_NAME) };
    return record;
  }

  /**
   * The route of a request a span beneath it named a GraphQL operation for (`operations` distinct ones
   * among them), bounded as a request naming its own is; the request assembler asks.
   */
  operationRoute(request: RequestSpan, operation: GraphqlExecution, operations: number): string {
    return this.operations.name(
      request.service,
      request.method,
      request.route,
      operation.type,
      operation.name,
      operations,
    );
  }

  /** `db.sql.table` / `db.collection.name`, id parts templated; '' when absent. */
  private attributeTable(attributes: DecodedSpan['attributes']): string {
    const table = stringAttr(attributes, ATTR.dbTable);
    if (table === undefined) return '';
    return this.sql.templateName ? this.sql.templateName(table) : table;
  }

  // The records below are built as object literals with one fixed field order per type (no spread):
  // the aggregator reads them per span, and spread-built objects measured ~2x slower to read there
  // (1.0 vs 2.2 µs per recordDbCall in bench/aggregate.bench.ts).
  private dbCall(span: DecodedSpan, system: string): DbCall {
    const attributes = span.attributes;
    const knex = attributes[KNEX_VERSION_ATTR] !== undefined;
    let text = stringAttr(attributes, ATTR.dbStatement);
    // knex's text is the one its pg dialect then numbers for the driver; numbered the same way, it is
    // the driver's statement (one fingerprint for the pair, and parseable for the advisor).
    if (knex && text !== undefined && system === 'postgresql') text = knexPositionalBindings(text);
    let fingerprint: string;
    let statement: string;
    let operation: string;
    let table: string;
    if (text === undefined) {
      // No text (e.g. `pg.connect`): grouped by span name. A name of more than one word may be the
      // statement itself (some instrumentations name spans so): it is shaped like one, literals out.
      const name = PLAIN_NAME.test(span.name) ? span.name : this.sql.fingerprint(system, span.name).statement;
      fingerprint = `name:${name}`;
      statement = NO_STATEMENT_PREFIX + name;
      operation = (stringAttr(attributes, ATTR.dbOperation) ?? '').toUpperCase();
      table = this.attributeTable(attributes);
    } else {
      const shape = this.sql.fingerprint(system, text);
      fingerprint = shape.fingerprint;
      statement = shape.statement;
      operation = shape.operation;
      table = shape.table || this.attributeTable(attributes);
    }
    return {
      type: 'db',
      service: span.service,
      traceId: span.traceId,
      spanId: span.spanId,
      parentSpanId: span.parentSpanId,
      startMs: span.startMs,
      durationMs: span.durationMs,
      error: span.statusCode === StatusCode.ERROR,
      system,
      fingerprint,
      statement,
      operation,
      table,
      aroundDriver: knex || span.name.startsWith(AROUND_DRIVER_SPAN),
      wrapsOneCall: knex,
    };
  }

  /**
   * undefined for connection-level commands, which are not cache calls. An attempt a Redis Cluster
   * redirected is no error (the client sends it again); whether it or its next attempt counts is the
   * pipeline's to say (redis-retries.ts).
   */
  private cacheCall(span: DecodedSpan, system: string): CacheCall | undefined {
    const attributes = span.attributes;
    const text = stringAttr(attributes, ATTR.dbStatement);
    const parsed = text ? parseRedisStatement(text) : undefined;
    // A parsed command is lower case already.
    const command = commandLabel(
      parsed?.command || firstWord(stringAttr(attributes, ATTR.dbOperation) || span.name).toLowerCase(),
    );
    if (CONNECTION_COMMANDS.has(command)) return undefined;
    const kind = describeRedisCommand(command);
    const firstKey = parsed?.keys[0];
    const call: CacheCall = {
      type: 'cache',
      service: span.service,
      traceId: span.traceId,
      spanId: span.spanId,
      parentSpanId: span.parentSpanId,
      startMs: span.startMs,
      durationMs: span.durationMs,
      error: span.statusCode === StatusCode.ERROR && span.redirected !== true,
      system,
      command,
      namespace: firstKey === undefined ? '(no key)' : this.keys.namespaceOf(firstKey),
      read: kind.read,
      write: kind.write,
      hits: numberAttr(attributes, HITS) ?? 0,
      misses: numberAttr(attributes, MISSES) ?? 0,
      ttlSeconds: numberAttr(attributes, TTL),
    };
    if (parsed !== undefined && parsed.keys.length > 1) {
      const found = stringAttr(attributes, KEY_HITS);
      if (found !== undefined) this.splitByNamespace(call, parsed.keys, found);
    }
    return call;
  }

  /**
   * An MGET's hits and misses per key namespace, from `1`/`0` per key in `found`: the call keeps its
   * first key's namespace, and the keys of any other go to `otherNamespaceReads`. Keys past those the
   * statement names (it names 32, redis-commands.ts) count with the first. A `found` that does not
   * fit the call (other length, other characters) leaves the call as it is.
   */
  private splitByNamespace(call: CacheCall, keys: readonly string[], found: string): void {
    if (found.length !== call.hits + call.misses || found.length < keys.length) return;
    let others: NamespaceReads[] | undefined;
    let hits = 0;
    let misses = 0;
    for (let i = 0; i < found.length; i++) {
      const hit = found.charCodeAt(i) === 49; // '1'
      if (!hit && found.charCodeAt(i) !== 48) return;
      const namespace = i > 0 && i < keys.length ? this.keys.namespaceOf(keys[i]) : call.namespace;
      if (namespace === call.namespace) {
        if (hit) hits++;
        else misses++;
        continue;
      }
      others ??= [];
      let reads = others.find((r) => r.namespace === namespace);
      if (reads === undefined) {
        reads = { namespace, hits: 0, misses: 0 };
        others.push(reads);
      }
      if (hit) reads.hits++;
      else reads.misses++;
    }
    if (others === undefined) return;
    call.hits = hits;
    call.misses = misses;
    call.otherNamespaceReads = others;
  }
}

/** `graphql.operation.name` and spanstat's batch count beside `graphql.operation.type` (graphql-operation.ts). */
const OPERATION_NAME = [GRAPHQL_ATTR.operationName];
const OPERATIONS = [GRAPHQL_ATTR.operations];
/**
 * Names a request by the operation (or procedure) of `type` its span names under `nameKey`, of `countKey`
 * distinct ones, bounded by `routes`.
 */
function nameByOperation(
  record: RequestSpan,
  routes: OperationRoutes,
  type: string,
  span: DecodedSpan,
  nameKey: readonly string[],
  countKey: readonly string[],
): void {
  record.namesOperation = true;
  record.route = routes.name(
    record.service,
    record.method,
    record.route,
    type,
    stringAttr(span.attributes, nameKey),
    numberAttr(span.attributes, countKey),
  );
}

/** The preload's tRPC procedure and batch count beside `spanstat.trpc.type` (trpc-procedure.ts). */
const PROCEDURE = [TRPC_ATTR.procedure];
const PROCEDURES = [TRPC_ATTR.procedures];
const HITS = [SPANSTAT_ATTR.cacheHits];
const MISSES = [SPANSTAT_ATTR.cacheMisses];
const TTL = [SPANSTAT_ATTR.cacheTtlSeconds];
const KEY_HITS = [SPANSTAT_ATTR.cacheKeyHits];
const POOL_MAX = [SPANSTAT_ATTR.poolMax];
const POOL_IN_USE = [SPANSTAT_ATTR.poolInUse];
const POOL_WAITING = [SPANSTAT_ATTR.poolWaiting];
const DESCENDANTS = [SPANSTAT_ATTR.descendants];
const LOST_SPANS = [SPANSTAT_ATTR.lostSpans];
const PRELOAD_INSTANCE = [SPANSTAT_ATTR.preloadInstance];
/** A job root's name (the preload's runJob); such a span, and a CONSUMER span, is a unit: status 0, failed on ERROR. */
const JOB_NAME = [SPANSTAT_ATTR.jobName];
/**
 * The DB span an ORM makes around its driver's (Prisma 7's, over `@prisma/adapter-pg`'s `pg.query`);
 * Prisma 6's `prisma:engine:db_query` is the engine's own call, with no driver span beneath it.
 */
const AROUND_DRIVER_SPAN = 'prisma:client:db_query';

/** Services remembered as naming their routes (a bound against senders inventing service names). */
const MAX_ROUTED_SERVICES = 10_000;

/**
 * instrumentation-pg's span for a client opening its connection (TCP, TLS, authentication), beneath
 * the pool checkout that needed one: no statement, so not a query. Counted as one, it added a call to
 * whichever request happened to open a connection (queries per request, a `pg.connect` row in the
 * query report); its time is the checkout's wait, which the pool report has.
 */
const CONNECT_SPAN_NAME = 'pg.connect';

/** Longest pool name kept (the preload's `host:port/database` is far shorter). */
const MAX_POOL_NAME_CHARS = 200;
/** Longest sender instance id kept: the preload's are UUIDs; anything longer is cut, not stored whole. */
const MAX_INSTANCE_CHARS = 64;

/** The last HTTP method upper-cased: requests repeat a few interned strings ('GET'), one builtin call saved each. */
const lastMethod = { raw: '', upper: '' };

function upperMethod(raw: string): string {
  if (raw !== lastMethod.raw) {
    lastMethod.raw = raw;
    lastMethod.upper = raw === '' ? '' : methodLabel(raw.toUpperCase());
  }
  return lastMethod.upper;
}

/** The last job or consumer name templated: runs repeat a few names, templateName runs once each. */
const lastRunName = { raw: '', templated: '' };

function runName(raw: string): string {
  if (raw !== lastRunName.raw) {
    lastRunName.raw = raw;
    lastRunName.templated = templateName(raw);
  }
  return lastRunName.templated;
}

/** The preload's names for requests an Express app answered before any route matched (route-template.ts). */
function isUnroutedName(route: string): boolean {
  return route === MIDDLEWARE_ROUTE || route === STATIC_ROUTE;
}

/**
 * A request's route: its `http.route`; else, for a service whose other requests carry one (its
 * framework's instrumentation names the requests it routes: Express's, Koa's, Nest's… in any SDK),
 * `(middleware)` — it was answered before routing (an auth 401, a rate limiter's 429, a preflight),
 * and its path is whatever the client sent (`/profile/<user>`); else, for a server that names no
 * route at all (plain `node:http`), its path with id-like segments templated.
 */
function request(
  span: DecodedSpan,
  routeOfPath: (path: string) => string,
  configuredRoute: (path: string) => string | undefined,
  routedServices: Set<string>,
): RequestSpan {
  const attributes = span.attributes;
  const method = upperMethod(stringAttr(attributes, ATTR.httpMethod) ?? '');
  const status = numberAttr(attributes, ATTR.httpStatus) ?? 0;
  let route = stringAttr(attributes, ATTR.httpRoute);
  if (route !== undefined && route.charCodeAt(0) === 40 /* ( */ && isUnroutedName(route)) {
    // Answered by middleware the app did not route (a proxy, a GraphQL handler…): an `http.routes`
    // template may still name it; never its raw path.
    const path = stringAttr(attributes, ATTR.urlPath);
    route = (path && configuredRoute(path)) || route;
  } else if (!route) {
    const path = stringAttr(attributes, ATTR.urlPath);
    // Non-HTTP servers (gRPC, …) have no path: the span name is their operation. A name with a path
    // in it (`GET /users/ann`) gets that path templated.
    if (!path) route = span.name.includes('/') ? templateWords(span.name, routeOfPath) : span.name;
    else if (status === 404) route = UNMATCHED_ROUTE;
    else if (routedServices.has(span.service)) route = configuredRoute(path) ?? MIDDLEWARE_ROUTE;
    else route = routeOfPath(path);
  } else if (routedServices.size < MAX_ROUTED_SERVICES && !routedServices.has(span.service)) {
    routedServices.add(span.service);
  }
  return unit(span, method, route, status, status >= 500);
}

/** A unit of work's record: an HTTP request, a job run or a consumed message (failed: besides an ERROR status). */
function unit(
  span: DecodedSpan,
  method: string,
  route: string,
  status: number,
  failed: boolean,
): RequestSpan {
  return {
    type: 'request',
    service: span.service,
    traceId: span.traceId,
    spanId: span.spanId,
    parentSpanId: span.parentSpanId,
    startMs: span.startMs,
    durationMs: span.durationMs,
    error: span.statusCode === StatusCode.ERROR || failed,
    method,
    route,
    status,
    descendants: declaredDescendants(span.attributes),
    senderLoss: declaredLoss(span.attributes),
    // Filled in by the pipeline (one shape for every request record).
    version: undefined,
    namesOperation: false,
  };
}

/** `spanstat.preload.lost_spans` (a positive integer) with its instance id; undefined otherwise. */
function declaredLoss(attributes: DecodedSpan['attributes']): SenderLoss | undefined {
  const lostSpans = numberAttr(attributes, LOST_SPANS);
  if (lostSpans === undefined || !Number.isSafeInteger(lostSpans) || lostSpans <= 0) return undefined;
  const instance = stringAttr(attributes, PRELOAD_INSTANCE) ?? '';
  return { instance: instance.slice(0, MAX_INSTANCE_CHARS), lostSpans };
}

/** `spanstat.descendants` when it is a count (a non-negative integer), else -1. */
function declaredDescendants(attributes: DecodedSpan['attributes']): number {
  const n = numberAttr(attributes, DESCENDANTS);
  return n !== undefined && Number.isInteger(n) && n >= 0 ? n : -1;
}

function poolConnect(span: DecodedSpan, system: string): PoolConnect {
  return poolRecord<PoolConnect>('pool-connect', span, system, span.statusCode === StatusCode.ERROR);
}

function poolUsage(span: DecodedSpan, system: string): PoolUsageSample {
  return poolRecord<PoolUsageSample>('pool-usage', span, system, false);
}

/** A pool wait or usage sample: the two records have the same fields, in the same order. */
function poolRecord<T extends PoolConnect | PoolUsageSample>(
  type: T['type'],
  span: DecodedSpan,
  system: string,
  error: boolean,
): T {
  return {
    type,
    service: span.service,
    traceId: span.traceId,
    spanId: span.spanId,
    parentSpanId: span.parentSpanId,
    startMs: span.startMs,
    durationMs: span.durationMs,
    error,
    system,
    pool: poolName(span.attributes),
    poolMax: numberAttr(span.attributes, POOL_MAX),
    poolInUse: numberAttr(span.attributes, POOL_IN_USE),
    poolWaiting: type === 'pool-usage' ? numberAttr(span.attributes, POOL_WAITING) : undefined,
  } as T;
}

/**
 * The pool's name (`db.client.connection.pool.name`), '' when the span does not say: a service's
 * spans without one share one pool row per system, as all its pools did before the preload named them.
 * Another instrumentation may name a pool after its connection string: anything up to an `@` (a user
 * and password) is cut off, and so are a URI's `?` parameters (where libpq takes a password too); the rest
 * is kept to MAX_POOL_NAME_CHARS.
 */
function poolName(attributes: DecodedSpan['attributes']): string {
  const name = stringAttr(attributes, ATTR.dbPoolName);
  if (name === undefined) return '';
  const at = name.lastIndexOf('@');
  let rest = at < 0 ? name : name.slice(at + 1);
  // A URI's parameters (`?password=…`, libpq's `?user=…&password=…`) and fragment go too.
  const query = rest.search(/[?#]/);
  if (query >= 0) rest = rest.slice(0, query);
  return rest.length > MAX_POOL_NAME_CHARS ? rest.slice(0, MAX_POOL_NAME_CHARS) : rest;
}

function other(span: DecodedSpan): OtherSpan {
  return {
    type: 'other',
    service: span.service,
    traceId: span.traceId,
    spanId: span.spanId,
    parentSpanId: span.parentSpanId,
    startMs: span.startMs,
    durationMs: span.durationMs,
    error: span.statusCode === StatusCode.ERROR,
    graphql: undefined,
  };
}

function normalizeSystem(system: string): string {
  return system === 'postgres' || system === 'pg' ? 'postgresql' : system;
}
