/**
 * Outcomes of commands queued in a Redis transaction. Between MULTI and EXEC, Redis answers each
 * command `QUEUED` and runs them all at EXEC, whose reply holds one entry per queued command in
 * order — the value, or the error that command met. So a queued command's span stays open until
 * EXEC answers and then takes its entry's hit/miss, TTL or error: a GET in MULTI counts as a hit or
 * a miss, a SET … EX in MULTI reaches the TTL report, a WRONGTYPE inside EXEC is that command's
 * error. A transaction that did not run (EXECABORT, DISCARD, a WATCH that failed, a dropped
 * connection) ends its commands without an outcome, with an error status where the app got one.
 *
 * One open transaction per connection: Redis queues every command a connection sends between MULTI
 * and EXEC or DISCARD, whichever code sent it — as ioredis's pipelined `multi()` does.
 */
import type { Span } from '@opentelemetry/api';
import { endSpan } from './end-span';

/** A command queued in the open transaction, its span open until the transaction settles. */
export interface QueuedCommand {
  span: Span;
  command: { name: string; args: unknown[] };
  /** Set once its span ended (a queue-time error, or the transaction settled). */
  ended: boolean;
}

/** Marks a span from one command's reply (redis-reply.ts markReply). */
export type MarkReply = (span: Span, command: { name: string; args: unknown[] }, reply: unknown) => void;

/**
 * Longest transaction whose commands are held open; past it the older ones end without outcome,
 * so a MULTI never followed by EXEC cannot hold spans without bound.
 */
export const MAX_QUEUED_COMMANDS = 1024;

export class OpenTransaction {
  readonly queued: QueuedCommand[] = [];

  /** Holds a queued command's span; returns its entry, whose `ended` the caller sets on a queue-time error. */
  add(span: Span, command: QueuedCommand['command']): QueuedCommand {
    if (this.queued.length >= MAX_QUEUED_COMMANDS) this.abandon(undefined);
    const entry: QueuedCommand = { span, command, ended: false };
    this.queued.push(entry);
    return entry;
  }

  /** EXEC answered: each queued command takes its entry of the reply (null when a WATCH failed). */
  settle(reply: unknown, markReply: MarkReply): void {
    const queued = this.queued;
    if (!Array.isArray(reply) || reply.length !== queued.length) {
      this.abandon(undefined);
      return;
    }
    for (let i = 0; i < queued.length; i++) {
      const entry = queued[i];
      if (entry.ended) continue;
      entry.ended = true;
      const outcome = reply[i];
      if (outcome instanceof Error) endSpan(entry.span, outcome, 'command failed');
      else {
        markReply(entry.span, entry.command, outcome);
        entry.span.end();
      }
    }
    queued.length = 0;
  }

  /** The transaction did not run (or its reply cannot be matched): end every open span, with `err` if given. */
  abandon(err: unknown): void {
    for (const entry of this.queued) {
      if (entry.ended) continue;
      entry.ended = true;
      endSpan(entry.span, err, 'transaction failed');
    }
    this.queued.length = 0;
  }
}
