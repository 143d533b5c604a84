/**
 * The span of one node-redis command, shared by the v5/v6 hooks (node-redis-command.ts) and the v4
 * ones (node-redis-v4.ts): started in the caller's context before the command is queued, with the
 * attributes ioredis-command.ts gives, and ended when the command's promise settles, from its raw
 * reply (redis-reply.ts). A `multi()` sets `batch` for the synchronous part of the client method
 * that queues its commands, so each of them is `MULTI <command>` (ended by its entry of EXEC's
 * reply, redis-transaction.ts) or `PIPELINE <command>`.
 *
 * Never breaks the app: a failure while starting a span calls the original as it is, and the
 * settlement handlers catch their own errors.
 */
import { type Attributes, type Context, type Span, SpanKind, type Tracer } from '@opentelemetry/api';
import { endSpan } from './end-span';
import { shareAttributes } from './lean-tracer';
import { type ClusterCommand, currentClusterCommand } from './node-redis-cluster';
import { preloadContext } from './preload-context';
import { endAnswered, endFailed, isClusterRedirection } from './redis-reply';
import { redisStatement } from './redis-text';
import { OpenTransaction, type QueuedCommand } from './redis-transaction';

export type Method = (this: unknown, ...args: unknown[]) => unknown;

/** A RedisClient, as far as its spans need it: the socket options of `createClient`. */
export interface ClientLike {
  options?: { socket?: { host?: unknown; port?: unknown; path?: unknown } };
  [BASE]?: Attributes;
  [BASE_FOR]?: unknown;
}

/** The `multi()` whose commands are being queued now (set only during a batch method's synchronous part). */
interface Batch {
  client: ClientLike | undefined;
  tracer: Tracer;
  context: Context;
  /** MULTI/EXEC (a transaction) rather than a plain pipeline. */
  multi: boolean;
  transaction: OpenTransaction | undefined;
}

const BASE = Symbol('spanstat.nodeRedisAttributes');
const BASE_FOR = Symbol('spanstat.nodeRedisAttributesFor');
/** A command whose client is not known (node-redis-v4.ts, before its client connected): no server attributes. */
const NO_CLIENT: Attributes = shareAttributes({ 'db.system.name': 'redis' });

let batch: Batch | undefined;

/** The batch whose commands are being queued now, if any. */
export function currentBatch(): Batch | undefined {
  return batch;
}

/**
 * A batch method (`_executeMulti`, `_executePipeline`, v4's `multiExecutor`): `batch` is set while it
 * queues its commands (synchronously, before its first await), so the queue's `addCommand` traces each.
 */
export function tracedBatch(original: Method, tracer: () => Tracer, multi: boolean): Method {
  return function executeBatch(this: unknown) {
    const outer = batch;
    try {
      batch = {
        client: this as ClientLike,
        tracer: tracer(),
        context: preloadContext.active(),
        multi,
        transaction: undefined,
      };
    } catch {
      batch = undefined;
    }
    try {
      // biome-ignore lint/complexity/noArguments: pass every argument through unchanged
      return original.apply(this, arguments as unknown as unknown[]);
    } finally {
      // A transaction EXEC never reached (a throw while queueing) ends its open spans.
      batch?.transaction?.abandon(undefined);
      batch = outer;
    }
  };
}

/**
 * `original.apply(self, call)` for the command `[NAME, ...args]` (`name` its lower-case NAME) sent
 * alone: one span named `name` in the caller's context, ended when the returned promise settles.
 */
export function traceCommand(
  original: Method,
  self: unknown,
  call: IArguments,
  tracer: () => Tracer,
  client: ClientLike | undefined,
  name: string,
  args: unknown[],
): unknown {
  const cluster = currentClusterCommand();
  let span: Span;
  let command: { name: string; args: unknown[] };
  try {
    command = { name, args: args.slice(1) };
    // A cluster command's retry after a redirection goes on with its first attempt's span.
    span = cluster?.span ?? startSpan(tracer(), client, preloadContext.active(), name, name, command.args);
  } catch {
    return original.apply(self, call as unknown as unknown[]);
  }
  if (cluster === undefined) return callAndSettle(original, self, call, span, command, undefined, undefined);
  cluster.span = span;
  return settle(
    original.apply(self, call as unknown as unknown[]),
    span,
    command,
    undefined,
    undefined,
    cluster,
  );
}

/** As traceCommand, for a command of `current`: `MULTI <name>` or `PIPELINE <name>`, in the batch's context. */
export function traceBatched(
  original: Method,
  self: unknown,
  call: IArguments,
  current: Batch,
  name: string,
  args: unknown[],
): unknown {
  let span: Span;
  let command: { name: string; args: unknown[] };
  let queued: QueuedCommand | undefined;
  let settles: OpenTransaction | undefined;
  try {
    command = { name, args: args.slice(1) };
    let operation = name;
    if (!current.multi) operation = `PIPELINE ${name}`;
    else if (name !== 'multi' && name !== 'exec') operation = `MULTI ${name}`;
    span = startSpan(current.tracer, current.client, current.context, name, operation, command.args);
    if (current.multi) {
      if (name === 'multi') {
        current.transaction?.abandon(undefined);
        current.transaction = new OpenTransaction();
      } else if (current.transaction !== undefined) {
        if (name === 'exec') {
          settles = current.transaction;
          current.transaction = undefined;
        } else queued = current.transaction.add(span, command);
      }
    }
  } catch {
    return original.apply(self, call as unknown as unknown[]);
  }
  return callAndSettle(original, self, call, span, command, queued, settles);
}

/** The lower-case command name of `[NAME, ...args]`; undefined for anything else (not traced). */
export function commandName(args: unknown): string | undefined {
  if (!Array.isArray(args) || args.length === 0) return undefined;
  const name = args[0];
  return typeof name === 'string' && name !== '' ? lowerName(name) : undefined;
}

/** Lower-case names by node-redis's upper-case ones: a few dozen in an app, so looked up, not rebuilt. */
const LOWER = new Map<string, string>();
const MAX_LOWER_NAMES = 512;

function lowerName(name: string): string {
  let lower = LOWER.get(name);
  if (lower === undefined) {
    lower = name.toLowerCase();
    if (LOWER.size < MAX_LOWER_NAMES) LOWER.set(name, lower);
  }
  return lower;
}

function startSpan(
  tracer: Tracer,
  client: ClientLike | undefined,
  context: Context,
  name: string,
  operation: string,
  args: unknown[],
): Span {
  const attributes = client === undefined ? NO_CLIENT : baseAttributes(client);
  const span = tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, context);
  span.setAttribute('db.operation.name', operation);
  span.setAttribute('db.query.text', redisStatement(name, args));
  return span;
}

/** Queues the command (`original`) and ends its span when its promise settles, or with what it threw. */
function callAndSettle(
  original: Method,
  self: unknown,
  call: IArguments,
  span: Span,
  command: { name: string; args: unknown[] },
  queued: QueuedCommand | undefined,
  settles: OpenTransaction | undefined,
): unknown {
  let result: unknown;
  try {
    result = original.apply(self, call as unknown as unknown[]);
  } catch (err) {
    endFailed(span, queued, settles, err);
    throw err;
  }
  return settle(result, span, command, queued, settles);
}

/**
 * Ends the span when `result` (the command's promise) settles; a non-promise ends it at once. For an
 * attempt of a cluster command (node-redis-cluster.ts), the first answer or error that is not a
 * redirection ends it (after a redirection the cluster tries again), and a non-promise leaves it to
 * the cluster's own settling.
 */
function settle(
  result: unknown,
  span: Span,
  command: { name: string; args: unknown[] },
  queued: QueuedCommand | undefined,
  settles: OpenTransaction | undefined,
  cluster?: ClusterCommand,
): unknown {
  if (result === null || typeof (result as PromiseLike<unknown>)?.then !== 'function') {
    if (cluster === undefined) endSpan(span, undefined, 'command failed');
    return result;
  }
  // True when this settlement ends the span: always alone, once per cluster command.
  const ends = (redirected: boolean) => {
    if (cluster === undefined) return true;
    if (cluster.ended || redirected) return false;
    cluster.ended = true;
    return true;
  };
  return (result as PromiseLike<unknown>).then(
    (reply) => {
      try {
        if (ends(false)) endAnswered(span, command, reply, queued, settles);
      } catch {
        // The reply still reaches the app.
      }
      return reply;
    },
    (err: unknown) => {
      try {
        if (ends(isClusterRedirection(err))) endFailed(span, queued, settles, err);
      } catch {
        // The error still reaches the app.
      }
      throw err;
    },
  );
}

/** Constant attributes of a client, computed once per options object and shared by its spans (lean-tracer.ts). */
function baseAttributes(client: ClientLike): Attributes {
  const options = client.options;
  if (client[BASE] !== undefined && client[BASE_FOR] === options) return client[BASE];
  const attributes: Attributes = { 'db.system.name': 'redis' };
  const socket = options?.socket;
  if (typeof socket?.path === 'string') attributes['server.address'] = socket.path;
  else {
    // node-redis's own defaults when the options leave them out.
    attributes['server.address'] = typeof socket?.host === 'string' ? socket.host : 'localhost';
    attributes['server.port'] = typeof socket?.port === 'number' ? socket.port : 6379;
  }
  const shared = shareAttributes(attributes);
  try {
    client[BASE] = shared;
    client[BASE_FOR] = options;
  } catch {
    // A frozen client: computed again next time.
  }
  return shared;
}
