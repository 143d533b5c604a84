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
 * offline queue resending the same Command object; `Cluster#sendCommand(command, stream, node)` in
 * front of it for a Cluster's commands. ioredis 4 answers QUEUED as a string, 5 on as a Buffer
 * (redis-cache.ts reads both). test/integration/preload-legacy-redis.test.ts pins ioredis 4.30;
 * test/integration/preload-redis-cluster.test.ts runs a Cluster.
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
import { exportedPrototype, PreloadInstrumentation } from './module-hooks';
import { preloadContext } from './preload-context';
import { endAnswered, endFailed, isClusterRedirection } from './redis-reply';
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
  /** A Cluster pipeline's command whose span waits for its next pass after a redirection. */
  [REDIRECTED]?: Redirected;
}

interface Redirected {
  span: Span;
  /** Where the command stood in a transaction: its next pass takes the same place. */
  role: 'plain' | 'queued' | 'exec';
}

type SendCommand = (this: RedisLike, command: CommandLike, ...rest: unknown[]) => unknown;

interface RedisLike {
  options?: { host?: string; port?: number };
  [BASE]?: Attributes;
  [BASE_FOR]?: unknown;
  /** The connection's transaction between MULTI and EXEC/DISCARD (redis-transaction.ts). */
  [OPEN_TRANSACTION]?: OpenTransaction;
}

const BASE = Symbol('spanstat.redisAttributes');
const BASE_FOR = Symbol('spanstat.redisAttributesFor');
const OPEN_TRANSACTION = Symbol('spanstat.redisOpenTransaction');
const TRACED = Symbol('spanstat.redisCommandTraced');
const REDIRECTED = Symbol('spanstat.redisCommandRedirected');

export class IORedisCommandInstrumentation extends PreloadInstrumentation {
  /** Read by init()'s hooks only once a module loads, after this is set. */
  private readonly channel = new IORedisChannelSubscriber(() => this.tracer);

  constructor() {
    super('spanstat-ioredis', '1.0.0');
  }

  protected init() {
    const patcher = (cluster: boolean) =>
      this.methodsPatch(exportedPrototype, {
        sendCommand: (original: SendCommand) => tracedSendCommand(original, () => this.tracer, cluster),
      });
    const { patch, unpatch } = patcher(false);
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
        new InstrumentationNodeModuleFile(
          'ioredis/built/cluster/index.js',
          ['>=4.0.0 <7'],
          patcher(true).patch,
          unpatch,
        ),
      ]),
      new InstrumentationNodeModuleDefinition('next', ['>=14.0.0 <17'], undefined, undefined, [nextServer]),
    ];
  }

  override disable(): void {
    super.disable();
    this.channel.disable();
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
 *
 * `Cluster#sendCommand` is wrapped too (`cluster`), so a Cluster's commands get their span there,
 * before the Cluster puts its redirection handler on the command's `reject`: a command the old owner
 * of its hash slot answers `MOVED`/`ASK`/`TRYAGAIN` is sent again by that handler, and its span ends
 * with the final answer (the new owner's hit or miss), or with the error the Cluster gives up with.
 * Wrapped at the node connections only, the redirection ended the span as an error and the answer
 * that counted was lost. A Cluster pipeline handles redirections itself, re-arming each command's
 * promise and sending the pipeline again: a command it sends with a `node` keeps its span open
 * across that (`awaitResend`).
 */
export function tracedSendCommand(original: SendCommand, tracer: () => Tracer, cluster = false): SendCommand {
  return function sendCommand(this: RedisLike, command: CommandLike, _stream?: unknown, node?: unknown) {
    if (command === null || typeof command !== 'object' || typeof command.name !== 'string')
      // biome-ignore lint/complexity/noArguments: pass every argument through unchanged
      return original.apply(this, arguments as unknown as [CommandLike]);
    if (command[TRACED]) {
      if (command[REDIRECTED] !== undefined) resumeRedirected(this, command);
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
    settleSpan(command, span, queued, settles, cluster && node !== undefined && name !== 'multi');
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

/**
 * Puts the handlers that end `span` on the command's `resolve`/`reject` (each calls the one it
 * replaced). `resendable`: a Cluster pipeline's command, which the pipeline may send again after a
 * redirection (`awaitResend`).
 */
function settleSpan(
  command: CommandLike,
  span: Span,
  queued: QueuedCommand | undefined,
  settles: OpenTransaction | undefined,
  resendable: boolean,
): void {
  const resolve = command.resolve;
  const reject = command.reject;
  const resolveTraced = (reply: unknown) => {
    endAnswered(span, command, reply, queued, settles);
    resolve(reply);
  };
  command.resolve = resolveTraced;
  command.reject = (err: unknown) => {
    if (resendable && mayBeResent(command.name, err)) {
      if (queued !== undefined) queued.ended = true;
      settles?.abandon(err);
      const role = queued !== undefined ? 'queued' : settles !== undefined ? 'exec' : 'plain';
      awaitResend(command, { span, role }, err, resolveTraced);
    } else endFailed(span, queued, settles, err);
    reject(err);
  };
}

/**
 * A Cluster's redirection replies, after which ioredis sends the command again elsewhere (or later);
 * and the EXECABORT that follows a transaction whose commands were redirected.
 */
function mayBeResent(name: string, err: unknown): boolean {
  if (isClusterRedirection(err)) return true;
  const message = (err as { message?: unknown } | null)?.message;
  return name === 'exec' && typeof message === 'string' && message.startsWith('EXECABORT');
}

/**
 * A Cluster pipeline's command answered with a redirection. The pipeline decides in the promise
 * reactions that follow whether to send it again: if it does, it re-arms the command's promise
 * (`initPromise`, a new `resolve`) before this macrotask ends, and the span goes on with the
 * command's next pass (`resumeRedirected`); if not, the redirection was its answer and the span ends
 * with it.
 */
function awaitResend(command: CommandLike, pending: Redirected, err: unknown, resolveTraced: unknown): void {
  command[REDIRECTED] = pending;
  setImmediate(() => {
    if (command[REDIRECTED] !== pending || command.resolve !== resolveTraced) return;
    command[REDIRECTED] = undefined;
    endFailed(pending.span, undefined, undefined, err);
  });
}

/**
 * A redirected command sent again: its span ends with this pass's answer. The pipeline sends a
 * redirected transaction again whole, MULTI to EXEC, in one synchronous loop: its queued commands
 * join a new transaction record that its EXEC settles.
 */
function resumeRedirected(redis: RedisLike, command: CommandLike): void {
  const { span, role } = command[REDIRECTED] as Redirected;
  command[REDIRECTED] = undefined;
  let queued: QueuedCommand | undefined;
  let settles: OpenTransaction | undefined;
  if (role === 'queued') {
    redis[OPEN_TRANSACTION] ??= new OpenTransaction();
    queued = redis[OPEN_TRANSACTION].add(span, command);
  } else if (role === 'exec') {
    settles = redis[OPEN_TRANSACTION];
    redis[OPEN_TRANSACTION] = undefined;
  }
  settleSpan(command, span, queued, settles, true);
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
