import { describeRedisCommand, parseRedisStatement } from '../cache-keys/redis-commands';
import { ATTR, SPANSTAT_ATTR } from '../model/attributes';
import { baseOf, type CacheCall, type ClassifiedSpan, type DbCall } from '../model/classified';
import { type DecodedSpan, SpanKind } from '../model/span';
import { numberAttr, stringAttr } from './attributes';
import { templatePath } from './route-template';

/** What the classifier needs from the SQL stage (src/sql). */
export interface SqlShaper {
  fingerprint(
    system: string,
    text: string,
  ): { fingerprint: string; statement: string; operation: string; table: string };
}

/** What the classifier needs from the key-namespace stage (src/cache-keys). */
export interface KeyNamespacer {
  namespaceOf(key: string): string;
}

const CACHE_SYSTEMS = new Set(['redis', 'valkey', 'memcached', 'keydb', 'dragonfly']);
const POOL_CONNECT_NAMES = new Set(['pg-pool.connect', 'pg.pool.connect', 'mysql.pool.connect']);
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
  'echo',
  'reset',
]);
/** Statement used for DB spans that carry no text, keyed by span name (e.g. `pg.connect`). */
const NO_STATEMENT_PREFIX = '(no statement) ';

/**
 * Turns a decoded span into a DB call, a cache call, a pool wait, a request or "other".
 * Pure apart from the SQL and namespace caches it is given; never throws on odd input.
 */
export class SpanClassifier {
  constructor(
    private readonly sql: SqlShaper,
    private readonly keys: KeyNamespacer,
  ) {}

  classify(span: DecodedSpan): ClassifiedSpan {
    const attributes = span.attributes;
    const system = stringAttr(attributes, ATTR.dbSystem);
    if (system !== undefined) {
      const lowerSystem = system.toLowerCase();
      if (CACHE_SYSTEMS.has(lowerSystem))
        return this.cacheCall(span, lowerSystem) ?? { ...baseOf(span), type: 'other' };
      if (POOL_CONNECT_NAMES.has(span.name))
        return { ...baseOf(span), type: 'pool-connect', system: lowerSystem, ...poolAttrs(span) };
      return this.dbCall(span, lowerSystem);
    }
    if (POOL_CONNECT_NAMES.has(span.name))
      return { ...baseOf(span), type: 'pool-connect', system: 'postgresql', ...poolAttrs(span) };
    if (span.kind === SpanKind.SERVER) return this.request(span);
    return { ...baseOf(span), type: 'other' };
  }

  private dbCall(span: DecodedSpan, system: string): DbCall {
    const text = stringAttr(span.attributes, ATTR.dbStatement);
    const base = baseOf(span);
    if (text === undefined) {
      // No text (e.g. `pg.connect`): group by span name, which carries no literal.
      const operation = stringAttr(span.attributes, ATTR.dbOperation) ?? '';
      return {
        ...base,
        type: 'db',
        system: normalizeSystem(system),
        fingerprint: `name:${span.name}`,
        statement: NO_STATEMENT_PREFIX + span.name,
        operation: operation.toUpperCase(),
        table: stringAttr(span.attributes, ATTR.dbTable) ?? '',
      };
    }
    const shape = this.sql.fingerprint(normalizeSystem(system), text);
    return {
      ...base,
      type: 'db',
      system: normalizeSystem(system),
      fingerprint: shape.fingerprint,
      statement: shape.statement,
      operation: shape.operation,
      table: shape.table || (stringAttr(span.attributes, ATTR.dbTable) ?? ''),
    };
  }

  /** undefined for connection-level commands, which are not cache calls. */
  private cacheCall(span: DecodedSpan, system: string): CacheCall | undefined {
    const attributes = span.attributes;
    const text = stringAttr(attributes, ATTR.dbStatement);
    const parsed = text ? parseRedisStatement(text) : { command: '', keys: [] as string[] };
    const command = (parsed.command || stringAttr(attributes, ATTR.dbOperation) || span.name).toLowerCase();
    if (CONNECTION_COMMANDS.has(command)) return undefined;
    const kind = describeRedisCommand(command);
    const firstKey = parsed.keys[0];
    const call: CacheCall = {
      ...baseOf(span),
      type: 'cache',
      system,
      command,
      namespace: firstKey === undefined ? '(no key)' : this.keys.namespaceOf(firstKey),
      read: kind.read,
      write: kind.write,
      hits: numberAttr(attributes, [SPANSTAT_ATTR.cacheHits]) ?? 0,
      misses: numberAttr(attributes, [SPANSTAT_ATTR.cacheMisses]) ?? 0,
    };
    const ttl = numberAttr(attributes, [SPANSTAT_ATTR.cacheTtlSeconds]);
    if (ttl !== undefined) call.ttlSeconds = ttl;
    return call;
  }

  private request(span: DecodedSpan): ClassifiedSpan {
    const attributes = span.attributes;
    const method = (stringAttr(attributes, ATTR.httpMethod) ?? '').toUpperCase();
    const routeAttr = stringAttr(attributes, ATTR.httpRoute);
    let route: string;
    if (routeAttr) route = routeAttr;
    else {
      const path = stringAttr(attributes, ATTR.urlPath);
      // Non-HTTP servers (gRPC, …) have no path: the span name is their operation.
      route = path ? templatePath(path) : span.name;
    }
    const status = numberAttr(attributes, ATTR.httpStatus) ?? 0;
    const base = baseOf(span);
    return { ...base, type: 'request', method, route, status, error: base.error || status >= 500 };
  }
}

function normalizeSystem(system: string): string {
  return system === 'postgres' || system === 'pg' ? 'postgresql' : system;
}

function poolAttrs(span: DecodedSpan): { poolMax?: number; poolInUse?: number } {
  const out: { poolMax?: number; poolInUse?: number } = {};
  const max = numberAttr(span.attributes, [SPANSTAT_ATTR.poolMax]);
  const inUse = numberAttr(span.attributes, [SPANSTAT_ATTR.poolInUse]);
  if (max !== undefined) out.poolMax = max;
  if (inUse !== undefined) out.poolInUse = inUse;
  return out;
}
