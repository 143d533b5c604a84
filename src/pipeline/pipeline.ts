import type { SpanClassifier } from '../classify/classify-span';
import type { DecodedSpan, SpanBatch } from '../model/span';
import { type AssemblerOptions, RequestAssembler } from '../traces/request-assembler';
import type { SliceClock } from './slice-clock';
import type { SpanSink } from './span-sink';

export interface PipelineOptions {
  /** Spans accepted but not yet processed; above it the receiver refuses with 503 + Retry-After. */
  maxPendingSpans: number;
  assembly: AssemblerOptions;
}

export interface PipelineStats {
  spansReceived: number;
  spansProcessed: number;
  spansFailed: number;
  pendingSpans: number;
  requestsSummarised: number;
}

/**
 * Spans processed per turn of the event loop before yielding, so the API and the receiver keep answering
 * while a large backlog drains.
 */
const SPANS_PER_TURN = 4096;
const EMPTY_BATCH: SpanBatch = { size: 0, forEach() {} };

/**
 * decode → classify → (aggregate span-level ∥ assemble per request → aggregate request-level).
 * The receiver enqueues checked batches (a protobuf body stays wire bytes until here); processing, and
 * decoding span by span, happens off the request path in bounded slices.
 */
export class Pipeline {
  readonly stats: PipelineStats = {
    spansReceived: 0,
    spansProcessed: 0,
    spansFailed: 0,
    pendingSpans: 0,
    requestsSummarised: 0,
  };
  private readonly queue: SpanBatch[] = [];
  /** The clock of the slice being processed, read by `visit`. */
  private sliceNowMs = 0;
  /** processOne bound once: a batch calls it per span while it decodes. */
  private readonly visit = (span: DecodedSpan): void => this.processOne(span, this.sliceNowMs);
  private queueHead = 0;
  private drainScheduled = false;
  private sweepTimer: NodeJS.Timeout | undefined;
  readonly assembler: RequestAssembler;

  constructor(
    private readonly options: PipelineOptions,
    private readonly classifier: SpanClassifier,
    private readonly sinks: readonly SpanSink[],
    private readonly clock: SliceClock,
  ) {
    this.assembler = new RequestAssembler(options.assembly, (summary) => {
      this.stats.requestsSummarised++;
      for (const sink of this.sinks) sink.recordRequest(summary);
    });
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
      const before = this.stats.spansProcessed + this.stats.spansFailed;
      try {
        batch.forEach(this.visit);
      } catch {
        // A body that passed the receiver's check but failed to decode (a bug): its unread spans are lost.
        this.stats.spansFailed += batch.size - (this.stats.spansProcessed + this.stats.spansFailed - before);
      }
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

  private processOne(span: DecodedSpan, nowMs: number): void {
    try {
      const classified = this.classifier.classify(span);
      switch (classified.type) {
        case 'db':
          for (const sink of this.sinks) sink.recordDbCall(classified);
          break;
        case 'cache':
          for (const sink of this.sinks) sink.recordCacheCall(classified);
          break;
        case 'pool-connect':
          for (const sink of this.sinks) sink.recordPoolConnect(classified);
          break;
      }
      this.assembler.add(classified, nowMs);
      this.stats.spansProcessed++;
    } catch {
      // A span the stages cannot handle is a bug, but it must not take the batch or the process with it.
      this.stats.spansFailed++;
    }
  }
}
