import { describeRedisCommand } from '../cache-keys/redis-commands';
import type { RequestSpan } from '../model/classified';
import type { FingerprintUse, NamespaceUse, RequestSummary } from '../model/request-summary';
import type { Leaf } from './request-assembler';

/** One request and the DB/cache/pool spans beneath it → the per-request summary the aggregator keeps. */
export function summariseRequest(request: RequestSpan, leaves: readonly Leaf[]): RequestSummary {
  let dbMs = 0;
  let cacheMs = 0;
  let poolWaitMs = 0;
  let queries = 0;
  let cacheOps = 0;
  const fingerprints = new Map<string, FingerprintUse>();
  const namespaces = new Map<string, NamespaceUse>();
  for (const leaf of leaves) {
    if (leaf.type === 'db') {
      queries++;
      dbMs += leaf.durationMs;
      const use = fingerprints.get(leaf.key);
      if (use) {
        use.calls++;
        use.totalMs += leaf.durationMs;
      } else
        fingerprints.set(leaf.key, {
          fingerprint: leaf.key,
          calls: 1,
          totalMs: leaf.durationMs,
        });
    } else if (leaf.type === 'cache') {
      cacheOps++;
      cacheMs += leaf.durationMs;
      // Reads of one key each: many in one request suggest MGET or a pipeline.
      const info = describeRedisCommand(leaf.command);
      const single = info.read && !info.multiKey ? 1 : 0;
      const use = namespaces.get(leaf.key);
      if (use) {
        use.ops++;
        use.singleReads += single;
        use.totalMs += leaf.durationMs;
      } else {
        namespaces.set(leaf.key, {
          namespace: leaf.key,
          ops: 1,
          singleReads: single,
          totalMs: leaf.durationMs,
        });
      }
    } else {
      poolWaitMs += leaf.durationMs;
    }
  }
  return {
    service: request.service,
    traceId: request.traceId,
    method: request.method,
    route: request.route,
    status: request.status,
    error: request.error,
    durationMs: request.durationMs,
    dbMs,
    cacheMs,
    poolWaitMs,
    queries,
    cacheOps,
    fingerprints: [...fingerprints.values()],
    namespaces: [...namespaces.values()],
  };
}
