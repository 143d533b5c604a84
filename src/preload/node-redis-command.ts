/**
 * node-redis command spans of the same shape as ioredis-command.ts gives, for `redis` v5 and v6
 * (`@redis/client` 5.x/6.x, here) and v4 (`@redis/client` 1.5–1.6, node-redis-v4.ts): one CLIENT
 * span per command named after it in lower case, in the caller's context, with
 * `db.system.name=redis`, `db.operation.name` (`MULTI get`, `PIPELINE get` inside those),
 * `db.query.text` (keys only, redis-text.ts), `server.address/port`, and the cache marks from its raw
 * reply (hits/misses, MGET key hits, TTL or no-expiry; redis-cache.ts). A `multi().exec()` is
 * `multi`, `MULTI <command>` per command (ended by its entry of EXEC's reply,
 * redis-transaction.ts) and `exec`, as ioredis's; `multi().execAsPipeline()` is one `PIPELINE
 * <command>` span per command. The sidecar cannot tell the clients apart (node-redis-span.ts).
 *
 * Where (v5/v6): every command an app sends goes through `RedisClient#sendCommand(args)` (the command
 * methods' `_executeCommand` calls it with the parsed `[NAME, ...args]`), or through
 * `_executeMulti`/`_executePipeline` for a `multi()`, which queue each command with the private
 * queue's `addCommand` synchronously. So `sendCommand` is wrapped (span started before the call,
 * ended when its promise settles), and the two batch methods set `batch` for the synchronous part of
 * their call, during which the wrapped `RedisCommandsQueue#addCommand` gives each queued command
 * its span. `addCommand` outside a batch (sendCommand's own, the connection handshake's HELLO,
 * CLIENT SETINFO, SELECT, re-subscribes after a reconnect) makes no span: the handshake's are
 * connection commands the sidecar drops anyway.
 *
 * Traced once: node-redis keeps a command that has not been written across a reconnect in its
 * queue and writes that same entry later (no second `sendCommand`/`addCommand`); one written but
 * unanswered when the socket dropped is rejected, and its span ends with that error. Nothing is
 * replayed through the hooked methods, unlike ioredis's offline queue.
 *
 * Not covered: redis 4.0–4.5 (`@redis/client` before 1.5, node-redis-v4.ts); client-side caching
 * answers local hits without a command, so no span. A Cluster's command redirected (MOVED/ASK) is
 * one span across its attempts (node-redis-cluster.ts). A RedisClientPool runs a command queued for
 * a free client in that client's context otherwise, so `execute` is wrapped to keep the caller's.
 *
 * Never breaks the app: any failure of the instrumentation falls back to the original call, and
 * the settlement handlers catch their own errors.
 *
 * Cost: app CPU per command, sequential GET and SET … EX on a local Redis with the export refused, min
 * of 5 interleaved runs of 20 000 commands on the busy VM: redis 5.12 22.1 → 26.4 µs with the preload,
 * ioredis 5.4 21.7 → 25.7 µs (the span and its export dominate; the derived promise per command, where
 * ioredis's wrapper replaces the command's callbacks, did not show).
 */
import type { Tracer } from '@opentelemetry/api';
import {
  InstrumentationNodeModuleDefinition,
  InstrumentationNodeModuleFile,
} from '@opentelemetry/instrumentation';
import { PreloadInstrumentation } from './module-hooks';
import { tracedClusterExecute } from './node-redis-cluster';
import {
  type ClientLike,
  commandName,
  currentBatch,
  type Method,
  traceBatched,
  traceCommand,
  tracedBatch,
} from './node-redis-span';
import { introducedConnect, remembersClient, tracedMultiExecutor, tracedQueueCommand } from './node-redis-v4';
import { preloadContext } from './preload-context';

type ModuleExports = Record<string, { prototype?: Record<string, unknown> } | undefined>;
type Wrappers = Record<string, (original: Method) => Method>;

/** `redis` v5 and v6. */
const CURRENT = ['>=5.0.0 <7'];
/** `redis` 4.6 and 4.7 (node-redis-v4.ts). */
const V4 = ['>=1.5.0 <2'];
const CLIENT_FILE = '@redis/client/dist/lib/client/index.js';
const QUEUE_FILE = '@redis/client/dist/lib/client/commands-queue.js';
const POOL_FILE = '@redis/client/dist/lib/client/pool.js';
const CLUSTER_FILE = '@redis/client/dist/lib/cluster/index.js';

export class NodeRedisCommandInstrumentation extends PreloadInstrumentation {
  constructor() {
    super('spanstat-node-redis', '1.0.0');
  }

  protected init() {
    const tracer = () => this.tracer;
    const wrapAll = (module: ModuleExports, exported: string, wrappers: Wrappers) => {
      try {
        const proto = module?.[exported]?.prototype;
        if (proto === undefined) return module;
        for (const [name, wrap] of Object.entries(wrappers)) this.wrapOnce(proto, name, wrap);
      } catch {
        // A shape this code does not know: the module loads as it is (what was wrapped stays wrapped).
      }
      return module;
    };
    const unwrapAll = (module: ModuleExports | undefined, exported: string, names: string[]) => {
      const proto = module?.[exported]?.prototype;
      if (proto === undefined) return;
      for (const name of names) this.unwrapOurs(proto, name);
    };
    /** Wraps `methods` of the class `name` exports as `exported`, in the package versions `range`. */
    const file = (range: string[], name: string, exported: string, methods: Wrappers) =>
      new InstrumentationNodeModuleFile(
        name,
        range,
        (module: ModuleExports) => wrapAll(module, exported, methods),
        (module?: ModuleExports) => unwrapAll(module, exported, Object.keys(methods)),
      );
    return new InstrumentationNodeModuleDefinition(
      '@redis/client',
      [...V4, ...CURRENT],
      undefined,
      undefined,
      [
        file(CURRENT, CLIENT_FILE, 'default', {
          sendCommand: (original) => tracedSendCommand(original, tracer),
          _executeMulti: (original) => tracedBatch(original, tracer, true),
          _executePipeline: (original) => tracedBatch(original, tracer, false),
        }),
        file(CURRENT, QUEUE_FILE, 'default', { addCommand: tracedAddCommand }),
        file(CURRENT, POOL_FILE, 'RedisClientPool', { execute: executeInCallerContext }),
        file(CURRENT, CLUSTER_FILE, 'default', { _execute: tracedClusterExecute }),
        file(V4, CLIENT_FILE, 'default', {
          connect: introducedConnect,
          multiExecutor: (original) => tracedMultiExecutor(original, tracer),
        }),
        file(V4, QUEUE_FILE, 'default', {
          addCommand: (original) => tracedQueueCommand(original, tracer),
          getPubSubListeners: remembersClient,
        }),
      ],
    );
  }
}

/** `RedisClient#sendCommand([NAME, ...args], options)` with one span per call. Exported for tests. */
export function tracedSendCommand(original: Method, tracer: () => Tracer): Method {
  return function sendCommand(this: unknown, args: unknown) {
    const name = commandName(args);
    // biome-ignore lint/complexity/noArguments: pass every argument through unchanged
    if (name === undefined) return original.apply(this, arguments as unknown as unknown[]);
    // biome-ignore lint/complexity/noArguments: see above
    return traceCommand(original, this, arguments, tracer, this as ClientLike, name, args as unknown[]);
  };
}

/** `RedisCommandsQueue#addCommand(args, options)`: a span for each command of the batch being queued. Exported for tests. */
export function tracedAddCommand(original: Method): Method {
  return function addCommand(this: unknown, args: unknown) {
    const batch = currentBatch();
    const name = batch === undefined ? undefined : commandName(args);
    // biome-ignore lint/complexity/noArguments: pass every argument through unchanged
    if (name === undefined) return original.apply(this, arguments as unknown as unknown[]);
    const current = batch as NonNullable<typeof batch>;
    // biome-ignore lint/complexity/noArguments: see above
    return traceBatched(original, this, arguments, current, name, args as unknown[]);
  };
}

/**
 * `RedisClientPool#execute(fn)` runs `fn` at once when a client is idle, else later from the
 * release of another command: in that command's context. Bound to the caller's context only then.
 */
export function executeInCallerContext(original: Method): Method {
  return function execute(this: unknown, fn: unknown) {
    let idle: unknown;
    try {
      idle = (this as { idleClients?: unknown }).idleClients;
    } catch {
      idle = 0;
    }
    if (typeof fn !== 'function' || (typeof idle === 'number' && idle > 0))
      // biome-ignore lint/complexity/noArguments: pass every argument through unchanged
      return original.apply(this, arguments as unknown as unknown[]);
    return original.call(this, preloadContext.bind(preloadContext.active(), fn as Method));
  };
}
