/**
 * How a Redis command's span ends, for ioredis (ioredis-command.ts) and node-redis
 * (node-redis-command.ts) alike: from its reply (the cache marks of redis-cache.ts; a command queued
 * in MULTI waits for EXEC's reply instead, redis-transaction.ts) or from its error.
 */
import type { Span } from '@opentelemetry/api';
import { SPANSTAT_ATTR } from '../model/attributes';
import { isRedisRedirection } from '../model/redis-redirection';
import { endSpan } from './end-span';
import { cacheOutcome, cacheTtlSeconds, isQueuedReply, keysFound } from './redis-cache';
import type { OpenTransaction, QueuedCommand } from './redis-transaction';

/** Hit/miss and TTL from the reply (redis-cache.ts); never throws into the command's promise. */
export function markReply(span: Span, command: { name: string; args: unknown[] }, reply: unknown): void {
  try {
    markOutcome(span, command, reply);
    const ttl = cacheTtlSeconds(command.name, command.args, reply, Date.now());
    if (ttl !== undefined) span.setAttribute(SPANSTAT_ATTR.cacheTtlSeconds, ttl);
  } catch {
    // A malformed reply leaves the span without cache attributes.
  }
}

/**
 * Hit/miss from the reply (and which keys an MGET found), without the TTL a write set: for a command
 * whose arguments may be redacted (ioredis-channel.ts), where a SET's `EX` is not seen. May throw.
 */
export function markOutcome(span: Span, command: { name: string; args: unknown[] }, reply: unknown): void {
  const outcome = cacheOutcome(command.name, command.args, reply);
  if (outcome === undefined) return;
  span.setAttribute(SPANSTAT_ATTR.cacheHits, outcome.hits);
  span.setAttribute(SPANSTAT_ATTR.cacheMisses, outcome.misses);
  if (outcome.hits + outcome.misses > 1) {
    const found = keysFound(command.name, reply);
    if (found !== undefined) span.setAttribute(SPANSTAT_ATTR.cacheKeyHits, found);
  }
}

/**
 * A command answered: its span ends with the reply's cache marks, and an EXEC (`settles`) gives each
 * queued command its entry (a DISCARD ends them without outcome). A command queued in MULTI
 * (`queued`) answered QUEUED stays open: its outcome comes with EXEC's reply.
 */
export function endAnswered(
  span: Span,
  command: { name: string; args: unknown[] },
  reply: unknown,
  queued: QueuedCommand | undefined,
  settles: OpenTransaction | undefined,
): void {
  if (queued !== undefined) {
    if (isQueuedReply(reply)) return;
    queued.ended = true;
  }
  if (settles !== undefined) {
    if (command.name === 'exec') settles.settle(reply, markReply);
    else settles.abandon(undefined);
  }
  markReply(span, command, reply);
  span.end();
}

/** A command failed: its span ends with the error, and a failed EXEC or DISCARD ends its queue's spans too. */
export function endFailed(
  span: Span,
  queued: QueuedCommand | undefined,
  settles: OpenTransaction | undefined,
  err: unknown,
): void {
  if (queued !== undefined) queued.ended = true;
  settles?.abandon(err);
  endSpan(span, err, 'command failed');
}

/** An error that is a Redis Cluster's redirection reply (model/redis-redirection.ts). */
export function isClusterRedirection(err: unknown): boolean {
  const message = (err as { message?: unknown } | null)?.message;
  return typeof message === 'string' && isRedisRedirection(message);
}
