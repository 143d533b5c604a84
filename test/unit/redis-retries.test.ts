import { describe, expect, it } from 'vitest';
import { RedisRetries } from '../../src/classify/redis-retries';
import type { SpanSender } from '../../src/model/span';
import { cacheCall } from '../fixtures/classified';

const sdk = (pid: number): SpanSender => ({
  service: 'shop',
  preload: false,
  hostName: 'web-1',
  pid,
  instanceId: undefined,
  version: undefined,
});
const preload: SpanSender = { ...sdk(1), preload: true };
const NOW = 50_000;

/** An attempt of `GET user:1` starting at `startMs` (1 ms long): whether it counts. */
function attempt(
  retries: RedisRetries,
  startMs: number,
  { redirected = false, sender = sdk(1), statement = 'get user:1', nowMs = NOW } = {},
): boolean {
  return retries.counts(cacheCall({ startMs, durationMs: 1 }), statement, redirected, sender, nowMs);
}

describe('RedisRetries', () => {
  it('counts a redirected attempt whose next attempt is not traced as the call', () => {
    const retries = new RedisRetries();
    expect(attempt(retries, 1_000, { redirected: true })).toBe(true);
    // A call of the same statement seconds later is a call of its own.
    expect(attempt(retries, 4_000)).toBe(true);
    expect(attempt(retries, 4_010)).toBe(true);
  });

  it('sets aside the traced next attempt, once per redirection, also through a second redirection', () => {
    const retries = new RedisRetries();
    expect(attempt(retries, 1_000, { redirected: true })).toBe(true); // ASK: the call
    expect(attempt(retries, 1_001.2, { redirected: true })).toBe(false); // then MOVED: its next attempt
    expect(attempt(retries, 1_002.5)).toBe(false); // the attempt that answered
    expect(attempt(retries, 1_003)).toBe(true); // another call
    expect(retries.size).toBe(0);
  });

  it('tells the next attempt by process and statement, within a second of the redirection', () => {
    const retries = new RedisRetries();
    expect(attempt(retries, 1_000, { redirected: true })).toBe(true);
    expect(attempt(retries, 1_000.5, { statement: 'get user:2' })).toBe(true);
    expect(attempt(retries, 1_000.5, { sender: sdk(2) })).toBe(true);
    expect(attempt(retries, 2_500)).toBe(true);
    // Another trace of the process may anchor its clock a little earlier.
    expect(attempt(retries, 999.8)).toBe(false);
  });

  it('forgets a redirection the sidecar read long ago, so calls cost one comparison again', () => {
    const retries = new RedisRetries();
    attempt(retries, 1_000, { redirected: true });
    expect(retries.size).toBe(1);
    expect(attempt(retries, 1_000.5, { statement: 'get user:2', nowMs: NOW + 60_000 })).toBe(true);
    expect(retries.size).toBe(0);
    expect(attempt(retries, 1_000.5, { nowMs: NOW + 60_000 })).toBe(true);
  });

  it("sets the preload's redirected attempts aside: it traces the attempt that answered, with its hit or miss", () => {
    const retries = new RedisRetries();
    expect(attempt(retries, 1_000, { redirected: true, sender: preload })).toBe(false);
    expect(attempt(retries, 1_000.5, { sender: preload })).toBe(true);
    expect(retries.size).toBe(0);
  });

  it('waits for at most 1024 redirections at once', () => {
    const retries = new RedisRetries();
    for (let i = 0; i < 2_000; i++)
      attempt(retries, 1_000 + i, { redirected: true, statement: `get k:${i}` });
    expect(retries.size).toBe(1_024);
    expect(attempt(retries, 1_001, { statement: 'get k:0' })).toBe(true); // forgotten
    expect(attempt(retries, 2_999, { statement: 'get k:1999' })).toBe(false);
  });
});
