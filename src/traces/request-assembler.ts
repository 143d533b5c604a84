import { GenerationalCache } from '../generational-cache';
import type {
  CacheCall,
  ClassifiedSpan,
  DbCall,
  GraphqlExecution,
  PoolConnect,
  RequestSpan,
} from '../model/classified';
import type { RequestSummary } from '../model/request-summary';
import { summariseRequest } from './summarise-request';

export interface AssemblerOptions {
  /** A trace is dropped this long after its last span arrived (ms); its pending requests are summarised. */
  idleMs: number;
  /** Traces held at once; beyond it the longest queued (see `open`) is summarised early. */
  maxOpenTraces: number;
  /** Spans kept per trace; later ones are not attributed (they still count span-level). */
  maxSpansPerTrace: number;
}

/**
 * What the assembler keeps of a DB, cache or pool span until its request is summarised: the fields the
 * summary reads. Keeping the classified span instead held its own id string and a dozen fields for the
 * 250 ms grace, so each one was promoted to the old generation (~400 B per span promoted at 80k spans/s
 * with the sidecar's small young generation, per --trace-gc).
 */
export interface Leaf {
  type: 'db' | 'cache' | 'pool-connect';
  service: string;
  parentSpanId: string;
  startMs: number;
  durationMs: number;
  /** The statement's fingerprint (db) or the key namespace (cache); '' for a pool wait. */
  key: string;
  /** The cache command; '' otherwise. */
  command: string;
  /** The trace's next pending leaf (see OpenTrace.leaves). */
  next: Leaf | null;
}

function leafOf(span: DbCall | CacheCall | PoolConnect): Leaf {
  return {
    type: span.type,
    service: span.service,
    parentSpanId: span.parentSpanId,
    startMs: span.startMs,
    durationMs: span.durationMs,
    key: span.type === 'db' ? span.fingerprint : span.type === 'cache' ? span.namespace : '',
    command: span.type === 'cache' ? span.command : '',
    next: null,
  };
}

interface OpenTrace {
  traceId: string;
  lastSeenMs: number;
  /** When the trace took its place at the end of `open` (created, or moved back by the idle sweep). */
  queuedMs: number;
  /**
   * spanId → parentSpanId of the spans a walk from a leaf up to its request passes through: those that are
   * neither leaf nor request (middleware, ORM spans). Leaves' and requests' own links are never read (a
   * walk starts at a leaf's parent and stops at a request). Null until the first such span; spans from our
   * preload have none, so most traces never allocate it.
   */
  parents: Map<string, string> | null;
  /**
   * Requests not yet summarised: the first in `request`, any others in `moreRequests` (null until a
   * second one is pending). Most traces hold one request, and a Map per trace was ~170 B that lived
   * through the grace period into the old generation.
   */
  request: RequestSpan | null;
  moreRequests: Map<string, RequestSpan> | null;
  /**
   * Requests already summarised while the trace stays open: a late leaf under one of them is not given
   * to an outer request. Null until needed — most traces are freed as their one request is summarised.
   */
  done: Set<string> | null;
  /**
   * Leaves not yet given to a request, in arrival order, linked through Leaf.next: no array (and its
   * 17-slot backing store) per trace.
   */
  leaves: Leaf | null;
  lastLeaf: Leaf | null;
  spans: number;
  /** Spans that named a GraphQL operation (OperationSpan); null until one, which few traces have. */
  operations: OperationSpan[] | null;
  /**
   * Still the entry of `open` for its trace id. A trace closed by the sweep or evicted can still be
   * reached through `dueTraces`, and a later trace may hold its id by then; a flag rather than an
   * identity look-up in `open` (a Map of thousands of traces) per summarised request.
   */
  inOpen: boolean;
}

/** A span that named a GraphQL operation, until the request above it is summarised. */
interface OperationSpan {
  service: string;
  parentSpanId: string;
  operation: GraphqlExecution;
}

/**
 * The route of a request that a span beneath it named a GraphQL operation for (`operations`: how many
 * distinct ones were beneath it): SpanClassifier.operationRoute.
 */
export type OperationRouter = (
  request: RequestSpan,
  operation: GraphqlExecution,
  operations: number,
) => string;

export interface AssemblerStats {
  openTraces: number;
  requestsSummarised: number;
  tracesEvictedEarly: number;
  spansOverTraceCap: number;
  leavesUnattributed: number;
}

const MAX_ANCESTRY_DEPTH = 128;
/** Summarised requests remembered after their trace was freed, so a late span under one is not misplaced. */
const RECENTLY_DONE_CAP = 65_536;
/**
 * A request is summarised this long after its span arrived, unless it declared how many spans are
 * beneath it and all of them are here (the spanstat preload's do; see ownedCount) — or declared more
 * than are here, when it waits for them up to idleMs (stillDeclaredMissing). Its in-process
 * children end before it and a batch span processor exports in end order, so they are normally here
 * already; the grace covers spans split across two export batches sent back to back.
 */
const REQUEST_GRACE_MS = 250;

/**
 * Groups the DB and cache spans of each trace under their nearest request ancestor (a SERVER span, a job
 * root or a CONSUMER span: classify-span.ts makes each a RequestSpan) and emits one
 * RequestSummary per request. Spans may arrive in any batch order; memory is bounded by maxOpenTraces ×
 * maxSpansPerTrace. The caller drives time through `sweep(nowMs)`, so the logic stays free of timers.
 */
export class RequestAssembler {
  /**
   * In queue order: a trace is appended when it opens and only moved back to the end by the idle sweep
   * when it outlived idleMs while still active. Moving every touched trace (delete + set per span) was the
   * assembler's largest cost in a profile of the ingest bench; now idle traces are still found from the
   * front, and the one evicted when full is the longest queued.
   */
  private readonly open = new Map<string, OpenTrace>();
  /**
   * Requests waiting for their grace period, in arrival order (so due times are monotonic), as three
   * parallel arrays rather than an object per request.
   */
  private readonly dueTraces: OpenTrace[] = [];
  private readonly dueSpanIds: string[] = [];
  private readonly dueAtMs: number[] = [];
  private dueHead = 0;
  /**
   * Span ids of summarised requests, the newest half of RECENTLY_DONE_CAP at least. Two generations
   * rather than a ring of the last N ids beside one Set (exact oldest-first order): each add there was
   * three look-ups in a 64k-entry table (a repeat check, deleting the oldest, adding), cache misses on
   * this VM, ~4% of the pipeline in a profile of the ingest bench; an add here is one.
   */
  private readonly recentlyDone = new GenerationalCache<true>(RECENTLY_DONE_CAP);
  readonly stats: AssemblerStats = {
    openTraces: 0,
    requestsSummarised: 0,
    tracesEvictedEarly: 0,
    spansOverTraceCap: 0,
    leavesUnattributed: 0,
  };

  constructor(
    private readonly options: AssemblerOptions,
    private readonly emit: (summary: RequestSummary) => void,
    private readonly operationRoute?: OperationRouter,
  ) {}

  add(span: ClassifiedSpan, nowMs: number): void {
    // A root that is not a request has no request above it, and nothing below it can reach one through it.
    if (span.parentSpanId === '' && span.type !== 'request') return;
    let trace = this.open.get(span.traceId);
    if (trace === undefined) {
      if (this.open.size >= this.options.maxOpenTraces) this.evictOldest();
      trace = {
        traceId: span.traceId,
        lastSeenMs: nowMs,
        queuedMs: nowMs,
        parents: null,
        request: null,
        moreRequests: null,
        done: null,
        leaves: null,
        lastLeaf: null,
        spans: 0,
        operations: null,
        inOpen: true,
      };
      this.open.set(span.traceId, trace);
    }
    trace.lastSeenMs = nowMs;
    if (trace.spans >= this.options.maxSpansPerTrace) {
      this.stats.spansOverTraceCap++;
      return;
    }
    trace.spans++;
    if (span.type === 'other') {
      if (trace.parents === null) trace.parents = new Map();
      trace.parents.set(span.spanId, span.parentSpanId);
      if (span.graphql !== undefined) {
        if (trace.operations === null) trace.operations = [];
        trace.operations.push({
          service: span.service,
          parentSpanId: span.parentSpanId,
          operation: span.graphql,
        });
      }
    }
    if (span.type === 'request') {
      addPending(trace, span);
      if (this.completeOnArrival(trace, span)) return;
      this.dueTraces.push(trace);
      this.dueSpanIds.push(span.spanId);
      this.dueAtMs.push(nowMs + Math.min(REQUEST_GRACE_MS, this.options.idleMs));
      return;
    }
    if (span.type === 'db' || span.type === 'cache' || span.type === 'pool-connect') {
      const leaf = leafOf(span);
      if (trace.lastLeaf === null) trace.leaves = leaf;
      else trace.lastLeaf.next = leaf;
      trace.lastLeaf = leaf;
    }
    // A span that ended after its request (work the handler started and left running) may be the last
    // one the request declared: summarise it now rather than at the end of its grace period.
    const waiting = trace.request;
    if (waiting !== null && trace.moreRequests === null) this.completeOnArrival(trace, waiting);
  }

  /**
   * Summarises `request` at once when it declared how many spans are beneath it and all of them are
   * here; false when it has to wait (no declaration, or a span still missing).
   */
  private completeOnArrival(trace: OpenTrace, request: RequestSpan): boolean {
    if (request.descendants < 0 || this.ownedCount(trace, request.spanId) !== request.descendants)
      return false;
    this.summariseOne(trace, request.spanId);
    this.freeIfSettled(trace);
    return true;
  }

  /** Summarises requests whose grace period is over and drops traces idle for idleMs. */
  sweep(nowMs: number): void {
    while (this.dueHead < this.dueAtMs.length && this.dueAtMs[this.dueHead] <= nowMs) {
      const trace = this.dueTraces[this.dueHead];
      const spanId = this.dueSpanIds[this.dueHead];
      this.dueHead++;
      if (this.stillDeclaredMissing(trace, spanId)) continue;
      this.summariseOne(trace, spanId);
      this.freeIfSettled(trace);
    }
    if (this.dueHead > 1024 && this.dueHead * 2 > this.dueAtMs.length) this.dropDue(this.dueHead);
    for (const [traceId, trace] of this.open) {
      // Everything behind this one was queued later, so none of it can be idle yet.
      if (nowMs - trace.queuedMs < this.options.idleMs) break;
      this.open.delete(traceId);
      if (nowMs - trace.lastSeenMs >= this.options.idleMs) {
        trace.inOpen = false;
        this.closeTrace(trace);
      } else {
        // Still receiving spans: back to the end, to be looked at again idleMs from now.
        trace.queuedMs = nowMs;
        this.open.set(traceId, trace);
      }
    }
    this.stats.openTraces = this.open.size;
  }

  /**
   * The request declared more spans beneath it than are here: they are on their way (ended before it
   * but exported in a later body, or queued behind it in a busy sidecar: a job's run read 1.95 of its
   * 2 queries under load when the grace period summarised it without them). It stays pending, to be
   * summarised when the last one arrives (completeOnArrival) or when its trace has been idle for
   * idleMs (closeTrace), with what came — a span its sender lost never comes.
   */
  private stillDeclaredMissing(trace: OpenTrace, spanId: string): boolean {
    if (!trace.inOpen) return false;
    const request = pendingRequest(trace, spanId);
    return (
      request !== undefined && request.descendants > 0 && this.ownedCount(trace, spanId) < request.descendants
    );
  }

  /**
   * Nothing left to wait for: free the trace now rather than after idleMs (most traces end here; holding
   * their span links for the idle period multiplied the assembler's memory by idleMs / grace).
   */
  private freeIfSettled(trace: OpenTrace): void {
    if (pendingCount(trace) === 0 && trace.leaves === null && trace.inOpen) {
      trace.inOpen = false;
      this.open.delete(trace.traceId);
    }
  }

  /**
   * Spans held for this trace that sit beneath the request `spanId`: leaves, and the in-between spans
   * of `parents`. Equal to the count its sender declared, the request has all of them (its children
   * end before it and are exported first, so they are normally here when it arrives) and is
   * summarised at once: held through the grace period, every request and leaf outlived a few young
   * generation collections and was promoted and collected again in the old one.
   */
  private ownedCount(trace: OpenTrace, spanId: string): number {
    let owned = 0;
    for (let leaf = trace.leaves; leaf !== null; leaf = leaf.next) {
      if (this.ownerOf(leaf.parentSpanId, leaf.service, trace) === spanId) owned++;
    }
    if (trace.parents !== null) {
      const service = (pendingRequest(trace, spanId) as RequestSpan).service;
      for (const parent of trace.parents.values()) {
        if (this.ownerOf(parent, service, trace) === spanId) owned++;
      }
    }
    return owned;
  }

  /** Summarises everything still open (shutdown, tests). */
  flush(): void {
    for (const trace of this.open.values()) {
      trace.inOpen = false;
      this.closeTrace(trace);
    }
    this.open.clear();
    this.dropDue(this.dueAtMs.length);
    this.stats.openTraces = 0;
  }

  get openTraces(): number {
    return this.open.size;
  }

  /** Forgets the first `count` due entries. */
  private dropDue(count: number): void {
    this.dueTraces.splice(0, count);
    this.dueSpanIds.splice(0, count);
    this.dueAtMs.splice(0, count);
    this.dueHead = 0;
  }

  private evictOldest(): void {
    const first = this.open.entries().next();
    if (first.done) return;
    const [traceId, trace] = first.value;
    this.open.delete(traceId);
    trace.inOpen = false;
    this.stats.tracesEvictedEarly++;
    this.closeTrace(trace);
  }

  private closeTrace(trace: OpenTrace): void {
    const pending = pendingCount(trace);
    if (pending === 1) this.summariseOne(trace, (onlyPending(trace) as RequestSpan).spanId);
    else if (pending > 1) this.summariseRequests(trace, pendingIds(trace));
    for (let leaf = trace.leaves; leaf !== null; leaf = leaf.next) this.stats.leavesUnattributed++;
    trace.leaves = null;
    trace.lastLeaf = null;
    trace.parents = null;
    trace.operations = null;
  }

  /**
   * `summariseRequests` for one request, without its maps: the sweep's path, taken once per request
   * (the general one was the assembler's largest cost in a profile of the ingest bench).
   */
  private summariseOne(trace: OpenTrace, spanId: string): void {
    const request = pendingRequest(trace, spanId);
    if (request === undefined) return;
    // A leaf whose chain is broken (a parent span never arrived) goes to the trace's only request.
    const onlyRequest = pendingCount(trace) === 1 && trace.done === null ? request : undefined;
    const mine: Leaf[] = [];
    const kept = new LeafList();
    for (let leaf = trace.leaves; leaf !== null; ) {
      const next = leaf.next;
      const owner =
        this.ownerOf(leaf.parentSpanId, leaf.service, trace) ??
        (onlyRequest?.service === leaf.service ? spanId : undefined);
      if (owner === spanId) mine.push(leaf);
      else if (owner !== undefined && trace.done?.has(owner)) this.stats.leavesUnattributed++;
      else kept.append(leaf);
      leaf = next;
    }
    kept.storeIn(trace);
    if (trace.operations !== null) this.nameOperation(trace, request);
    deletePending(trace, spanId);
    this.markDone(trace, spanId);
    this.stats.requestsSummarised++;
    this.emit(summariseRequest(request, mine));
  }

  /**
   * Names `request` by the GraphQL operation spans beneath it name (instrumentation-graphql's
   * `graphql.execute`), unless it named its own (the preload's); several distinct ones are a batch.
   */
  private nameOperation(trace: OpenTrace, request: RequestSpan): void {
    if (request.namesOperation === true || this.operationRoute === undefined) return;
    let first: GraphqlExecution | undefined;
    let distinct = 0;
    for (const { service, parentSpanId, operation } of trace.operations as OperationSpan[]) {
      if (this.ownerOf(parentSpanId, service, trace) !== request.spanId) continue;
      if (first === undefined) {
        first = operation;
        distinct = 1;
      } else if (distinct === 1 && (operation.type !== first.type || operation.name !== first.name))
        distinct = 2;
    }
    if (first === undefined) return;
    request.route = this.operationRoute(request, first, distinct);
    request.namesOperation = true;
  }

  /** Emits the given pending requests with the leaves beneath them, and forgets those leaves. */
  private summariseRequests(trace: OpenTrace, spanIds: readonly string[]): void {
    const owned = new Map<string, Leaf[]>();
    for (const spanId of spanIds) if (pendingRequest(trace, spanId) !== undefined) owned.set(spanId, []);
    if (owned.size === 0) return;
    // A leaf whose chain is broken (a parent span never arrived) goes to the trace's only request.
    const onlyRequest = pendingCount(trace) === 1 && trace.done === null ? onlyPending(trace) : undefined;
    const kept = new LeafList();
    for (let leaf = trace.leaves; leaf !== null; ) {
      const next = leaf.next;
      const owner =
        this.ownerOf(leaf.parentSpanId, leaf.service, trace) ??
        (onlyRequest?.service === leaf.service ? onlyRequest.spanId : undefined);
      const list = owner === undefined ? undefined : owned.get(owner);
      if (list) list.push(leaf);
      else if (owner !== undefined && trace.done?.has(owner)) this.stats.leavesUnattributed++;
      else kept.append(leaf);
      leaf = next;
    }
    kept.storeIn(trace);
    for (const [spanId, leaves] of owned) {
      const request = pendingRequest(trace, spanId) as RequestSpan;
      if (trace.operations !== null) this.nameOperation(trace, request);
      deletePending(trace, spanId);
      this.markDone(trace, spanId);
      this.stats.requestsSummarised++;
      this.emit(summariseRequest(request, leaves));
    }
  }

  /**
   * Remembers a summarised request: in the trace while it has more to wait for, and in recentlyDone for
   * leaves that arrive after the trace was freed. Keyed by span id alone: ids are 64 random bits, and a
   * fresh `traceId/spanId` string per request cost a concatenation and a hash of 49 characters.
   */
  private markDone(trace: OpenTrace, spanId: string): void {
    if (pendingCount(trace) > 0 || trace.leaves !== null) doneSet(trace).add(spanId);
    this.recentlyDone.set(spanId, true);
  }

  /**
   * spanId of the nearest request ancestor, starting from a span's parent, when it is of `service`;
   * undefined when the chain breaks or leaves the service.
   */
  private ownerOf(parentSpanId: string, service: string, trace: OpenTrace): string | undefined {
    let parent = parentSpanId;
    for (let depth = 0; parent !== '' && depth < MAX_ANCESTRY_DEPTH; depth++) {
      const request = pendingRequest(trace, parent);
      if (request) return request.service === service ? parent : undefined;
      if (trace.done?.has(parent)) return parent;
      const next = trace.parents?.get(parent);
      if (next === undefined) {
        // The chain leaves what this trace holds: a request summarised (and freed) before still claims it.
        if (this.recentlyDone.has(parent)) {
          doneSet(trace).add(parent);
          return parent;
        }
        return undefined;
      }
      parent = next;
    }
    return undefined;
  }
}

function doneSet(trace: OpenTrace): Set<string> {
  if (trace.done === null) trace.done = new Set();
  return trace.done;
}

/** Leaves re-linked in order while a summary takes some of them out of a trace's list. */
class LeafList {
  private head: Leaf | null = null;
  private tail: Leaf | null = null;

  append(leaf: Leaf): void {
    leaf.next = null;
    if (this.tail === null) this.head = leaf;
    else this.tail.next = leaf;
    this.tail = leaf;
  }

  storeIn(trace: OpenTrace): void {
    trace.leaves = this.head;
    trace.lastLeaf = this.tail;
  }
}

function pendingRequest(trace: OpenTrace, spanId: string): RequestSpan | undefined {
  if (trace.request !== null && trace.request.spanId === spanId) return trace.request;
  return trace.moreRequests?.get(spanId);
}

function pendingCount(trace: OpenTrace): number {
  return (trace.request === null ? 0 : 1) + (trace.moreRequests?.size ?? 0);
}

/** The one pending request when there is exactly one. */
function onlyPending(trace: OpenTrace): RequestSpan | undefined {
  if (pendingCount(trace) !== 1) return undefined;
  return trace.request ?? (trace.moreRequests?.values().next().value as RequestSpan | undefined);
}

function pendingIds(trace: OpenTrace): string[] {
  const ids: string[] = [];
  if (trace.request !== null) ids.push(trace.request.spanId);
  if (trace.moreRequests !== null) for (const id of trace.moreRequests.keys()) ids.push(id);
  return ids;
}

/** Adds a pending request; the same span id again replaces it (a span sent twice). */
function addPending(trace: OpenTrace, request: RequestSpan): void {
  if (trace.request !== null && trace.request.spanId === request.spanId) trace.request = request;
  else if (trace.moreRequests?.has(request.spanId)) trace.moreRequests.set(request.spanId, request);
  else if (trace.request === null) trace.request = request;
  else {
    if (trace.moreRequests === null) trace.moreRequests = new Map();
    trace.moreRequests.set(request.spanId, request);
  }
}

function deletePending(trace: OpenTrace, spanId: string): void {
  if (trace.request !== null && trace.request.spanId === spanId) trace.request = null;
  else trace.moreRequests?.delete(spanId);
}
