import { describeRedisCommand } from '../cache-keys/redis-commands';
import type { RequestSpan } from '../model/classified';
import type { FingerprintUse, NamespaceUse, RequestSummary } from '../model/request-summary';
import type { Leaf } from './request-assembler';

/**
 * Distinct keys looked up by a linear scan before a Map index is built. A request touches a handful of
 * fingerprints and namespaces (their strings are shared objects, so `===` is a pointer compare); two
 * Maps per request and their iteration into arrays were most of this function's cost.
 */
const LINEAR_KEYS = 8;

/** One request and the DB/cache/pool spans beneath it → the per-request summary the aggregator keeps. */
export function summariseRequest(request: RequestSpan, leaves: readonly Leaf[]): RequestSummary {
  let dbMs = 0;
  let cacheMs = 0;
  let poolWaitMs = 0;
  let queries = 0;
  let cacheOps = 0;
  const fingerprints: FingerprintUse[] = [];
  const namespaces: NamespaceUse[] = [];
  let fingerprintIndex: Map<string, FingerprintUse> | null = null;
  let namespaceIndex: Map<string, NamespaceUse> | null = null;
  for (const leaf of leaves) {
    if (leaf.type === 'db') {
      queries++;
      dbMs += leaf.durationMs;
      let use: FingerprintUse | undefined =
        fingerprintIndex === null ? findUse(fingerprints, leaf.key) : fingerprintIndex.get(leaf.key);
      if (use === undefined) {
        use = { fingerprint: leaf.key, calls: 0, totalMs: 0 };
        fingerprints.push(use);
        fingerprintIndex = indexed(fingerprints, fingerprintIndex, use, fingerprintOf);
      }
      use.calls++;
      use.totalMs += leaf.durationMs;
    } else if (leaf.type === 'cache') {
      cacheOps++;
      cacheMs += leaf.durationMs;
      // Reads of one key each: many in one request suggest MGET or a pipeline.
      const info = describeRedisCommand(leaf.command);
      let use: NamespaceUse | undefined =
        namespaceIndex === null ? findNamespace(namespaces, leaf.key) : namespaceIndex.get(leaf.key);
      if (use === undefined) {
        use = { namespace: leaf.key, ops: 0, singleReads: 0, totalMs: 0 };
        namespaces.push(use);
        namespaceIndex = indexed(namespaces, namespaceIndex, use, namespaceOf);
      }
      use.ops++;
      if (info.read && !info.multiKey) use.singleReads++;
      use.totalMs += leaf.durationMs;
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
    fingerprints,
    namespaces,
  };
}

function findUse(uses: readonly FingerprintUse[], fingerprint: string): FingerprintUse | undefined {
  for (const use of uses) if (use.fingerprint === fingerprint) return use;
  return undefined;
}

function findNamespace(uses: readonly NamespaceUse[], namespace: string): NamespaceUse | undefined {
  for (const use of uses) if (use.namespace === namespace) return use;
  return undefined;
}

const fingerprintOf = (use: FingerprintUse) => use.fingerprint;
const namespaceOf = (use: NamespaceUse) => use.namespace;

/** The index after `added` joined `list`: built once the list outgrows LINEAR_KEYS, then kept up. */
function indexed<T>(
  list: readonly T[],
  index: Map<string, T> | null,
  added: T,
  keyOf: (use: T) => string,
): Map<string, T> | null {
  if (index !== null) return index.set(keyOf(added), added);
  if (list.length <= LINEAR_KEYS) return null;
  const built = new Map<string, T>();
  for (const use of list) built.set(keyOf(use), use);
  return built;
}
