import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../scripts/lib/seeded-random';
import type { RequestSpan } from '../../src/model/classified';
import type { Leaf } from '../../src/traces/request-assembler';
import { summariseRequest } from '../../src/traces/summarise-request';

const request: RequestSpan = {
  type: 'request',
  service: 'shop',
  traceId: 't',
  spanId: 'r',
  parentSpanId: '',
  startMs: 0,
  durationMs: 50,
  error: false,
  method: 'GET',
  route: '/orders/:id',
  status: 200,
  descendants: -1,
  senderLoss: undefined,
};

function leaf(type: Leaf['type'], key: string, durationMs: number, command = '', startMs = 0): Leaf {
  return { type, service: 'shop', parentSpanId: 'r', startMs, durationMs, key, command, next: null };
}

/** Leaves one after another from the request's start, `gapMs` apart. */
function sequential(leaves: Leaf[], gapMs = 0.1): Leaf[] {
  let at = 0;
  for (const l of leaves) {
    l.startMs = at;
    at += l.durationMs + gapMs;
  }
  return leaves;
}

describe('summariseRequest', () => {
  it('counts calls and time per fingerprint and namespace, in first-seen order, past the linear-scan size', () => {
    const random = seededRandom(11);
    const leaves: Leaf[] = [];
    for (let i = 0; i < 300; i++) {
      const r = random();
      // 20 fingerprints and 12 namespaces: both cross the point where an index is built.
      if (r < 0.6) leaves.push(leaf('db', `fp${Math.floor(random() * 20)}`, 1 + (i % 7)));
      else if (r < 0.95)
        leaves.push(leaf('cache', `ns${Math.floor(random() * 12)}:*`, 0.5, i % 3 === 0 ? 'mget' : 'get'));
      else leaves.push(leaf('pool-connect', '', 2));
    }
    const summary = summariseRequest({ ...request, durationMs: 10_000 }, sequential(leaves));

    const fingerprints = new Map<string, { fingerprint: string; calls: number; totalMs: number }>();
    const namespaces = new Map<
      string,
      { namespace: string; ops: number; singleReads: number; totalMs: number }
    >();
    for (const l of leaves) {
      if (l.type === 'db') {
        const use = fingerprints.get(l.key) ?? { fingerprint: l.key, calls: 0, totalMs: 0 };
        use.calls++;
        use.totalMs += l.durationMs;
        fingerprints.set(l.key, use);
      } else if (l.type === 'cache') {
        const use = namespaces.get(l.key) ?? { namespace: l.key, ops: 0, singleReads: 0, totalMs: 0 };
        use.ops++;
        if (l.command === 'get') use.singleReads++;
        use.totalMs += l.durationMs;
        namespaces.set(l.key, use);
      }
    }
    expect(summary.fingerprints).toEqual([...fingerprints.values()]);
    expect(summary.namespaces).toEqual([...namespaces.values()]);
    expect(summary.queries).toBe(leaves.filter((l) => l.type === 'db').length);
    expect(summary.cacheOps).toBe(leaves.filter((l) => l.type === 'cache').length);
    expect(summary.poolWaitMs).toBeCloseTo(2 * leaves.filter((l) => l.type === 'pool-connect').length, 9);
    expect(summary.dbMs).toBeCloseTo(
      leaves.filter((l) => l.type === 'db').reduce((sum, l) => sum + l.durationMs, 0),
      9,
    );
  });

  it('counts overlapping calls once, and never more time than the request took', () => {
    // A MULTI: four commands in flight together for 3 ms of a 4-ms request; their sum is 12 ms.
    const multi = [0, 1, 2, 3].map((i) => leaf('cache', 'cart:*', 3, 'hset', 0.5 + i * 0.01));
    const summary = summariseRequest({ ...request, durationMs: 4 }, multi);
    expect(summary.cacheMs).toBeCloseTo(3.03, 9);
    expect(summary.namespaces).toEqual([{ namespace: 'cart:*', ops: 4, singleReads: 0, totalMs: 12 }]);
  });

  it('counts single-key reads sent together (a pipeline) as one round trip, sequential ones each', () => {
    // Ten GETs of one pipeline: all in flight at once.
    const pipelined = Array.from({ length: 10 }, (_, i) => leaf('cache', 'item:*', 2, 'get', 1 + i * 0.01));
    // Five GETs one after another (each awaited before the next).
    const awaited = Array.from({ length: 5 }, (_, i) => leaf('cache', 'user:*', 1, 'get', 20 + i * 1.5));
    const summary = summariseRequest({ ...request, durationMs: 40 }, [...pipelined, ...awaited]);
    expect(summary.namespaces.map((n) => [n.namespace, n.ops, n.singleReads])).toEqual([
      ['item:*', 10, 1],
      ['user:*', 5, 5],
    ]);
  });

  it('splits many overlapping calls (past the per-segment scan) as it splits a few', () => {
    const random = seededRandom(5);
    // 200 calls of all kinds in flight in a 100-ms request (Promise.all of everything).
    const many: Leaf[] = [];
    for (let i = 0; i < 200; i++) {
      const type = (['db', 'cache', 'pool-connect'] as const)[Math.floor(random() * 3)];
      many.push(leaf(type, type === 'db' ? 'fp' : 'ns:*', 1 + random() * 20, 'get', random() * 100));
    }
    const long = { ...request, durationMs: 100 };
    const all = summariseRequest(long, many);
    // The same split, assembled from windows of few calls each: wall time is additive over disjoint windows.
    let db = 0;
    let cache = 0;
    let pool = 0;
    for (let at = 0; at < 100; at += 0.5) {
      const window = { ...long, startMs: at, durationMs: 0.5 };
      const part = summariseRequest(window, many);
      db += part.dbMs;
      cache += part.cacheMs;
      pool += part.poolWaitMs;
    }
    expect(all.dbMs).toBeCloseTo(db, 6);
    expect(all.cacheMs).toBeCloseTo(cache, 6);
    expect(all.poolWaitMs).toBeCloseTo(pool, 6);
    expect(all.dbMs + all.cacheMs + all.poolWaitMs).toBeLessThanOrEqual(100 + 1e-9);
  });

  it('gives an instant spent on two kinds of call to pool wait first, then DB, then cache', () => {
    const summary = summariseRequest({ ...request, durationMs: 20 }, [
      leaf('db', 'fp', 10, '', 0), // 0–10
      leaf('cache', 'user:*', 10, 'get', 5), // 5–15: 5–10 is DB's
      leaf('pool-connect', '', 4, '', 8), // 8–12: pool's, over both
    ]);
    expect(summary.poolWaitMs).toBeCloseTo(4, 9);
    expect(summary.dbMs).toBeCloseTo(8, 9);
    expect(summary.cacheMs).toBeCloseTo(3, 9);
  });

  it('clips calls to the request: work after the response counts span-level only', () => {
    const summary = summariseRequest({ ...request, startMs: 100, durationMs: 10 }, [
      leaf('db', 'fp', 4, '', 98), // 2 ms before the request's start
      leaf('db', 'fp', 5, '', 108), // 3 ms past its end
    ]);
    expect(summary.dbMs).toBeCloseTo(4, 9);
    expect(summary.fingerprints).toEqual([{ fingerprint: 'fp', calls: 2, totalMs: 9 }]);
  });
});
