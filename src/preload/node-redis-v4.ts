/**
 * node-redis v4 (`redis` 4.6–4.7, i.e. `@redis/client` 1.5–1.6) command spans of the shape v5's get
 * (node-redis-span.ts): the sidecar cannot tell the versions apart.
 *
 * Where: v4 sends every command through the client's private `#sendCommand`, which the command
 * methods reach without any public method (they call a `commandsExecutor` captured when the module
 * loaded), and which queues the command with `RedisCommandsQueue#addCommand(args, options)`
 * synchronously, in the caller's context. So `addCommand` is wrapped and gives each command its
 * span; `multiExecutor` (public, run by `multi().exec()` and `execAsPipeline()`) sets the batch for
 * its synchronous part, in which it queues MULTI, the commands and EXEC (or only the commands), so
 * they are `MULTI <command>` / `PIPELINE <command>`: a MULTI carries a chain id (a symbol argument),
 * a pipeline none, in every 1.x.
 *
 * The queue does not know its client, whose socket options the spans' server address comes from.
 * `connect` (which every client runs before its first command: `#sendCommand` refuses one on a
 * closed socket) asks its client for `getPubSubListeners`, a read the client passes to its queue's
 * method of that name, which the wrapper sees with that queue as `this` and remembers the client
 * on it. Isolated clients (`executeIsolated`, `commandOptions({ isolated: true })`) are duplicates
 * that connect the same way; generic-pool runs their work in a `.then` of the caller's, so in its context.
 *
 * Not traced: the handshake (SELECT, READONLY, CLIENT SETINFO/SETNAME, AUTH: queued `asap`) and QUIT,
 * connection commands the sidecar drops; pub/sub (SUBSCRIBE and the re-subscribes after a reconnect
 * are queued by the queue itself, not through `addCommand`).
 *
 * Traced once: across a reconnect v4 keeps the commands not yet written in its queue and writes
 * those same entries later, without a second `addCommand`; those written but unanswered are rejected
 * and end their span with the error.
 *
 * Not covered: `@redis/client` before 1.5 (redis 4.0–4.5), which has no `getPubSubListeners`.
 */
import type { Tracer } from '@opentelemetry/api';
import {
  type ClientLike,
  commandName,
  currentBatch,
  type Method,
  traceBatched,
  traceCommand,
  tracedBatch,
} from './node-redis-span';

interface QueueLike {
  [CLIENT]?: ClientLike;
}

const CLIENT = Symbol('spanstat.nodeRedisQueueClient');

/** The client whose `connect` is asking its queue for `getPubSubListeners` now. */
let connecting: ClientLike | undefined;

/** `RedisClient#connect`: first shows the client to its queue (see the header). Exported for tests. */
export function introducedConnect(original: Method): Method {
  return function connect(this: unknown) {
    const client = this as ClientLike & { getPubSubListeners?: (type: string) => unknown };
    try {
      connecting = client;
      client.getPubSubListeners?.('CHANNELS');
    } catch {
      // The spans of this client's commands go without a server address.
    } finally {
      connecting = undefined;
    }
    // biome-ignore lint/complexity/noArguments: pass every argument through unchanged
    return original.apply(this, arguments as unknown as unknown[]);
  };
}

/** `RedisCommandsQueue#getPubSubListeners`: remembers the connecting client on its queue. Exported for tests. */
export function remembersClient(original: Method): Method {
  return function getPubSubListeners(this: unknown) {
    if (connecting !== undefined)
      try {
        (this as QueueLike)[CLIENT] = connecting;
        connecting = undefined;
      } catch {
        // A frozen queue: no server address on its spans.
      }
    // biome-ignore lint/complexity/noArguments: pass every argument through unchanged
    return original.apply(this, arguments as unknown as unknown[]);
  };
}

/** `RedisClient#multiExecutor(commands, selectedDB, chainId)`: a transaction when given a chain id. Exported for tests. */
export function tracedMultiExecutor(original: Method, tracer: () => Tracer): Method {
  const transaction = tracedBatch(original, tracer, true);
  const pipeline = tracedBatch(original, tracer, false);
  return function multiExecutor(this: unknown, _commands: unknown, selectedDB: unknown, chainId: unknown) {
    // (commands, selectedDB, chainId) since 1.2, (commands, chainId) before; the chain id is a symbol.
    const chained = typeof chainId === 'symbol' || typeof selectedDB === 'symbol';
    // biome-ignore lint/complexity/noArguments: pass every argument through unchanged
    return (chained ? transaction : pipeline).apply(this, arguments as unknown as unknown[]);
  };
}

/** `RedisCommandsQueue#addCommand(args, options)`: a span per command, but the handshake's. Exported for tests. */
export function tracedQueueCommand(original: Method, tracer: () => Tracer): Method {
  return function addCommand(this: unknown, args: unknown, options: unknown) {
    const name = commandName(args);
    // biome-ignore lint/complexity/noArguments: pass every argument through unchanged
    if (name === undefined) return original.apply(this, arguments as unknown as unknown[]);
    const batch = currentBatch();
    if (batch !== undefined)
      // biome-ignore lint/complexity/noArguments: see above
      return traceBatched(original, this, arguments, batch, name, args as unknown[]);
    if (name === 'quit' || (options as { asap?: unknown } | undefined)?.asap === true)
      // biome-ignore lint/complexity/noArguments: see above
      return original.apply(this, arguments as unknown as unknown[]);
    const client = (this as QueueLike | undefined)?.[CLIENT];
    // biome-ignore lint/complexity/noArguments: see above
    return traceCommand(original, this, arguments, tracer, client, name, args as unknown[]);
  };
}
