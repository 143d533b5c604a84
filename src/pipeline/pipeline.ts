import type { NamespaceRenames } from '../cache-keys/namespace-renames';
import { asOther } from '../classify/as-other';
import { stringAttr } from '../classify/attributes';
import type { SpanClassifier } from '../classify/classify-span';
import { DoubleTracing, tracedByPreload } from '../classify/double-tracing';
import { NestedDbCalls } from '../classify/nested-db-calls';
import { RedisRetries } from '../classify/redis-retries';
import { ATTR } from '../model/attributes';
import type { ClassifiedSpan } from '../model/classified';
import type { RequestSummary } from '../model/request-summary';
import type { DecodedSpan, SpanBatch, SpanSender } from '../model/span';
import { type AssemblerOptions, RequestAssembler } from '../traces/request-assembler';
import type { SliceClock } from './slice-clock';
import type { SpanSink } from './span-sink';

export interface PipelineOptions {
  /** Spans accepted but not yet processed; above it the receiver refuses with 503 + Retry-After. */
  maxPendingSpans: number;
  assembly: AssemblerOptions;
  /** Told of each resource's `service.version` and of every request summary (src/deploys); optional. */
  versions?: VersionObserver;
}

/** What the pipeline tells the deploy tracker: per resource (never per span) and per request. */
export interface VersionObserver {
  /** A resource naming `service.version` was read (once per resource of each body), at the slice's time. */
  versionSeen(service: string, version: string, nowMs: number): void;
  recordRequest(summary: RequestSummary): void;
}

export interface PipelineStats {
  spansReceived: number;
  spansProcessed: number;
  spansFailed: number;
  /** Spans left out for times no real span has (see classifyOne). */
  spansInvalid: number;
  /** Another SDK's copies of spans the preload sent from the same process (classify/double-tracing.ts). */
  spansSetAside: number;
  pendingSpans: number;
  requestsSummarised: number;
}

/** Longest span taken (ms): a week; a long-lived WebSocket's server span fits. */
const MAX_SPAN_MS = 7 * 24 * 3600 * 1000;

/**
 * Spans processed per turn of the event loop before yielding, so the API and the receiver keep answering
 * while a large backlog drains.
 */
const SPANS_PER_TURN = 4096;
/**
 * Spans classified before the later stages run over them, one stage at a time (see Pipeline). Large
 * enough that each stage's code is fetched once for many spans; small enough that the chunk's records
 * stay in the CPU's second-level cache between stages.
 */
const CHUNK_SPANS = 256;
const EMPTY_BATCH: SpanBatch = { size: 0, forEach() {} };

/**
 * decode → classify → (aggregate span-level ∥ assemble per request → aggregate request-level).
 * The receiver enqueues checked batches (a protobuf body stays wire bytes until here); processing, and
 * decoding span by span, happens off the request path in bounded slices.
 *
 * Stage by stage over chunks of CHUNK_SPANS spans rather than span by span through every stage: one
 * span's path through classify, SQL, key namespaces, the aggregator, the metrics and the assembler
 * runs ~7k instructions of JIT code spread over ~40 KB, so span by span the instruction cache (32 KB)
 * refetched most of it for every span: ~600 first-level instruction-fetch misses per span against ~50
 * in the decoder, whose loop fits; chunked, ~270, and data-cache misses 330 → 130 (bench:instructions
 * --cache-sim). Classifying stays inline with the decode: a classified span is smaller than the decoded
 * one it replaces, so less survives each young-generation GC (the sidecar's semi-space is 1 MiB), which
 * measured ahead end to end of classifying a chunk of decoded spans, though that has fewer misses.
 */
export class Pipeline {
  readonly stats: PipelineStats = {
    spansReceived: 0,
    spansProcessed: 0,
    spansFailed: 0,
    spansInvalid: 0,
    spansSetAside: 0,
    pendingSpans: 0,
    requestsSummarised: 0,
  };
  private readonly queue: SpanBatch[] = [];
  /** The clock of the slice being processed. */
  private sliceNowMs = 0;
  /** classifyOne bound once: a batch calls it per span while it decodes. */
  private readonly visit = (span: DecodedSpan): void => this.classifyOne(span);
  /** Classified spans waiting for the later stages (at most CHUNK_SPANS), and which of them failed in one. */
  private readonly chunk: ClassifiedSpan[] = [];
  private readonly chunkFailed = new Uint8Array(CHUNK_SPANS);
  private readonly nestedDbCalls = new NestedDbCalls();
  private readonly redisRetries = new RedisRetries();
  /** Summaries the assembler emitted while a chunk is processed, recorded after its pass. */
  private readonly summaries: RequestSummary[] = [];
  /** Whether the spans of the resource being read duplicate the preload's (set per resource, by onSender). */
  private shadowed = false;
  /** `service.version` of the resource being read, stamped on its request spans (set per resource, by onSender). */
  private senderVersion: string | undefined = undefined;
  /** The resource being read (set per resource, by onSender), for telling a Redis Cluster client's attempts apart. */
  private sender: SpanSender | undefined = undefined;
  /** Called by a batch before each resource's spans: the double-tracing decision, once per resource. */
  private readonly onSender = (sender: SpanSender): void => {
    this.sender = sender;
    this.shadowed = this.doubleTracing.shadowed(sender);
    const version = sender.version;
    this.senderVersion = version;
    if (version !== undefined) this.options.versions?.versionSeen(sender.service, version, this.sliceNowMs);
  };
  private inChunk = false;
  private queueHead = 0;
  private drainScheduled = false;
  private sweepTimer: NodeJS.Timeout | undefined;
  readonly assembler: RequestAssembler;

  constructor(
    private readonly options: PipelineOptions,
    private readonly classifier: SpanClassifier,
    private readonly sinks: readonly SpanSink[],
    private readonly clock: SliceClock,
    /** Namespace renames made while a chunk was classified, applied before its sinks (namespace-renames.ts). */
    private readonly renames?: NamespaceRenames,
    /** Tells another SDK's spans from a process the preload also traces (its notices are the sidecar's log). */
    readonly doubleTracing: DoubleTracing = new DoubleTracing(),
  ) {
    this.assembler = new RequestAssembler(
      options.assembly,
      (summary) => {
        this.stats.requestsSummarised++;
        if (this.inChunk) this.summaries.push(summary);
        else this.recordSummary(summary);
      },
      // A GraphQL operation named by a span beneath the request (another SDK's), bounded as the classifier bounds its own.
      (request, operation, operations) => classifier.operationRoute(request, operation, operations),
    );
  }

  isOverloaded(): boolean {
    return this.stats.pendingSpans >= this.options.maxPendingSpans;
  }

  /** Queues a batch; processing (and a protobuf body's decoding) starts on the next turn of the event loop. */
  enqueue(batch: SpanBatch): void {
    if (batch.size === 0) return;
    this.queue.push(batch);
    this.stats.spansReceived += batch.size;
    this.stats.pendingSpans += batch.size;
    if (!this.drainScheduled) {
      this.drainScheduled = true;
      setImmediate(() => this.drain());
    }
  }

  start(): void {
    if (this.sweepTimer) return;
    const interval = Math.max(50, Math.min(250, this.options.assembly.idleMs / 4));
    this.sweepTimer = setInterval(() => this.assembler.sweep(this.clock.advance()), interval);
    this.sweepTimer.unref();
  }

  /** Processes everything queued and summarises every open trace. Safe twice and before start. */
  async shutdown(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    this.drainAll();
    this.assembler.flush();
  }

  /** Processes the whole queue synchronously (tests and shutdown). */
  drainAll(): void {
    while (this.queueHead < this.queue.length) this.processSlice(Number.POSITIVE_INFINITY);
  }

  private drain(): void {
    this.drainScheduled = false;
    this.processSlice(SPANS_PER_TURN);
    if (this.queueHead < this.queue.length && !this.drainScheduled) {
      this.drainScheduled = true;
      setImmediate(() => this.drain());
    }
  }

  private processSlice(budget: number): void {
    let done = 0;
    this.sliceNowMs = this.clock.advance();
    while (this.queueHead < this.queue.length && done < budget) {
      const batch = this.queue[this.queueHead];
      this.queue[this.queueHead++] = EMPTY_BATCH;
      const before = this.read();
      let decodeFailed = false;
      // A batch that names no senders (spanBatchOf) is no one's duplicate, and of no version.
      this.shadowed = false;
      this.senderVersion = undefined;
      this.sender = undefined;
      try {
        batch.forEach(this.visit, this.onSender);
      } catch {
        decodeFailed = true;
      }
      this.processChunk();
      // A body that passed the receiver's check but failed to decode (a bug): its unread spans are lost.
      if (decodeFailed) this.stats.spansFailed += batch.size - (this.read() - before);
      done += batch.size;
      this.stats.pendingSpans -= batch.size;
    }
    if (this.queueHead === this.queue.length) {
      this.queue.length = 0;
      this.queueHead = 0;
    } else if (this.queueHead > 1024) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
  }

  /** Spans the pipeline has read so far, whatever became of them. */
  private read(): number {
    const stats = this.stats;
    return stats.spansProcessed + stats.spansFailed + stats.spansInvalid + stats.spansSetAside;
  }

  private classifyOne(span: DecodedSpan): void {
    // An unset start (0), an end before the start or a span longer than a week: such times would set
    // every mean, maximum and share of time they reach, so the span is counted and left out.
    if (!(span.durationMs >= 0 && span.durationMs <= MAX_SPAN_MS && span.startMs > 0)) {
      this.stats.spansInvalid++;
      return;
    }
    let classified: ClassifiedSpan;
    try {
      classified = this.classifier.classify(span);
    } catch {
      // A span the stages cannot handle is a bug, but it must not take the batch or the process with it.
      this.stats.spansFailed++;
      return;
    }
    if (this.shadowed && tracedByPreload(classified, span.name)) {
      this.stats.spansSetAside++;
      this.doubleTracing.setAside(classified.service);
      return;
    }
    if (classified.type === 'request') classified.version = this.senderVersion;
    else if (classified.type === 'cache' && (span.redirected === true || this.redisRetries.size > 0)) {
      const statement =
        stringAttr(span.attributes, ATTR.dbStatement) ?? `${classified.command} ${classified.namespace}`;
      const redirected = span.redirected === true;
      if (!this.redisRetries.counts(classified, statement, redirected, this.sender, this.sliceNowMs))
        classified = asOther(classified);
    }
    this.chunk.push(classified);
    if (this.chunk.length === CHUNK_SPANS) this.processChunk();
  }

  /** A summary emitted outside a chunk (the assembler's sweep): every sink, then the deploy tracker. */
  private recordSummary(summary: RequestSummary): void {
    for (const sink of this.sinks) sink.recordRequest(summary);
    this.options.versions?.recordRequest(summary);
  }

  /** Runs the chunk's spans through each sink, then the assembler, then records the summaries it emitted. */
  private processChunk(): void {
    const chunk = this.chunk;
    const n = chunk.length;
    if (n === 0) return;
    const failed = this.chunkFailed;
    failed.fill(0, 0, n);
    this.nestedDbCalls.unwrap(chunk, n);
    const renames = this.renames;
    if (renames !== undefined && renames.size > 0) {
      for (let i = 0; i < n; i++) {
        const span = chunk[i];
        if (span.type === 'cache') renames.apply(span);
      }
      renames.clear();
    }
    for (const sink of this.sinks) {
      for (let i = 0; i < n; i++) {
        const span = chunk[i];
        try {
          switch (span.type) {
            case 'db':
              sink.recordDbCall(span);
              break;
            case 'cache':
              sink.recordCacheCall(span);
              break;
            case 'pool-connect':
              sink.recordPoolConnect(span);
              break;
            case 'pool-usage':
              sink.recordPoolUsage(span);
              break;
            case 'request':
              if (span.senderLoss !== undefined) sink.recordSenderLoss?.(span.service, span.senderLoss);
              break;
          }
        } catch {
          failed[i] = 1;
        }
      }
    }
    const nowMs = this.sliceNowMs;
    this.inChunk = true;
    try {
      for (let i = 0; i < n; i++) {
        try {
          this.assembler.add(chunk[i], nowMs);
        } catch {
          failed[i] = 1;
        }
      }
    } finally {
      this.inChunk = false;
    }
    chunk.length = 0;
    let failures = 0;
    for (let i = 0; i < n; i++) failures += failed[i];
    this.stats.spansProcessed += n - failures;
    this.stats.spansFailed += failures;
    const summaries = this.summaries;
    for (const sink of this.sinks) {
      for (const summary of summaries) {
        try {
          sink.recordRequest(summary);
        } catch {
          // As for a span: a bug, kept from the rest of the chunk.
        }
      }
    }
    const versions = this.options.versions;
    if (versions !== undefined) {
      for (const summary of summaries) {
        try {
          versions.recordRequest(summary);
        } catch {
          // As above.
        }
      }
    }
    summaries.length = 0;
  }
}
