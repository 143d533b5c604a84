import type { CacheCall, ClassifiedSpan, DbCall, PoolConnect, RequestSpan } from '../model/classified';
import type { FingerprintUse, NamespaceUse, RequestSummary } from '../model/request-summary';

export interface AssemblerOptions {
  /** A trace is summarised this long after its last span arrived (ms). */
  idleMs: number;
  /** Traces held at once; beyond it the least recently touched is summarised early. */
  maxOpenTraces: number;
  /** Spans kept per trace; later ones are not attributed (they still count span-level). */
  maxSpansPerTrace: number;
}

type Leaf = DbCall | CacheCall | PoolConnect;

interface OpenTrace {
  lastSeenMs: number;
  /** spanId → parentSpanId for every span seen, to walk from a leaf up to its request. */
  parents: Map<string, string>;
  requests: Map<string, RequestSpan>;
  leaves: Leaf[];
  spans: number;
  /** When the root request span arrived (-1: not yet); its in-process children ended, and were exported, before it. */
  rootSeenMs: number;
}

export interface AssemblerStats {
  openTraces: number;
  tracesSummarised: number;
  tracesEvictedEarly: number;
  spansOverTraceCap: number;
  leavesUnattributed: number;
}

const MAX_ANCESTRY_DEPTH = 128;
/** After the root request span arrives, wait this long for stragglers from other processes (ms). */
const ROOT_GRACE_MS = 250;
/** Cache commands that read one key: many in one request suggest MGET or a pipeline. */
const SINGLE_KEY_READS = new Set(['get', 'hget', 'hgetall', 'exists', 'getex', 'sismember', 'zscore', 'llen']);

/**
 * Groups the DB and cache spans of each trace under their nearest request (SERVER) ancestor and emits one
 * RequestSummary per request. Spans may arrive in any batch order; memory is bounded by maxOpenTraces ×
 * maxSpansPerTrace. The caller drives time through `sweep(nowMs)`, so the logic stays free of timers.
 */
export class RequestAssembler {
  private readonly open = new Map<string, OpenTrace>();
  readonly stats: AssemblerStats = {
    openTraces: 0,
    tracesSummarised: 0,
    tracesEvictedEarly: 0,
    spansOverTraceCap: 0,
    leavesUnattributed: 0,
  };

  constructor(
    private readonly options: AssemblerOptions,
    private readonly emit: (summary: RequestSummary) => void,
  ) {}

  add(span: ClassifiedSpan, nowMs: number): void {
    // A root that is not a request has no request above it, and nothing below it can reach one through it.
    if (span.parentSpanId === '' && span.type !== 'request') return;
    let trace = this.open.get(span.traceId);
    if (trace) {
      // Move to the end so the map stays ordered by last activity and sweep() can stop early.
      this.open.delete(span.traceId);
    } else {
      if (this.open.size >= this.options.maxOpenTraces) this.evictOldest();
      trace = { lastSeenMs: nowMs, parents: new Map(), requests: new Map(), leaves: [], spans: 0, rootSeenMs: -1 };
    }
    this.open.set(span.traceId, trace);
    trace.lastSeenMs = nowMs;
    if (trace.spans >= this.options.maxSpansPerTrace) {
      this.stats.spansOverTraceCap++;
      return;
    }
    trace.spans++;
    trace.parents.set(span.spanId, span.parentSpanId);
    if (span.type === 'request') {
      trace.requests.set(span.spanId, span);
      if (span.parentSpanId === '') trace.rootSeenMs = nowMs;
    } else if (span.type === 'db' || span.type === 'cache' || span.type === 'pool-connect') {
      trace.leaves.push(span);
    }
  }

  /** Summarises every trace idle for idleMs, or whose root arrived ROOT_GRACE_MS ago. */
  sweep(nowMs: number): void {
    const grace = Math.min(ROOT_GRACE_MS, this.options.idleMs);
    for (const [traceId, trace] of this.open) {
      const idle = nowMs - trace.lastSeenMs >= this.options.idleMs;
      const rootDone = trace.rootSeenMs >= 0 && nowMs - trace.rootSeenMs >= grace;
      if (!idle && !rootDone) {
        // Ordered by last activity: nothing after this one is idle, and nothing after it can be a root
        // finished longer than `grace` ago once activity itself is that recent.
        if (nowMs - trace.lastSeenMs < grace) break;
        continue;
      }
      this.open.delete(traceId);
      this.summarise(trace);
    }
    this.stats.openTraces = this.open.size;
  }

  /** Summarises everything still open (shutdown, tests). */
  flush(): void {
    for (const trace of this.open.values()) this.summarise(trace);
    this.open.clear();
    this.stats.openTraces = 0;
  }

  get openTraces(): number {
    return this.open.size;
  }

  private evictOldest(): void {
    const first = this.open.entries().next();
    if (first.done) return;
    const [traceId, trace] = first.value;
    this.open.delete(traceId);
    this.stats.tracesEvictedEarly++;
    this.summarise(trace);
  }

  private summarise(trace: OpenTrace): void {
    this.stats.tracesSummarised++;
    if (trace.requests.size === 0) return;
    const byRequest = new Map<string, Leaf[]>();
    for (const request of trace.requests.values()) byRequest.set(request.spanId, []);
    const onlyRequest = trace.requests.size === 1 ? trace.requests.values().next().value : undefined;
    for (const leaf of trace.leaves) {
      const owner = this.ownerOf(leaf, trace) ?? (onlyRequest?.service === leaf.service ? onlyRequest : undefined);
      if (owner) byRequest.get(owner.spanId)?.push(leaf);
      else this.stats.leavesUnattributed++;
    }
    for (const request of trace.requests.values()) {
      this.emit(summarise(request, byRequest.get(request.spanId) ?? []));
    }
  }

  /** Nearest request ancestor of the same service; undefined when the chain is broken or leaves the service. */
  private ownerOf(leaf: Leaf, trace: OpenTrace): RequestSpan | undefined {
    let parent = leaf.parentSpanId;
    for (let depth = 0; parent !== '' && depth < MAX_ANCESTRY_DEPTH; depth++) {
      const request = trace.requests.get(parent);
      if (request) return request.service === leaf.service ? request : undefined;
      const next = trace.parents.get(parent);
      if (next === undefined) return undefined;
      parent = next;
    }
    return undefined;
  }
}

function summarise(request: RequestSpan, leaves: Leaf[]): RequestSummary {
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
      const use = fingerprints.get(leaf.fingerprint);
      if (use) {
        use.calls++;
        use.totalMs += leaf.durationMs;
      } else fingerprints.set(leaf.fingerprint, { fingerprint: leaf.fingerprint, calls: 1, totalMs: leaf.durationMs });
    } else if (leaf.type === 'cache') {
      cacheOps++;
      cacheMs += leaf.durationMs;
      const single = SINGLE_KEY_READS.has(leaf.command) ? 1 : 0;
      const use = namespaces.get(leaf.namespace);
      if (use) {
        use.ops++;
        use.singleReads += single;
        use.totalMs += leaf.durationMs;
      } else {
        namespaces.set(leaf.namespace, { namespace: leaf.namespace, ops: 1, singleReads: single, totalMs: leaf.durationMs });
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
