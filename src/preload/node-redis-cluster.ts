/**
 * node-redis Cluster (`createCluster`, v5/v6): one span per command across its redirections.
 *
 * `RedisCluster#_execute(firstKey, isReadonly, options, fn)` runs `fn(client, options)` — which
 * sends the command on one node's client, through the `sendCommand` node-redis-command.ts wraps —
 * and, when that node answers `MOVED` or `ASK` (a resharding), finds the new owner and runs `fn`
 * again there, up to `maxCommandRedirections` times. Traced per `sendCommand`, a redirected command
 * was two calls, the first an error, with the hit or miss counted where it was answered. Here each
 * run of `fn` is an attempt of one `ClusterCommand`: its first `sendCommand` starts the span, a
 * redirection leaves it open, and the answer (or another error) of a later attempt ends it; should
 * the cluster give up (too many redirections, a node it cannot find), `_execute`'s own rejection
 * ends it. The `ASKING` node-redis sends before an `ASK` retry is its own span, which the sidecar
 * reads as a connection command.
 */
import type { Span } from '@opentelemetry/api';
import type { Method } from './node-redis-span';
import { endFailed } from './redis-reply';

/** The command a cluster is running now (set only while `fn` runs its synchronous part). */
export interface ClusterCommand {
  span: Span | undefined;
  ended: boolean;
}

let running: ClusterCommand | undefined;

/** The cluster command whose attempt is sending now, if any. */
export function currentClusterCommand(): ClusterCommand | undefined {
  return running;
}

/** `RedisCluster#_execute` with its attempts tied to one `ClusterCommand`. Exported for tests. */
export function tracedClusterExecute(original: Method): Method {
  return function _execute(
    this: unknown,
    firstKey: unknown,
    isReadonly: unknown,
    options: unknown,
    fn: unknown,
  ) {
    // biome-ignore lint/complexity/noArguments: pass every argument through unchanged
    if (typeof fn !== 'function') return original.apply(this, arguments as unknown as unknown[]);
    const command: ClusterCommand = { span: undefined, ended: false };
    const attempt = function (this: unknown) {
      const outer = running;
      running = command;
      try {
        // biome-ignore lint/complexity/noArguments: see above
        return (fn as Method).apply(this, arguments as unknown as unknown[]);
      } finally {
        running = outer;
      }
    };
    const result = original.call(this, firstKey, isReadonly, options, attempt);
    if (result !== null && typeof (result as PromiseLike<unknown>)?.then === 'function')
      (result as PromiseLike<unknown>).then(undefined, (err: unknown) => {
        if (command.span === undefined || command.ended) return;
        command.ended = true;
        try {
          endFailed(command.span, undefined, undefined, err);
        } catch {
          // The error still reaches the app through `result`.
        }
      });
    return result;
  };
}
