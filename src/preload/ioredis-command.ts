/**
 * ioredis command spans without @opentelemetry/instrumentation-ioredis: one wrapper on
 * `Redis.prototype.sendCommand` that starts a CLIENT span named after the command in the caller's
 * context (inside or outside a request) and ends it when the command's promise settles. Attributes
 * as instrumentation-ioredis sets them — `db.system.name=redis`, `db.operation.name` (`MULTI get`,
 * `PIPELINE get` inside those), `db.query.text` (keys only, redis-text.ts), `server.address/port` —
 * plus what the sidecar's cache report needs: `spanstat.cache.hits/misses` on lookups (and which
 * keys an MGET found, `spanstat.cache.key_hits`), `spanstat.cache.ttl_s` on writes that set an
 * expiry and −1 on writes that leave their key without one (redis-cache.ts). Errors set an error
 * status with the error's class and code (end-span.ts). A command queued in MULTI ends when EXEC answers, with its
 * entry of EXEC's reply as its outcome (redis-transaction.ts).
 * Connection spans are not made: they are not cache calls. A copy of ioredis 5.11+ no require reaches (bundled
 * into a Next.js app's server code) is read from its tracing channel instead (ioredis-channel.ts).
 *
 * Versions: ioredis 4 to 6, one seam in all: `Redis#sendCommand(command)` with a Command whose
 * `resolve`/`reject` take the raw reply, `inTransaction`/`pipelineIndex` set by Pipeline, and the
 * offline queue resending the same Command object. ioredis 4 answers QUEUED as a string, 5 on as a
 * Buffer (redis-cache.ts reads both). test/integration/preload-legacy-redis.test.ts pins ioredis 4.30.
 *
 * Why: instrumentation-ioredis runs its request/response hooks through safeExecuteInTheMiddle
 * (a closure and a try per hook) and builds attributes one by one per command. preload-cpu-probe
 * on the demo's pg+redis route, after pg-query.ts: 773 → 692 µs app CPU per request (min of 6
 * interleaved rounds on the busy VM; no preload 662 µs). Figures in pg-query.ts.
 */
import { type Attributes, type Span, SpanKind, type Tracer } from '@opentelemetry/api';
import {
  InstrumentationNodeModuleDefinition,
  InstrumentationNodeModuleFile,
} from '@opentelemetry/instrumentation';
import { IORedisChannelSubscriber, patchedSends } from './ioredis-channel';
import { shareAttributes } from './lean-tracer';
import { PreloadInstrumentation } from './module-hooks';
import { isPatched, markPatched } from './patch-mark';
import { preloadContext } from './preload-context';
import { endAnswered, endFailed } from './redis-reply';
import { redisStatement } from './redis-text';
import { OpenTransaction, type QueuedCommand } from './redis-transaction';

interface CommandLike {
  name: string;
  args: unknown[];
  inTransaction?: boolean;
  pipelineIndex?: number;
  resolve: (result: unknown) => void;
  reject: (err: unknown) => void;
  /** Set once the command has its span: ioredis sends a command again from its offline queue. */
  [TRACED]?: true;
}

type SendCommand = (this: RedisLike, command: CommandLike, ...rest: unknown[]) => unknown;

interface RedisLike {
  options?: { host?: string; port?: number };
  [BASE]?: Attributes;
  [BASE_FOR]?: unknown;
  /** The connection's transaction between MULTI and EXEC/DISCARD (redis-transaction.ts). */
  [OPEN_TRANSACTION]?: OpenTransaction;
}

interface RedisModule {
  prototype?: { sendCommand?: SendCommand };
  default?: { prototype?: { sendCommand?: SendCommand } };
}

const BASE = Symbol('spanstat.redisAttributes');
const BASE_FOR = Symbol('spanstat.redisAttributesFor');
const OPEN_TRANSACTION = Symbol('spanstat.redisOpenTransaction');
const TRACED = Symbol('spanstat.redisCommandTraced');

export class IORedisCommandInstrumentation extends PreloadInstrumentation {
  /** Read by init()'s hooks only once a module loads, after this is set. */
  private readonly channel = new IORedisChannelSubscriber(() => this.tracer);

  constructor() {
    super('spanstat-ioredis', '1.0.0');
  }

  protected init() {
    const patch = (module: RedisModule) => {
      const proto = redisProto(module);
      if (proto && !isPatched(proto.sendCommand))
        this._wrap(proto, 'sendCommand', (original: SendCommand) =>
          markPatched(this.patchSendCommand(original)),
        );
      return module;
    };
    const unpatch = (module?: RedisModule) => {
      const proto = module && redisProto(module);
      if (proto && isPatched(proto.sendCommand)) this._unwrap(proto, 'sendCommand');
    };
    // The file that defines the class too: an ES module app's `import Redis from 'ioredis'` loads
    // the package's entry without `require`, so only its own require of this file reaches the hook.
    // A Next.js server bundles the app's ioredis, which no require reaches: its tracing channel then
    // (ioredis-channel.ts), subscribed as Next's server loads.
    const nextServer = new InstrumentationNodeModuleFile(
      'next/dist/server/lib/trace/tracer.js',
      ['>=14.0.0 <17'],
      (exports: unknown) => {
        this.channel.enable();
        return exports;
      },
      () => this.channel.disable(),
    );
    return [
      new InstrumentationNodeModuleDefinition('ioredis', ['>=4.0.0 <7'], patch, unpatch, [
        new InstrumentationNodeModuleFile('ioredis/built/Redis.js', ['>=5.0.0 <7'], patch, unpatch),
        new InstrumentationNodeModuleFile('ioredis/built/redis/index.js', ['>=4.0.0 <5'], patch, unpatch),
      ]),
      new InstrumentationNodeModuleDefinition('next', ['>=14.0.0 <17'], undefined, undefined, [nextServer]),
    ];
  }

  override disable(): void {
    super.disable();
    this.channel.disable();
  }

  private patchSendCommand(original: SendCommand): SendCommand {
    return tracedSendCommand(original, () => this.tracer);
  }
}

/**
 * `sendCommand` wrapped to give each command one span, ended by its reply. Exported for tests.
 *
 * A command is traced when it is first sent, never again: ioredis sends the same command object
 * through `sendCommand` a second time when it replays its offline queue (commands issued while
 * connecting or reconnecting) and the commands a dropped connection left unanswered. Traced at each
 * pass, the app's start-up FLUSHDB was two calls, and every command of a Redis blip counted twice
 * with its hits and misses.
 */
export function tracedSendCommand(original: SendCommand, tracer: () => Tracer): SendCommand {
  return function sendCommand(this: RedisLike, command: CommandLike) {
    if (command === null || typeof command !== 'object' || typeof command.name !== 'string')
      // biome-ignore lint/complexity/noArguments: pass every argument through unchanged
      return original.apply(this, arguments as unknown as [CommandLike]);
    if (command[TRACED]) {
      // A replay (above) of a command queued while connecting: ioredis 5.11+ publishes it on its
      // tracing channel now that it writes it (ioredis-channel.ts), and it has its span already.
      patchedSends.depth++;
      try {
        // biome-ignore lint/complexity/noArguments: see above
        return original.apply(this, arguments as unknown as [CommandLike]);
      } finally {
        patchedSends.depth--;
      }
    }
    let span: Span;
    try {
      span = startCommandSpan(tracer(), this, command);
      command[TRACED] = true;
    } catch {
      // biome-ignore lint/complexity/noArguments: see above
      return original.apply(this, arguments as unknown as [CommandLike]);
    }
    // A command queued in MULTI waits for EXEC's reply; EXEC or DISCARD settles the queue.
    const name = command.name;
    let queued: QueuedCommand | undefined;
    let settles: OpenTransaction | undefined;
    if (name === 'multi') {
      this[OPEN_TRANSACTION]?.abandon(undefined);
      this[OPEN_TRANSACTION] = new OpenTransaction();
    } else if (this[OPEN_TRANSACTION] !== undefined) {
      if (name === 'exec' || name === 'discard') {
        settles = this[OPEN_TRANSACTION];
        this[OPEN_TRANSACTION] = undefined;
      } else queued = this[OPEN_TRANSACTION].add(span, command);
    }
    // Wrapped before the call (instrumentation-ioredis does it after), so a command that
    // sendCommand settles at once (connection already closed) still ends its span.
    const resolve = command.resolve;
    const reject = command.reject;
    command.resolve = (reply: unknown) => {
      endAnswered(span, command, reply, queued, settles);
      resolve(reply);
    };
    command.reject = (err: unknown) => {
      endFailed(span, queued, settles, err);
      reject(err);
    };
    let result: unknown;
    // ioredis 5.11+ publishes the command on its tracing channel from inside: not a second span.
    patchedSends.depth++;
    try {
      // biome-ignore lint/complexity/noArguments: see above
      result = original.apply(this, arguments as unknown as [CommandLike]);
    } catch (err) {
      endFailed(span, queued, settles, err);
      throw err;
    } finally {
      patchedSends.depth--;
    }
    return result;
  };
}

function startCommandSpan(tracer: Tracer, redis: RedisLike, command: CommandLike): Span {
  const name = command.name;
  const span = tracer.startSpan(
    name,
    { kind: SpanKind.CLIENT, attributes: baseAttributes(redis) },
    preloadContext.active(),
  );
  let operation = name;
  if (name !== 'multi' && name !== 'exec') {
    if (command.inTransaction || redis[OPEN_TRANSACTION] !== undefined) operation = `MULTI ${name}`;
    else if (command.pipelineIndex != null) operation = `PIPELINE ${name}`;
  }
  span.setAttribute('db.operation.name', operation);
  span.setAttribute('db.query.text', redisStatement(name, command.args));
  return span;
}

function redisProto(module: RedisModule): { sendCommand: SendCommand } | undefined {
  const proto = module.prototype ?? module.default?.prototype;
  return proto && typeof proto.sendCommand === 'function'
    ? (proto as { sendCommand: SendCommand })
    : undefined;
}

/** Constant attributes of a connection, computed once per options object and shared by its spans (lean-tracer.ts). */
function baseAttributes(redis: RedisLike): Attributes {
  const options = redis.options;
  if (redis[BASE] !== undefined && redis[BASE_FOR] === options) return redis[BASE];
  const attributes: Attributes = { 'db.system.name': 'redis' };
  if (options?.host) attributes['server.address'] = options.host;
  if (typeof options?.port === 'number') attributes['server.port'] = options.port;
  redis[BASE] = shareAttributes(attributes);
  redis[BASE_FOR] = options;
  return attributes;
}
