/**
 * `pg-pool.connect` spans carrying the pool's size and how many clients were in use when the
 * checkout started (spanstat.pool.max / spanstat.pool.in_use), which the sidecar's pool
 * saturation advice reads. instrumentation-pg runs with `ignoreConnectSpans` (its connect spans
 * carry neither number, and plain-client `pg.connect` spans are noise); this patch replaces them.
 */
import { type Attributes, context, type Span, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import {
  InstrumentationBase,
  type InstrumentationConfig,
  InstrumentationNodeModuleDefinition,
} from '@opentelemetry/instrumentation';
import { SPANSTAT_ATTR } from '../model/attributes';
import { isPatched, markPatched } from './patch-mark';

const BASE_ATTRIBUTES = Symbol('spanstat.poolAttributes');

type ConnectCallback = (err: unknown, client?: unknown, done?: unknown) => void;
type Connect = (this: PoolLike, cb?: ConnectCallback) => unknown;

interface PoolOptions {
  max?: number;
  host?: string;
  port?: number | string;
  database?: string;
  connectionString?: string;
}

interface PoolLike {
  options?: PoolOptions;
  totalCount?: number;
  idleCount?: number;
  _clients?: unknown[];
  _idle?: unknown[];
  [BASE_ATTRIBUTES]?: Attributes;
  connect: Connect;
}

export class PgPoolConnectInstrumentation extends InstrumentationBase {
  constructor(config: InstrumentationConfig = {}) {
    super('spanstat-pg-pool-connect', '1.0.0', config);
  }

  protected init() {
    return new InstrumentationNodeModuleDefinition(
      'pg-pool',
      ['>=2.0.0 <4'],
      (module: { prototype?: PoolLike; default?: { prototype?: PoolLike } }) => {
        const proto = poolProto(module);
        if (proto && !isPatched(proto.connect))
          this._wrap(proto, 'connect', (original) => markPatched(this.patchConnect(original)));
        return module;
      },
      (module?: { prototype?: PoolLike; default?: { prototype?: PoolLike } }) => {
        const proto = module && poolProto(module);
        if (proto && isPatched(proto.connect)) this._unwrap(proto, 'connect');
      },
    );
  }

  private patchConnect(original: Connect): Connect {
    const instrumentation = this;
    return function connect(this: PoolLike, cb?: ConnectCallback) {
      const parent = context.active();
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
            endSpan(span, err);
            context.with(parent, callback, undefined, err, client, done);
          },
        );
      }
      const result = original.call(this) as PromiseLike<unknown> | undefined;
      // pg-pool may be configured with another Promise implementation: check for a thenable.
      if (result && typeof result.then === 'function') {
        return result.then(
          (client: unknown) => {
            endSpan(span, undefined);
            return client;
          },
          (err: unknown) => {
            endSpan(span, err);
            throw err;
          },
        );
      }
      endSpan(span, undefined);
      return result;
    };
  }
}

function poolProto(module: {
  prototype?: PoolLike;
  default?: { prototype?: PoolLike };
}): PoolLike | undefined {
  const proto = module.prototype ?? module.default?.prototype;
  return proto && typeof proto.connect === 'function' ? proto : undefined;
}

/** Span attributes for a checkout from `pool`; the constant part is computed once per pool. */
export function poolAttributes(pool: PoolLike): Attributes {
  let base = pool[BASE_ATTRIBUTES];
  if (base === undefined) {
    base = baseAttributes(pool.options ?? {});
    pool[BASE_ATTRIBUTES] = base;
  }
  const total = pool.totalCount ?? pool._clients?.length;
  const idle = pool.idleCount ?? pool._idle?.length;
  const attributes: Attributes = { ...base };
  if (typeof total === 'number' && typeof idle === 'number')
    attributes[SPANSTAT_ATTR.poolInUse] = total - idle;
  return attributes;
}

function baseAttributes(options: PoolOptions): Attributes {
  const attributes: Attributes = { 'db.system.name': 'postgresql' };
  let { host, port, database } = options;
  if (options.connectionString && (host === undefined || database === undefined)) {
    try {
      const url = new URL(options.connectionString);
      host ??= url.hostname || undefined;
      port ??= url.port || undefined;
      database ??= url.pathname.length > 1 ? decodeURIComponent(url.pathname.slice(1)) : undefined;
    } catch {
      // Not a URL (e.g. a socket path): leave address attributes out.
    }
  }
  if (database) attributes['db.namespace'] = database;
  if (host) attributes['server.address'] = host;
  if (port !== undefined && Number.isFinite(Number(port))) attributes['server.port'] = Number(port);
  if (typeof options.max === 'number') attributes[SPANSTAT_ATTR.poolMax] = options.max;
  return attributes;
}

function endSpan(span: Span, err: unknown): void {
  if (err) {
    // The message only: pg errors can quote parameter values in `detail`.
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: err instanceof Error ? err.message : 'connect failed',
    });
  }
  span.end();
}
