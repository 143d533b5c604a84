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

function leaf(type: Leaf['type'], key: string, durationMs: number, command = ''): Leaf {
  return { type, service: 'shop', parentSpanId: 'r', durationMs, key, command, next: null };
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
    const summary = summariseRequest(request, leaves);

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
    expect(summary.poolWaitMs).toBe(2 * leaves.filter((l) => l.type === 'pool-connect').length);
  });
});
