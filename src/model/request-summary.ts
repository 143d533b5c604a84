/**
 * One served request with everything its trace showed beneath it: the unit the endpoint report,
 * the "top endpoints" columns and the advisor's per-request rules (N+1, time split) are built from.
 */
export interface FingerprintUse {
  fingerprint: string;
  calls: number;
  totalMs: number;
}

export interface NamespaceUse {
  namespace: string;
  /** Cache commands on this namespace in the request. */
  ops: number;
  /**
   * Single-key reads (GET-like) in the request, each in a round trip of its own (reads sent together,
   * as a pipeline, count once): many of them hint at a missing MGET/pipeline.
   */
  singleReads: number;
  totalMs: number;
}

export interface RequestSummary {
  service: string;
  /** `service.version` of the request span's resource, when it named one (src/deploys). */
  version?: string;
  traceId: string;
  method: string;
  route: string;
  status: number;
  error: boolean;
  durationMs: number;
  /** Sum of DB call durations beneath the request (parallel calls may add past the request time). */
  dbMs: number;
  cacheMs: number;
  /** Time waiting for a pooled DB connection. */
  poolWaitMs: number;
  queries: number;
  cacheOps: number;
  fingerprints: FingerprintUse[];
  namespaces: NamespaceUse[];
}
