/**
 * Span batching with a hard memory bound and no hold on the process.
 *
 * Same contract as the SDK's BatchSpanProcessor (OTEL_BSP_* semantics: queue, batch size,
 * schedule delay; spans beyond the queue are dropped and counted), minus what made it unsuitable
 * for a preload: its per-export timeout timer is ref'd (an export in flight kept the process
 * alive), and a full batch was encoded inside the `span.end()` that filled it. Here the timer is
 * unref'd, a full batch is exported from a separate macrotask, and exports never overlap.
 */
import { type Context, context, ROOT_CONTEXT } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';

export interface BatchOptions {
  maxQueueSize: number;
  maxExportBatchSize: number;
  scheduledDelayMs: number;
}

const SAMPLED = 1;

export class BoundedBatchSpanProcessor implements SpanProcessor {
  /** Spans refused because the queue was full. */
  droppedSpans = 0;
  private queue: ReadableSpan[] = [];
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private exporting: Promise<void> | undefined;
  private isShutdown = false;

  constructor(
    private readonly exporter: SpanExporter & { isPaused?(): boolean },
    private readonly options: BatchOptions,
    /** Context exports run in (the preload passes one with tracing suppressed). */
    private readonly exportContext: Context = ROOT_CONTEXT,
  ) {}

  onStart(_span: Span, _parent: Context): void {}

  onEnd(span: ReadableSpan): void {
    if (this.isShutdown || (span.spanContext().traceFlags & SAMPLED) === 0) return;
    if (this.queue.length >= this.options.maxQueueSize) {
      this.droppedSpans++;
      return;
    }
    this.queue.push(span);
    // A running export looks at the queue again when it finishes.
    if (this.exporting === undefined) this.schedule();
  }

  /** True while spans wait in the queue or an export is in flight. */
  hasPending(): boolean {
    return this.queue.length > 0 || this.exporting !== undefined;
  }

  queuedSpans(): number {
    return this.queue.length;
  }

  async forceFlush(): Promise<void> {
    for (let rounds = 0; rounds < 1_000; rounds++) {
      if (this.exporting) await this.exporting;
      else if (this.queue.length > 0) await this.exportBatch();
      else return;
    }
  }

  async shutdown(): Promise<void> {
    if (this.isShutdown) return;
    this.isShutdown = true;
    this.clearTimers();
    await this.forceFlush();
    await this.exporter.shutdown();
  }

  private schedule(): void {
    if (this.queue.length >= this.options.maxExportBatchSize) {
      if (this.immediate === undefined) {
        this.immediate = setImmediate(() => {
          this.immediate = undefined;
          if (this.exporting === undefined) void this.exportBatch();
        });
        this.immediate.unref();
      }
      return;
    }
    if (this.timer === undefined && this.queue.length > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        if (this.exporting === undefined) void this.exportBatch();
      }, this.options.scheduledDelayMs);
      this.timer.unref();
    }
  }

  private exportBatch(): Promise<void> {
    this.clearTimers();
    const size = this.options.maxExportBatchSize;
    let batch: ReadableSpan[];
    if (this.queue.length <= size) {
      batch = this.queue;
      this.queue = [];
    } else {
      batch = this.queue.splice(0, size);
    }
    const exported = new Promise<void>((resolve) => {
      try {
        context.with(this.exportContext, () => this.exporter.export(batch, () => resolve()));
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
