import { describe, expect, it } from 'vitest';
import type { SpanClassifier } from '../../src/classify/classify-span';
import type {
  CacheCall,
  ClassifiedSpan,
  DbCall,
  PoolConnect,
  PoolUsageSample,
  RequestSpan,
  SenderLoss,
} from '../../src/model/classified';
import type { RequestSummary } from '../../src/model/request-summary';
import {
  type DecodedSpan,
  type SpanBatch,
  SpanKind,
  type SpanSender,
  spanBatchOf,
} from '../../src/model/span';
import { Pipeline, type VersionObserver } from '../../src/pipeline/pipeline';
import { SliceClock } from '../../src/pipeline/slice-clock';
import type { SpanSink } from '../../src/pipeline/span-sink';
import { cacheCall, dbCall, poolConnect, poolUsage } from '../fixtures/classified';

/** A span whose name says what the fake classifier makes of it: `db`, `cache`, `pool`, `request`, `bad`. */
function span(name: string, traceId: string, spanId: string, parentSpanId = ''): DecodedSpan {
  return {
    service: 'svc',
    traceId,
    spanId,
    parentSpanId,
    name,
    kind: name === 'request' ? SpanKind.SERVER : SpanKind.CLIENT,
    startMs: 1_000,
    durationMs: 2,
    statusCode: 0,
    attributes: {},
  };
}

/** Classifies by span name; `descendants` of a request is the number of spans named in its trace before it. */
class FakeClassifier {
  private readonly seen = new Map<string, number>();

  classify(s: DecodedSpan): ClassifiedSpan {
    const ids = {
      service: s.service,
      traceId: s.traceId,
      spanId: s.spanId,
      parentSpanId: s.parentSpanId,
      startMs: s.startMs,
      durationMs: s.durationMs,
    };
    if (s.name === 'bad') throw new Error('cannot classify');
    const before = this.seen.get(s.traceId) ?? 0;
    this.seen.set(s.traceId, before + 1);
    switch (s.name) {
      case 'db':
        return dbCall(ids);
      case 'db-around-driver':
        return dbCall({ ...ids, aroundDriver: true });
      case 'db-other-statement':
        return dbCall({
          ...ids,
          fingerprint: 'fp-other',
          statement: 'SELECT * FROM orders WHERE id = $1',
          aroundDriver: true,
        });
      case 'cache':
        return cacheCall(ids);
      case 'pool':
        return poolConnect(ids);
      case 'pool-usage':
        return poolUsage(ids);
      case 'request':
        return {
          ...ids,
          error: false,
          type: 'request',
          method: 'GET',
          route: '/r',
          status: 200,
          descendants: before,
          senderLoss:
            typeof s.attributes.lost === 'number'
              ? { instance: 'p1', lostSpans: s.attributes.lost }
              : undefined,
        };
      default:
        return { ...ids, error: false, type: 'other' };
    }
  }
}

/** Records what it is given, in order; throws for the span ids in `failOn`. */
class RecordingSink implements SpanSink {
  readonly calls: string[] = [];
  readonly summaries: RequestSummary[] = [];
  constructor(private readonly failOn: ReadonlySet<string> = new Set()) {}
  private record(kind: string, c: DbCall | CacheCall | PoolConnect | PoolUsageSample): void {
    if (this.failOn.has(c.spanId)) throw new Error(`sink fails on ${c.spanId}`);
    this.calls.push(`${kind}:${c.spanId}`);
  }
  recordDbCall(c: DbCall): void {
    this.record('db', c);
  }
  recordCacheCall(c: CacheCall): void {
    this.record('cache', c);
  }
  recordPoolConnect(c: PoolConnect): void {
    this.record('pool', c);
  }
  recordPoolUsage(c: PoolUsageSample): void {
    this.record('pool-usage', c);
  }
  recordRequest(summary: RequestSummary): void {
    this.calls.push(`request:${summary.traceId}`);
    this.summaries.push(summary);
  }
  recordSenderLoss(service: string, loss: SenderLoss): void {
    this.calls.push(`lost:${service}:${loss.instance}:${loss.lostSpans}`);
  }
}

function pipelineWith(sinks: SpanSink[], versions?: VersionObserver): Pipeline {
  return new Pipeline(
    {
      maxPendingSpans: 100_000,
      assembly: { idleMs: 60_000, maxOpenTraces: 10_000, maxSpansPerTrace: 1_000 },
      versions,
    },
    new FakeClassifier() as unknown as SpanClassifier,
    sinks,
    new SliceClock(() => 1_000),
  );
}

/** A trace of `leaves` DB spans followed by its request span, which declares them. */
function trace(t: number, leaves: number): DecodedSpan[] {
  const traceId = `t${t}`;
  const requestId = `${traceId}-req`;
  const spans = Array.from({ length: leaves }, (_, i) => span('db', traceId, `${traceId}-db${i}`, requestId));
  spans.push(span('request', traceId, requestId));
  return spans;
}

describe('Pipeline', () => {
  it('sets aside, per resource, another SDK’s copies from a process the preload sends from', () => {
    const sink = new RecordingSink();
    const pipeline = pipelineWith([sink]);
    const preload: SpanSender = {
      service: 'svc',
      preload: true,
      hostName: 'h',
      pid: 1,
      instanceId: undefined,
      version: undefined,
    };
    const sdk: SpanSender = { ...preload, preload: false };
    const other: SpanSender = { ...sdk, pid: 2 };
    const batch = (groups: [SpanSender, DecodedSpan[]][]): SpanBatch => ({
      size: groups.reduce((n, [, spans]) => n + spans.length, 0),
      forEach(visit, onSender) {
        for (const [sender, spans] of groups) {
          onSender?.(sender);
          for (const s of spans) visit(s);
        }
      },
    });
    pipeline.enqueue(batch([[preload, [span('db', 't1', 'p1')]]]));
    // One body: the SDK's resource of that process, then another process's.
    pipeline.enqueue(
      batch([
        [sdk, [span('db', 't2', 's1'), span('cache', 't2', 's2'), span('other', 't2', 's3')]],
        [other, [span('db', 't3', 'o1')]],
      ]),
    );
    // A batch that names no senders (built from spans alone) counts as it is, after a shadowed one.
    pipeline.enqueue(batch([[sdk, [span('db', 't4', 's4')]]]));
    pipeline.enqueue(spanBatchOf([span('db', 't5', 'h1')]));
    pipeline.drainAll();
    expect(sink.calls.filter((c) => !c.startsWith('request'))).toEqual(['db:p1', 'db:o1', 'db:h1']);
    expect(pipeline.stats).toMatchObject({ spansSetAside: 3, spansProcessed: 4, spansFailed: 0 });
    expect(pipeline.doubleTracing.byService()).toEqual({ svc: { processes: 1, spansSetAside: 3 } });
  });

  it("tells the version observer each resource's service.version once, and stamps it on that resource's requests", () => {
    const seen: string[] = [];
    const summaries: RequestSummary[] = [];
    const pipeline = pipelineWith([new RecordingSink()], {
      versionSeen: (service, version, nowMs) => seen.push(`${service}@${version}@${nowMs}`),
      recordRequest: (s) => summaries.push(s),
    });
    const sender = (version: string | undefined): SpanSender => ({
      service: 'svc',
      preload: true,
      hostName: 'h',
      pid: 1,
      instanceId: undefined,
      version,
    });
    const batch = (groups: [SpanSender, DecodedSpan[]][]): SpanBatch => ({
      size: groups.reduce((n, [, spans]) => n + spans.length, 0),
      forEach(visit, onSender) {
        for (const [s, spans] of groups) {
          onSender?.(s);
          for (const x of spans) visit(x);
        }
      },
    });
    pipeline.enqueue(
      batch([
        [sender('1.4.1'), trace(1, 2)],
        [sender('1.4.2'), [...trace(2, 1), ...trace(3, 0)]],
        [sender(undefined), trace(4, 1)],
      ]),
    );
    pipeline.enqueue(spanBatchOf(trace(5, 0)));
    pipeline.drainAll();
    expect(seen).toEqual(['svc@1.4.1@1000', 'svc@1.4.2@1000']);
    expect(summaries.map((s) => `${s.traceId}:${s.version}`)).toEqual([
      't1:1.4.1',
      't2:1.4.2',
      't3:1.4.2',
      't4:undefined',
      't5:undefined',
    ]);
  });

  it('gives every span of batches larger than its chunks to every sink once, in order, and summarises each request', () => {
    const sinks = [new RecordingSink(), new RecordingSink()];
    const pipeline = pipelineWith(sinks);
    const spans = Array.from({ length: 150 }, (_, t) => trace(t, 3)).flat(); // 600 spans
    pipeline.enqueue(spanBatchOf(spans.slice(0, 530)));
    pipeline.enqueue(spanBatchOf(spans.slice(530)));
    pipeline.drainAll();
    const expected = spans.filter((s) => s.name === 'db').map((s) => `db:${s.spanId}`);
    for (const sink of sinks) {
      expect(sink.calls.filter((c) => c.startsWith('db:'))).toEqual(expected);
      expect(sink.summaries).toHaveLength(150);
      // Each request summarised at once (all its declared spans were in) with its own three queries.
      expect(sink.summaries.every((s) => s.queries === 3)).toBe(true);
    }
    expect(pipeline.stats).toMatchObject({
      spansReceived: 600,
      spansProcessed: 600,
      spansFailed: 0,
      pendingSpans: 0,
      requestsSummarised: 150,
    });
  });

  it('gives pool usage samples to the sinks and keeps them out of every request', () => {
    const sink = new RecordingSink();
    const pipeline = pipelineWith([sink]);
    pipeline.enqueue(spanBatchOf([span('pool-usage', 'u1', 'u1-sample'), ...trace(1, 1)]));
    pipeline.drainAll();
    expect(sink.calls).toEqual(['pool-usage:u1-sample', 'db:t1-db0', 'request:t1']);
    expect(sink.summaries[0].queries).toBe(1);
    expect(pipeline.stats).toMatchObject({ spansProcessed: 3, spansFailed: 0, requestsSummarised: 1 });
  });

  it("counts an ORM's DB span around its driver's once (Prisma's db_query over pg.query), whichever arrives first", () => {
    const sink = new RecordingSink();
    const pipeline = pipelineWith([sink]);
    const pair = (t: string) => ({
      wrapper: span('db-around-driver', t, `${t}-prisma`, `${t}-req`),
      driver: span('db', t, `${t}-pg`, `${t}-prisma`),
      request: span('request', t, `${t}-req`),
    });
    const a = pair('a');
    const b = pair('b');
    const c = pair('c');
    pipeline.enqueue(spanBatchOf([a.wrapper, a.driver, a.request, b.driver, b.wrapper, b.request]));
    // Across bodies: the driver's span in one export, the wrapper's in the next.
    pipeline.enqueue(spanBatchOf([c.driver]));
    pipeline.enqueue(spanBatchOf([c.wrapper, c.request]));
    // OTLP groups a body's spans by instrumentation scope: all of Prisma's, then all of pg's, across chunks.
    const many = Array.from({ length: 200 }, (_, i) => pair(`m${i}`));
    pipeline.enqueue(
      spanBatchOf([
        ...many.map((p) => p.wrapper),
        ...many.map((p) => p.driver),
        ...many.map((p) => p.request),
      ]),
    );
    pipeline.drainAll();
    expect(sink.calls.filter((call) => call.startsWith('db:'))).toEqual([
      'db:a-prisma',
      'db:b-pg',
      'db:c-pg',
      ...many.map((p) => `db:${p.wrapper.spanId}`),
    ]);
    expect(sink.summaries).toHaveLength(203);
    expect(sink.summaries.every((summary) => summary.queries === 1)).toBe(true);
    expect(pipeline.stats).toMatchObject({ spansProcessed: 609, spansFailed: 0, requestsSummarised: 203 });
  });

  it("leaves nested DB spans of a service that sends no ORM span around its driver's unchecked", () => {
    const sink = new RecordingSink();
    const pipeline = pipelineWith([sink]);
    // Same statement, nested: without a span that says it wraps a driver's, both count (and no DB
    // call is remembered: that cost every sender 10% of its ingest rate).
    pipeline.enqueue(
      spanBatchOf([
        span('db', 't', 't-outer', 't-req'),
        span('db', 't', 't-inner', 't-outer'),
        span('request', 't', 't-req'),
      ]),
    );
    pipeline.drainAll();
    expect(sink.calls.filter((call) => call.startsWith('db:'))).toEqual(['db:t-outer', 'db:t-inner']);
  });

  it('keeps a DB span over other statements (a transaction, an ORM call sending several) and the calls beneath it', () => {
    const sink = new RecordingSink();
    const pipeline = pipelineWith([sink]);
    pipeline.enqueue(
      spanBatchOf([
        span('db-other-statement', 't', 't-outer', 't-req'),
        span('db', 't', 't-q1', 't-outer'),
        span('db', 't', 't-q2', 't-outer'),
        span('request', 't', 't-req'),
        span('db', 'u', 'u-q1', 'u-outer'),
        span('db-other-statement', 'u', 'u-outer', 'u-req'),
        span('request', 'u', 'u-req'),
      ]),
    );
    pipeline.drainAll();
    expect(sink.calls.filter((call) => call.startsWith('db:'))).toEqual([
      'db:t-outer',
      'db:t-q1',
      'db:t-q2',
      'db:u-q1',
      'db:u-outer',
    ]);
  });

  it('records a request summary after the span-level records of its chunk', () => {
    const sink = new RecordingSink();
    const pipeline = pipelineWith([sink]);
    pipeline.enqueue(spanBatchOf(trace(1, 2)));
    pipeline.drainAll();
    expect(sink.calls).toEqual(['db:t1-db0', 'db:t1-db1', 'request:t1']);
  });

  it("hands a request span's lost-span report to the sinks that keep one, and to no other", () => {
    const sink = new RecordingSink();
    const summariesOnly: SpanSink = {
      recordDbCall() {},
      recordCacheCall() {},
      recordPoolConnect() {},
      recordPoolUsage() {},
      recordRequest() {},
    };
    const pipeline = pipelineWith([summariesOnly, sink]);
    const spans = trace(1, 1);
    spans[1].attributes = { lost: 7 };
    pipeline.enqueue(spanBatchOf([...spans, ...trace(2, 0)]));
    pipeline.drainAll();
    expect(sink.calls).toEqual(['db:t1-db0', 'lost:svc:p1:7', 'request:t1', 'request:t2']);
    expect(pipeline.stats.spansFailed).toBe(0);
  });

  it('counts a span a sink throws on as failed and still processes the rest, in every sink', () => {
    const failing = new RecordingSink(new Set(['t2-db1']));
    const other = new RecordingSink();
    const pipeline = pipelineWith([failing, other]);
    pipeline.enqueue(spanBatchOf([1, 2, 3].flatMap((t) => trace(t, 2))));
    pipeline.drainAll();
    expect(failing.calls.filter((c) => c.startsWith('db:'))).toHaveLength(5);
    expect(other.calls.filter((c) => c.startsWith('db:'))).toHaveLength(6);
    expect(pipeline.stats.spansProcessed).toBe(8);
    expect(pipeline.stats.spansFailed).toBe(1);
  });

  it('counts a span the classifier throws on as failed and hands it to no stage', () => {
    const sink = new RecordingSink();
    const pipeline = pipelineWith([sink]);
    pipeline.enqueue(spanBatchOf([span('db', 'a', 'a1'), span('bad', 'a', 'a2'), span('cache', 'a', 'a3')]));
    pipeline.drainAll();
    expect(sink.calls).toEqual(['db:a1', 'cache:a3']);
    expect(pipeline.stats).toMatchObject({ spansProcessed: 2, spansFailed: 1, pendingSpans: 0 });
  });

  it('processes the spans a batch yielded before its decode failed and counts the rest as failed', () => {
    const sink = new RecordingSink();
    const pipeline = pipelineWith([sink]);
    const good = Array.from({ length: 300 }, (_, i) => span('db', 'x', `x${i}`, 'p'));
    const breaking: SpanBatch = {
      size: 400,
      forEach(visit) {
        for (const s of good) visit(s);
        throw new Error('truncated body');
      },
    };
    pipeline.enqueue(breaking);
    pipeline.drainAll();
    // 256 went through in a full chunk, the other 44 in the chunk the failure left unprocessed.
    expect(sink.calls).toHaveLength(300);
    expect(pipeline.stats).toMatchObject({ spansProcessed: 300, spansFailed: 100, pendingSpans: 0 });
  });

  it('counts spans whose times no span has (unset start, end before start, over a week) and leaves them out', () => {
    const sink = new RecordingSink();
    const pipeline = pipelineWith([sink]);
    const odd = [
      { ...span('db', 'o', 'unset'), startMs: 0 },
      { ...span('db', 'o', 'backwards'), durationMs: -5 },
      { ...span('db', 'o', 'decades'), durationMs: 56 * 365 * 24 * 3600 * 1000 },
      { ...span('db', 'o', 'nan'), durationMs: Number.NaN },
    ];
    pipeline.enqueue(spanBatchOf([...odd, span('db', 'o', 'fine')]));
    pipeline.drainAll();
    expect(sink.calls).toEqual(['db:fine']);
    expect(pipeline.stats).toMatchObject({
      spansProcessed: 1,
      spansInvalid: 4,
      spansFailed: 0,
      pendingSpans: 0,
    });
  });

  it('records summaries the assembler emits outside a chunk (sweep, flush) at once', () => {
    const sink = new RecordingSink();
    const pipeline = pipelineWith([sink]);
    // A request that declares no descendants waits for its grace period.
    const undeclared: RequestSpan = {
      type: 'request',
      service: 'svc',
      traceId: 'u',
      spanId: 'u-req',
      parentSpanId: '',
      startMs: 1_000,
      durationMs: 5,
      error: false,
      method: 'GET',
      route: '/u',
      status: 200,
      descendants: -1,
      senderLoss: undefined,
    };
    pipeline.assembler.add(undeclared, 1_000);
    expect(sink.summaries).toHaveLength(0);
    pipeline.assembler.flush();
    expect(sink.calls).toEqual(['request:u']);
    expect(pipeline.stats.requestsSummarised).toBe(1);
  });
});
