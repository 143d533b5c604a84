import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { BoundedBatchSpanProcessor } from '../../src/preload/batch-processor';

function span(attributes: Record<string, unknown> = {}, sampled = true): ReadableSpan {
  return { spanContext: () => ({ traceFlags: sampled ? 1 : 0 }), attributes } as unknown as ReadableSpan;
}

/** Records batches; answers each export when `release()` is called (or at once with `auto`). */
class FakeExporter implements SpanExporter {
  batches: ReadableSpan[][] = [];
  inFlight = 0;
  maxInFlight = 0;
  private pending: Array<(r: ExportResult) => void> = [];
  constructor(private readonly auto = true) {}
  export(spans: ReadableSpan[], done: (r: ExportResult) => void): void {
    this.batches.push(spans);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const finish = (r: ExportResult) => {
      this.inFlight--;
      done(r);
    };
    if (this.auto) queueMicrotask(() => finish({ code: 0 }));
    else this.pending.push(finish);
  }
  release(): void {
    for (const finish of this.pending.splice(0)) finish({ code: 1 });
  }
  async shutdown(): Promise<void> {}
}

const nextMacrotask = () => new Promise((resolve) => setImmediate(resolve));
const options = { maxQueueSize: 10, maxExportBatchSize: 4, scheduledDelayMs: 60_000 };

describe('the bounded batch span processor', () => {
  it('drops spans beyond the queue size and counts them', () => {
    const exporter = new FakeExporter(false);
    const processor = new BoundedBatchSpanProcessor(exporter, { ...options, maxExportBatchSize: 10 });
    for (let i = 0; i < 15; i++) processor.onEnd(span());
    expect(processor.queuedSpans()).toBe(10);
    expect(processor.droppedSpans).toBe(5);
  });

  it('exports a full batch without waiting for the schedule delay', async () => {
    const exporter = new FakeExporter();
    const processor = new BoundedBatchSpanProcessor(exporter, options);
    for (let i = 0; i < 4; i++) processor.onEnd(span());
    expect(exporter.batches).toHaveLength(0);
    await nextMacrotask();
    expect(exporter.batches.map((b) => b.length)).toEqual([4]);
  });

  it('flushes everything in batches, one export at a time', async () => {
    const exporter = new FakeExporter();
    const processor = new BoundedBatchSpanProcessor(exporter, options);
    for (let i = 0; i < 10; i++) processor.onEnd(span());
    await processor.forceFlush();
    expect(exporter.batches.map((b) => b.length)).toEqual([4, 4, 2]);
    expect(exporter.maxInFlight).toBe(1);
    expect(processor.hasPending()).toBe(false);
  });

  it('reports pending work while an export is in flight', async () => {
    const exporter = new FakeExporter(false);
    const processor = new BoundedBatchSpanProcessor(exporter, options);
    for (let i = 0; i < 4; i++) processor.onEnd(span());
    await nextMacrotask();
    expect(processor.queuedSpans()).toBe(0);
    expect(processor.hasPending()).toBe(true);
    exporter.release();
    await nextMacrotask();
    expect(processor.hasPending()).toBe(false);
  });

  it('ignores spans that were not sampled', () => {
    const processor = new BoundedBatchSpanProcessor(new FakeExporter(), options);
    processor.onEnd(span({}, false));
    expect(processor.queuedSpans()).toBe(0);
  });

  it('survives an exporter that throws', async () => {
    const throwing: SpanExporter = {
      export: () => {
        throw new Error('boom');
      },
      shutdown: async () => {},
    };
    const processor = new BoundedBatchSpanProcessor(throwing, options);
    processor.onEnd(span());
    await expect(processor.forceFlush()).resolves.toBeUndefined();
    expect(processor.hasPending()).toBe(false);
  });

  it('accepts no spans after shutdown', async () => {
    const exporter = new FakeExporter();
    const processor = new BoundedBatchSpanProcessor(exporter, options);
    processor.onEnd(span());
    await processor.shutdown();
    processor.onEnd(span());
    expect(exporter.batches.map((b) => b.length)).toEqual([1]);
    expect(processor.queuedSpans()).toBe(0);
  });
});
