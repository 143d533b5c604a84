import { SpanKind } from '@opentelemetry/api';
import type { ExportResult } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { BoundedBatchSpanProcessor, type EncodedSpanExporter } from '../../src/preload/batch-processor';
import { LeanTracerProvider } from '../../src/preload/lean-tracer';
import { decodeTracesProtobuf } from '../../src/receiver/decode-protobuf';

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

/** Records encoded bodies; can be paused like the OTLP exporter after a refusal. */
class FakeEncodedExporter implements EncodedSpanExporter {
  readonly encoding = 'protobuf' as const;
  bodies: { names: string[]; spans: number }[] = [];
  paused = false;
  export(): void {
    throw new Error('the processor must send encoded bodies');
  }
  exportEncoded(body: Uint8Array, spans: number, done: (r: ExportResult) => void): void {
    this.bodies.push({ names: decodeTracesProtobuf(body).map((s) => s.name), spans });
    queueMicrotask(() => done({ code: 0 }));
  }
  isPaused(): boolean {
    return this.paused;
  }
  async shutdown(): Promise<void> {}
}

describe('the bounded batch span processor with an encoding exporter', () => {
  const tracerFor = (processor: BoundedBatchSpanProcessor) =>
    new LeanTracerProvider(resourceFromAttributes({ 'service.name': 'enc' }), processor).getTracer('t');

  it('encodes spans as they end and sends them in order, in batches of the export size', async () => {
    const exporter = new FakeEncodedExporter();
    const processor = new BoundedBatchSpanProcessor(exporter, options);
    const tracer = tracerFor(processor);
    for (let i = 0; i < 10; i++) tracer.startSpan(`s${i}`, { kind: SpanKind.CLIENT }).end();
    expect(processor.queuedSpans()).toBe(10);
    await processor.forceFlush();
    expect(exporter.bodies).toEqual([
      { names: ['s0', 's1', 's2', 's3'], spans: 4 },
      { names: ['s4', 's5', 's6', 's7'], spans: 4 },
      { names: ['s8', 's9'], spans: 2 },
    ]);
    expect(processor.hasPending()).toBe(false);
  });

  it('drops spans unencoded while the exporter is paused, and beyond the queue size', async () => {
    const exporter = new FakeEncodedExporter();
    const processor = new BoundedBatchSpanProcessor(exporter, { ...options, maxExportBatchSize: 10 });
    const tracer = tracerFor(processor);
    exporter.paused = true;
    for (let i = 0; i < 3; i++) tracer.startSpan('paused').end();
    expect(processor.queuedSpans()).toBe(0);
    exporter.paused = false;
    for (let i = 0; i < 12; i++) tracer.startSpan(`s${i}`).end();
    expect(processor.queuedSpans()).toBe(10);
    expect(processor.droppedSpans).toBe(5);
    await processor.forceFlush();
    expect(exporter.bodies.map((b) => b.spans)).toEqual([10]);
  });

  it('loses a span it cannot encode without throwing into the app or corrupting the batch', async () => {
    const exporter = new FakeEncodedExporter();
    const processor = new BoundedBatchSpanProcessor(exporter, options);
    const tracer = tracerFor(processor);
    tracer.startSpan('before').end();
    const bad = tracer.startSpan('bad');
    // A map-like value whose entry throws when read stands for any attribute value the encoder cannot write.
    const unreadable = Object.defineProperty({}, 'x', {
      enumerable: true,
      get() {
        throw new Error('unreadable');
      },
    });
    bad.setAttribute('boom', unreadable as unknown as string);
    expect(() => bad.end()).not.toThrow();
    tracer.startSpan('after').end();
    await processor.forceFlush();
    expect(exporter.bodies.flatMap((b) => b.names)).toEqual(['before', 'after']);
    expect(processor.unencodableSpans).toBe(1);
  });
});
