/**
 * Redis Cluster redirections (MOVED, ASK, TRYAGAIN, CLUSTERDOWN: redis-redirection.ts) traced by an SDK
 * that makes a span per attempt. The attempt the cluster redirected ends as an error; whether the
 * client's next attempt — the one that answers — is traced at all depends on the SDK and on where the
 * client's connection was opened: instrumentation-ioredis traces only commands sent with a span
 * active (`requireParentSpan`, its default), and ioredis sends the next attempt from the redirecting
 * node's socket callback, whose context is wherever that connection was opened — often no request at
 * all (the attempt goes untraced), sometimes an old request (it is traced there, in the wrong trace).
 * Setting the redirected attempt aside then lost the command whenever its next attempt was not traced.
 *
 * So the redirected attempt counts as the call (not an error: the client answered it), and a later
 * span from the same process with the same statement that starts within RETRY_WINDOW_MS of the
 * redirected attempt's end is taken for its next attempt and set aside — one per redirection, so a
 * command redirected twice (ASK, then MOVED) counts once too. The span's trace cannot tell it (see
 * above); the statement and the timing do: ioredis and node-redis send MOVED/ASK attempts at once and
 * TRYAGAIN/CLUSTERDOWN ones after 100 ms by default. An untraced next attempt with another call of the
 * same statement from the same process right behind it leaves that call set aside instead: a
 * resharding's few redirections may undercount a hot key by as many calls, never count one twice.
 *
 * The spanstat preload ends one span per command across its attempts where it can; where it cannot
 * (node-redis 4) it traces every attempt in the command's context and puts the hit or miss on the one
 * that answered, so its redirected attempts are set aside as before.
 */
import type { CacheCall } from '../model/classified';
import type { SpanSender } from '../model/span';
import { processKey } from './double-tracing';

/**
 * How far a next attempt's start may be from the redirected attempt's end, either way: two traces
 * of one process may anchor their clocks a little apart (OpenTelemetry JS anchors each trace's).
 */
const RETRY_WINDOW_MS = 1_000;
/** How long (the sidecar's clock) a redirection waits for its next attempt: export batches come seconds apart. */
const WAIT_MS = 30_000;
/** Redirections awaiting their next attempt at once; beyond it the oldest is forgotten. */
const MAX_WAITING = 1_024;

interface Waiting {
  /** Process and statement (held here only: never reported or logged). */
  key: string;
  endMs: number;
  /** When the sidecar read it. */
  seenMs: number;
}

export class RedisRetries {
  /** Redirected attempts whose next attempt has not been seen, in the order read. */
  private waiting: Waiting[] = [];

  /**
   * Whether `call` counts. `statement` is its text (or command and namespace), `redirected` whether the
   * cluster redirected it, `sender` the resource being read (when the batch names one), `nowMs` the
   * sidecar's clock. Without a redirection waiting, an unredirected call costs one comparison.
   */
  counts(
    call: CacheCall,
    statement: string,
    redirected: boolean,
    sender: SpanSender | undefined,
    nowMs: number,
  ): boolean {
    if (sender?.preload === true) return !redirected;
    if (!redirected && this.waiting.length === 0) return true;
    this.forgetSeenBefore(nowMs - WAIT_MS);
    const key = `${(sender && processKey(sender)) ?? call.service}\n${statement}`;
    const retried = this.takeWaiting(key, call.startMs);
    if (redirected) {
      if (this.waiting.length >= MAX_WAITING) this.waiting.shift();
      this.waiting.push({ key, endMs: call.startMs + call.durationMs, seenMs: nowMs });
    }
    return !retried;
  }

  /** Redirections still awaiting their next attempt (tests). */
  get size(): number {
    return this.waiting.length;
  }

  private forgetSeenBefore(ms: number): void {
    let stale = 0;
    while (stale < this.waiting.length && this.waiting[stale].seenMs < ms) stale++;
    if (stale > 0) this.waiting = this.waiting.slice(stale);
  }

  /** Removes the oldest redirection of `key` whose next attempt could start at `startMs`. */
  private takeWaiting(key: string, startMs: number): boolean {
    for (let i = 0; i < this.waiting.length; i++) {
      const w = this.waiting[i];
      if (w.key === key && Math.abs(startMs - w.endMs) <= RETRY_WINDOW_MS) {
        this.waiting.splice(i, 1);
        return true;
      }
    }
    return false;
  }
}
