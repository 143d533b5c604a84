/**
 * Span batching with a hard memory bound and no hold on the process.
 *
 * Same contract as the SDK's BatchSpanProcessor (OTEL_BSP_* semantics: queue, batch size,
 * schedule delay; spans beyond the queue are dropped and counted), minus what made it unsuitable
 * for a preload: its per-export timeout timer is ref'd (an export in flight kept the process
 * alive), and a full batch was encoded inside the `span.end()` that filled it. Here the timer is
 * unref'd, a full batch is exported from a separate macrotask, and exports never overlap.
 *
 * With an exporter that sends protobuf bodies (`exportEncoded`), spans are encoded as they end
 * (TraceRequestEncoder) and wait as bytes, one encoder per export-sized batch; while the exporter
 * is paused (the sidecar refused or is down) ended spans are dropped before any encoding.
 */
import { type Context, context, ROOT_CONTEXT } from '@opentelemetry/api';
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, Span, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { TraceRequestEncoder } from './otlp-encode';
import { preloadContext } from './preload-context';

export interface BatchOptions {
  maxQueueSize: number;
  maxExportBatchSize: number;
  scheduledDelayMs: number;
}

const SAMPLED = 1;

/** An exporter that can send a body encoded already (OtlpHttpExporter with protobuf). */
export interface EncodedSpanExporter extends SpanExporter {
  /** 'json': bodies are built by the official JSON serializer, so spans wait as objects. */
  readonly encoding: 'protobuf' | 'json';
  exportEncoded(body: Uint8Array, spans: number, done: (result: ExportResult) => void): void;
  /** True while exports would be dropped unsent; checked per span, so it must be cheap. */
  isPaused(): boolean;
}

function encodes(exporter: SpanExporter): exporter is EncodedSpanExporter {
  const candidate = exporter as Partial<EncodedSpanExporter>;
  return candidate.encoding === 'protobuf' && typeof candidate.exportEncoded === 'function';
}

/** Every span still queued, taken for the exit export: bodies encoded already, or span objects. */
export interface QueuedSpans {
  encoded: Uint8Array[];
  spans: ReadableSpan[];
  count: number;
}

/** An exporter that can send what is queued synchronously, as the process exits (exit-flush.ts). */
export interface ExitExporter {
  exportOnExit(queued: QueuedSpans, timeoutMs: number): void;
}

function exportsOnExit(exporter: SpanExporter): exporter is SpanExporter & ExitExporter {
  return typeof (exporter as Partial<ExitExporter>).exportOnExit === 'function';
}

/** Where ended spans wait: as objects for a plain SpanExporter, as bytes for an encoding one. */
interface SpanQueue {
  readonly size: number;
  add(span: ReadableSpan): void;
  /** Hands the oldest batch (at most the export batch size) to the exporter; `done` runs once it is settled. */
  exportNext(done: () => void): void;
  /** Empties the queue, handing back everything in it. */
  takeAll(): QueuedSpans;
}

class ObjectQueue implements SpanQueue {
  private spans: ReadableSpan[] = [];

  constructor(
    private readonly exporter: SpanExporter,
    private readonly batchSpans: number,
  ) {}

  get size(): number {
    return this.spans.length;
  }

  add(span: ReadableSpan): void {
    this.spans.push(span);
  }

  exportNext(done: () => void): void {
    let batch: ReadableSpan[];
    if (this.spans.length <= this.batchSpans) {
      batch = this.spans;
      this.spans = [];
    } else {
      batch = this.spans.splice(0, this.batchSpans);
    }
    this.exporter.export(batch, () => done());
  }

  takeAll(): QueuedSpans {
    const spans = this.spans;
    this.spans = [];
    return { encoded: [], spans, count: spans.length };
  }
}

class EncodedQueue implements SpanQueue {
  /** Oldest first; the last one is still being filled. */
  private readonly batches: TraceRequestEncoder[] = [];
  size = 0;

  constructor(
    private readonly exporter: EncodedSpanExporter,
    private readonly batchSpans: number,
  ) {}

  add(span: ReadableSpan): void {
    let open = this.batches[this.batches.length - 1];
    if (open === undefined || open.spans >= this.batchSpans) {
      open = new TraceRequestEncoder();
      this.batches.push(open);
    }
    open.add(span);
    this.size++;
  }

  exportNext(done: () => void): void {
    const oldest = this.batches.shift();
    if (oldest === undefined) {
      done();
      return;
    }
    const spans = oldest.spans;
    this.size -= spans;
    this.exporter.exportEncoded(oldest.finish(), spans, () => done());
  }

  takeAll(): QueuedSpans {
    const encoded = this.batches.splice(0).map((batch) => batch.finish());
    const count = this.size;
    this.size = 0;
    return { encoded, spans: [], count };
  }
}

export class BoundedBatchSpanProcessor implements SpanProcessor {
  /** Spans refused because the queue was full (or, encoding, because the exporter was paused). */
  droppedSpans = 0;
  /** Spans the encoder could not encode (an attribute value it cannot write): lost, never thrown. */
  unencodableSpans = 0;
  private readonly queue: SpanQueue;
  private readonly pausable: EncodedSpanExporter | undefined;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private exporting: Promise<void> | undefined;
  private isShutdown = false;

  constructor(
    private readonly exporter: SpanExporter,
    private readonly options: BatchOptions,
    /** Context exports run in (the preload passes one with tracing suppressed). */
    private readonly exportContext: Context = ROOT_CONTEXT,
  ) {
    if (encodes(exporter)) {
      this.queue = new EncodedQueue(exporter, options.maxExportBatchSize);
      this.pausable = exporter;
    } else {
      this.queue = new ObjectQueue(exporter, options.maxExportBatchSize);
    }
  }

  onStart(_span: Span, _parent: Context): void {}

  onEnd(span: ReadableSpan): void {
    if (this.isShutdown || (span.spanContext().traceFlags & SAMPLED) === 0) return;
    if (this.queue.size >= this.options.maxQueueSize || this.pausable?.isPaused()) {
      this.droppedSpans++;
      return;
    }
    try {
      this.queue.add(span);
    } catch {
      this.unencodableSpans++;
      return;
    }
    // A running export looks at the queue again when it finishes.
    if (this.exporting === undefined) this.schedule();
  }

  /** True while spans wait in the queue or an export is in flight. */
  hasPending(): boolean {
    return this.queue.size > 0 || this.exporting !== undefined;
  }

  queuedSpans(): number {
    return this.queue.size;
  }

  async forceFlush(): Promise<void> {
    for (let rounds = 0; rounds < 1_000; rounds++) {
      if (this.exporting) await this.exporting;
      else if (this.queue.size > 0) await this.exportBatch();
      else return;
    }
  }

  /**
   * The process is exiting (`exit` event): sends what is queued now, blocking up to `timeoutMs`, when
   * the exporter can (ExitExporter). An export in flight is not waited for.
   */
  flushOnExit(timeoutMs: number): void {
    if (this.isShutdown || this.queue.size === 0 || !exportsOnExit(this.exporter)) return;
    this.clearTimers();
    this.exporter.exportOnExit(this.queue.takeAll(), timeoutMs);
  }

  async shutdown(): Promise<void> {
    if (this.isShutdown) return;
    this.isShutdown = true;
    this.clearTimers();
    await this.forceFlush();
    await this.exporter.shutdown();
  }

  private schedule(): void {
    if (this.queue.size >= this.options.maxExportBatchSize) {
      if (this.immediate === undefined) {
        this.immediate = setImmediate(() => {
          this.immediate = undefined;
          if (this.exporting === undefined) void this.exportBatch();
        });
        this.immediate.unref();
      }
      return;
    }
    if (this.timer === undefined && this.queue.size > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        if (this.exporting === undefined) void this.exportBatch();
      }, this.options.scheduledDelayMs);
      this.timer.unref();
    }
  }

  private exportBatch(): Promise<void> {
    this.clearTimers();
    const exported = new Promise<void>((resolve) => {
      try {
        // Suppressed in both contexts: the app's own OpenTelemetry SDK (the global one) must not trace
        // the export, and the export's sockets must not hold on to the request that triggered it.
        const exportNext = () => this.queue.exportNext(() => resolve());
        preloadContext.with(this.exportContext, () => context.with(this.exportContext, exportNext));
      } catch {
        // An exporter that throws loses this batch, never the app.
        resolve();
      }
    });
    const running = exported.then(() => {
      this.exporting = undefined;
      if (!this.isShutdown) this.schedule();
    });
    this.exporting = running;
    return running;
  }

  private clearTimers(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.immediate !== undefined) {
      clearImmediate(this.immediate);
      this.immediate = undefined;
    }
  }
}
