/**
 * ioredis commands the require hook cannot reach: a copy of ioredis bundled into the app's server code
 * (Next.js's app router bundles every dependency not on its `serverExternalPackages` list, and ioredis
 * is not on Next's own) is never `require`d, so ioredis-command.ts never patches it. ioredis 5.11 and 6
 * publish each command they write on the `ioredis:command` tracing channel (its `built/tracing.js`),
 * bundled or not: the preload subscribes and makes the same CLIENT span — `db.system.name=redis`,
 * `db.operation.name`, `db.query.text` (keys only), `server.address/port`, hit/miss on lookups — in the
 * caller's context, ended when the command's promise settles.
 *
 * Less than the patch sees: ioredis hands out its arguments already redacted (`sanitizeArgs`: keys of
 * GET, SET, DEL, INCR, EXPIRE… kept; MGET's and HGET's keys and every value are `?`), so those keys read
 * as `?`; no TTL marks (a SET's `EX` is redacted too, and a write without an expiry must not be claimed);
 * a command inside MULTI or a pipeline is named as itself. A command the patch traces (a `require`d
 * ioredis 5.11+) is skipped: the patch marks its `sendCommand` call (`patchedSendDepth`).
 *
 * Subscribed only once Next.js's server loads (its `next/dist/server/lib/trace/tracer.js`): with a
 * subscriber, ioredis wraps every command's promise and builds the channel's context object, a cost no
 * other app should pay for commands the patch already sees. Never throws into ioredis.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { type Span, SpanKind, type Tracer } from '@opentelemetry/api';
import { endSpan } from './end-span';
import { preloadContext } from './preload-context';
import { markOutcome } from './redis-reply';
import { redisStatement } from './redis-text';

/** The tracing channel's events the preload reads (Node's `tracing:<name>:<event>`). */
export const IOREDIS_COMMAND_CHANNELS = {
  start: 'tracing:ioredis:command:start',
  asyncEnd: 'tracing:ioredis:command:asyncEnd',
} as const;

const SPAN = Symbol('spanstat.ioredisChannelSpan');

/** The context object ioredis publishes for a command (`Redis#_buildCommandContext`). */
interface CommandContext {
  command?: unknown;
  args?: unknown;
  serverAddress?: unknown;
  serverPort?: unknown;
  result?: unknown;
  error?: unknown;
  [SPAN]?: Span;
}

/**
 * Calls of the patched `sendCommand` (ioredis-command.ts) under way: a command published meanwhile is
 * one the patch has traced. (ioredis publishes a command synchronously, from `sendCommand`, once.)
 */
export const patchedSends = { depth: 0 };

export class IORedisChannelSubscriber {
  private subscribed = false;
  private readonly onStart = (message: unknown) => this.start(message as CommandContext);

  constructor(private readonly tracer: () => Tracer) {}

  /** Subscribes to the command channel; a second call does nothing. */
  enable(): void {
    if (this.subscribed) return;
    subscribe(IOREDIS_COMMAND_CHANNELS.start, this.onStart);
    subscribe(IOREDIS_COMMAND_CHANNELS.asyncEnd, onAsyncEnd);
    this.subscribed = true;
  }

  disable(): void {
    if (!this.subscribed) return;
    unsubscribe(IOREDIS_COMMAND_CHANNELS.start, this.onStart);
    unsubscribe(IOREDIS_COMMAND_CHANNELS.asyncEnd, onAsyncEnd);
    this.subscribed = false;
  }

  private start(context: CommandContext): void {
    try {
      if (patchedSends.depth > 0 || context === null || typeof context !== 'object') return;
      const name = context.command;
      if (typeof name !== 'string') return;
      const args = Array.isArray(context.args) ? (context.args as unknown[]) : [];
      const span = this.tracer().startSpan(
        name,
        { kind: SpanKind.CLIENT, attributes: { 'db.system.name': 'redis' } },
        preloadContext.active(),
      );
      if (typeof context.serverAddress === 'string')
        span.setAttribute('server.address', context.serverAddress);
      if (typeof context.serverPort === 'number') span.setAttribute('server.port', context.serverPort);
      span.setAttribute('db.operation.name', name);
      span.setAttribute('db.query.text', redisStatement(name, args));
      context[SPAN] = span;
    } catch {
      // The command goes untraced.
    }
  }
}

/**
 * The command's promise settled: its reply's hit/miss marks, or its error. (Its promise is ioredis's
 * `command.promise`, returned, never thrown: `asyncEnd` always comes.)
 */
function onAsyncEnd(message: unknown): void {
  try {
    const context = message as CommandContext;
    const span = context?.[SPAN];
    if (span === undefined) return;
    context[SPAN] = undefined;
    if (context.error !== undefined) {
      endSpan(span, context.error, 'command failed');
      return;
    }
    const args = Array.isArray(context.args) ? (context.args as unknown[]) : [];
    markOutcome(span, { name: context.command as string, args }, context.result);
    span.end();
  } catch {
    // Never into ioredis.
  }
}
