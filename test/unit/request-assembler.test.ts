import { describe, expect, it } from 'vitest';
import type { CacheCall, ClassifiedSpan, DbCall, OtherSpan, RequestSpan } from '../../src/model/classified';
import type { RequestSummary } from '../../src/model/request-summary';
import { RequestAssembler } from '../../src/traces/request-assembler';

const base = { service: 'shop', traceId: 't1', startMs: 0, error: false };

function request(spanId: string, parentSpanId = '', extra: Partial<RequestSpan> = {}): RequestSpan {
  return {
    ...base,
    type: 'request',
    spanId,
    parentSpanId,
    durationMs: 100,
    method: 'GET',
    route: '/r',
    status: 200,
    descendants: -1,
    senderLoss: undefined,
    ...extra,
  };
}
function db(spanId: string, parentSpanId: string, fingerprint = 'fp1', durationMs = 2): DbCall {
  const extra = { system: 'postgresql', statement: 'SELECT $1', operation: 'SELECT', table: 't' };
  return { ...base, type: 'db', spanId, parentSpanId, durationMs, fingerprint, ...extra };
}
function cache(spanId: string, parentSpanId: string, command = 'get'): CacheCall {
  const extra = { system: 'redis', namespace: 'user:*', read: true, write: false, hits: 1, misses: 0 };
  return { ...base, type: 'cache', spanId, parentSpanId, durationMs: 1, command, ...extra };
}
function other(spanId: string, parentSpanId: string): OtherSpan {
  return { ...base, type: 'other', spanId, parentSpanId, durationMs: 5 };
}

function collect(options = { idleMs: 1000, maxOpenTraces: 100, maxSpansPerTrace: 100 }) {
  const summaries: RequestSummary[] = [];
  const assembler = new RequestAssembler(options, (s) => summaries.push(s));
  return { summaries, assembler };
}

describe('RequestAssembler', () => {
  it('attributes DB and cache spans at any depth to their request', () => {
    const { summaries, assembler } = collect();
    // One call after another (overlapping calls count once in the time split: summarise-request.test.ts).
    const spans: ClassifiedSpan[] = [
      { ...db('d1', 'm2', 'fpA', 3), startMs: 0 },
      other('m2', 'm1'),
      { ...cache('c1', 'm1'), startMs: 3 },
      other('m1', 'r'),
      { ...db('d2', 'r', 'fpA', 4), startMs: 4 },
      { ...db('d3', 'r', 'fpB', 5), startMs: 8 },
      request('r'),
    ];
    for (const span of spans) assembler.add(span, 0);
    assembler.sweep(5000);
    expect(summaries).toHaveLength(1);
    const [summary] = summaries;
    expect(summary.queries).toBe(3);
    expect(summary.cacheOps).toBe(1);
    expect(summary.dbMs).toBe(12);
    expect(summary.cacheMs).toBe(1);
    expect(summary.fingerprints.find((f) => f.fingerprint === 'fpA')).toEqual({
      fingerprint: 'fpA',
      calls: 2,
      totalMs: 7,
    });
    expect(summary.namespaces[0]).toMatchObject({ namespace: 'user:*', ops: 1, singleReads: 1 });
  });

  it('assembles a trace whose spans arrive in separate batches and any order', () => {
    const { summaries, assembler } = collect();
    assembler.add(request('r'), 0);
    assembler.add(db('d1', 'x'), 100);
    assembler.sweep(150); // root arrived but the grace period is not over
    expect(summaries).toHaveLength(0);
    assembler.add(other('x', 'r'), 200);
    assembler.sweep(2000);
    expect(summaries).toHaveLength(1);
    expect(summaries[0].queries).toBe(1);
  });

  it('summarises a trace shortly after its root request arrives, before the idle timeout', () => {
    const { summaries, assembler } = collect({ idleMs: 10_000, maxOpenTraces: 100, maxSpansPerTrace: 100 });
    assembler.add(db('d1', 'r'), 0);
    assembler.add(request('r'), 0);
    assembler.sweep(300);
    expect(summaries).toHaveLength(1);
  });

  it('summarises a request at once when the spans it declared beneath it have all arrived', () => {
    const { summaries, assembler } = collect();
    assembler.add(db('d1', 'm'), 0);
    assembler.add(other('m', 'r'), 0);
    assembler.add(cache('c1', 'r'), 0);
    assembler.add(request('r', '', { descendants: 3 }), 0);
    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toMatchObject({ queries: 1, cacheOps: 1 });
    expect(assembler.openTraces).toBe(0);
    // A span of the request arriving after its summary is not given to it again.
    assembler.add(db('late', 'r'), 10);
    assembler.sweep(5000);
    expect(summaries).toHaveLength(1);
    expect(assembler.stats.leavesUnattributed).toBe(1);
  });

  it('holds a request while a declared span is missing, and summarises it when that one arrives', () => {
    const { summaries, assembler } = collect();
    assembler.add(db('d1', 'r'), 0);
    assembler.add(request('r', '', { descendants: 3 }), 0);
    expect(summaries).toHaveLength(0);
    assembler.add(cache('c1', 'r'), 50);
    expect(summaries).toHaveLength(0);
    // Ended after its request, in a later batch: the last declared span.
    assembler.add(db('d2', 'r'), 100);
    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toMatchObject({ queries: 2, cacheOps: 1 });
    expect(assembler.openTraces).toBe(0);
    // Its grace period ends later: nothing is summarised twice.
    assembler.sweep(5000);
    expect(summaries).toHaveLength(1);
  });

  it('waits past the grace period for a declared span still on its way, up to idleMs', () => {
    const { summaries, assembler } = collect();
    assembler.add(db('d1', 'r'), 0);
    assembler.add(request('r', '', { descendants: 2 }), 0);
    assembler.sweep(300);
    expect(summaries).toHaveLength(0);
    // In a body the sidecar reached 600 ms later (a busy machine): still the request's.
    assembler.add(db('d2', 'r'), 600);
    expect(summaries).toHaveLength(1);
    expect(summaries[0].queries).toBe(2);
    assembler.sweep(5000);
    expect(summaries).toHaveLength(1);
  });

  it('still summarises a request whose declared span never comes, once its trace has been idle for idleMs', () => {
    const { summaries, assembler } = collect();
    assembler.add(db('d1', 'r'), 0);
    assembler.add(request('r', '', { descendants: 2 }), 0);
    assembler.sweep(300);
    assembler.sweep(900);
    expect(summaries).toHaveLength(0);
    assembler.sweep(1000);
    expect(summaries).toHaveLength(1);
    expect(summaries[0].queries).toBe(1);
    expect(assembler.openTraces).toBe(0);
  });

  it('does not count spans of another service or of a nested request toward the declared number', () => {
    const { summaries, assembler } = collect();
    assembler.add({ ...db('x1', 'r'), service: 'billing' }, 0);
    assembler.add(other('client', 'r'), 0);
    assembler.add({ ...request('inner', 'client'), service: 'billing' }, 0);
    assembler.add({ ...db('x2', 'inner'), service: 'billing' }, 0);
    // Two spans of its own are declared; only `client` is here, so it waits for the grace period.
    assembler.add(request('r', '', { descendants: 2 }), 0);
    expect(summaries.filter((s) => s.service === 'shop')).toHaveLength(0);
    assembler.add(db('d1', 'client'), 50);
    expect(summaries.filter((s) => s.service === 'shop')).toHaveLength(0);
    assembler.sweep(5000);
    const shop = summaries.find((s) => s.service === 'shop');
    expect(shop?.queries).toBe(1);
  });

  it('gives nested server spans (another service) their own summaries', () => {
    const { summaries, assembler } = collect();
    assembler.add(request('outer'), 0);
    assembler.add(other('client', 'outer'), 0);
    assembler.add({ ...request('inner', 'client'), service: 'billing', route: '/charge' }, 0);
    assembler.add({ ...db('d1', 'inner'), service: 'billing' }, 0);
    assembler.add(db('d2', 'outer'), 0);
    assembler.sweep(5000);
    const byRoute = Object.fromEntries(summaries.map((s) => [s.route, s]));
    expect(byRoute['/charge'].queries).toBe(1);
    expect(byRoute['/r'].queries).toBe(1);
  });

  it('bounds open traces by summarising the least recently touched early', () => {
    const { summaries, assembler } = collect({ idleMs: 10_000, maxOpenTraces: 2, maxSpansPerTrace: 100 });
    for (const traceId of ['a', 'b', 'c']) {
      assembler.add({ ...db('d', 'r'), traceId }, 0);
      assembler.add({ ...request('r', 'up'), traceId }, 0);
    }
    expect(assembler.openTraces).toBe(2);
    expect(assembler.stats.tracesEvictedEarly).toBe(1);
    expect(summaries.map((s) => s.traceId)).toEqual(['a']);
  });

  it('keeps a trace that outlives idleMs while it still receives spans, and drops it once idle', () => {
    const { assembler } = collect({ idleMs: 1000, maxOpenTraces: 100, maxSpansPerTrace: 100 });
    assembler.add({ ...db('other-trace', 'gone'), traceId: 'quiet' }, 0);
    for (let t = 0; t <= 3000; t += 500) {
      assembler.add(db(`d${t}`, 'missing-parent'), t);
      assembler.sweep(t);
    }
    expect(assembler.openTraces).toBe(1); // 'quiet' was dropped at t=1000, t1 lives on
    assembler.sweep(3999);
    expect(assembler.openTraces).toBe(1);
    assembler.sweep(4000);
    expect(assembler.openTraces).toBe(0);
    expect(assembler.stats.leavesUnattributed).toBe(8);
  });

  it('gives each of several requests in one trace its own leaves, in a sweep and in a flush', () => {
    for (const finish of ['sweep', 'flush'] as const) {
      const { summaries, assembler } = collect();
      const spans: ClassifiedSpan[] = [
        db('a1', 'ra', 'fpA'),
        request('ra', 'client-a', { route: '/a' }),
        db('b1', 'rb', 'fpB'),
        cache('b2', 'rb'),
        request('rb', 'client-b', { route: '/b' }),
        request('rb', 'client-b', { route: '/b' }), // the same span sent twice counts once
        db('c1', 'rc', 'fpC'),
        request('rc', 'client-c', { route: '/c' }),
      ];
      for (const span of spans) assembler.add(span, 0);
      if (finish === 'sweep') assembler.sweep(5000);
      else assembler.flush();
      const byRoute = Object.fromEntries(summaries.map((s) => [s.route, s]));
      expect(summaries.map((s) => s.route).sort(), finish).toEqual(['/a', '/b', '/c']);
      expect([
        byRoute['/a'].queries,
        byRoute['/b'].queries,
        byRoute['/b'].cacheOps,
        byRoute['/c'].queries,
      ]).toEqual([1, 1, 1, 1]);
      expect(assembler.stats.leavesUnattributed).toBe(0);
      expect(assembler.openTraces).toBe(0);
    }
  });

  it('keeps at most maxSpansPerTrace spans of one trace', () => {
    const { summaries, assembler } = collect({ idleMs: 100, maxOpenTraces: 10, maxSpansPerTrace: 3 });
    assembler.add(request('r'), 0);
    for (let i = 0; i < 10; i++) assembler.add(db(`d${i}`, 'r'), 0);
    assembler.sweep(1000);
    expect(summaries[0].queries).toBe(2);
    expect(assembler.stats.spansOverTraceCap).toBe(8);
  });

  it('does not hold root spans that are not requests', () => {
    const { assembler } = collect();
    assembler.add(db('d', ''), 0);
    assembler.add(other('o', ''), 0);
    expect(assembler.openTraces).toBe(0);
  });

  it('flush summarises everything still open', () => {
    const { summaries, assembler } = collect();
    assembler.add(request('r', 'parent-elsewhere'), 0);
    assembler.flush();
    expect(summaries).toHaveLength(1);
    expect(assembler.openTraces).toBe(0);
  });
});

describe('RequestAssembler with late spans', () => {
  it('holds DB spans that arrive a batch before their request until the request arrives', () => {
    const { summaries, assembler } = collect({ idleMs: 6000, maxOpenTraces: 100, maxSpansPerTrace: 100 });
    assembler.add(db('d1', 'r'), 0);
    assembler.add(db('d2', 'r'), 0);
    assembler.sweep(4000);
    expect(summaries).toHaveLength(0);
    assembler.add(request('r'), 5000);
    assembler.sweep(5300);
    expect(summaries).toHaveLength(1);
    expect(summaries[0].queries).toBe(2);
  });

  it('does not give a late span of a summarised inner request to the outer request', () => {
    const { summaries, assembler } = collect({ idleMs: 6000, maxOpenTraces: 100, maxSpansPerTrace: 100 });
    assembler.add(request('inner', 'outer'), 0);
    assembler.sweep(300);
    expect(summaries.map((s) => s.queries)).toEqual([0]);
    assembler.add(db('late', 'inner'), 400);
    assembler.add(request('outer'), 500);
    assembler.sweep(1000);
    expect(summaries.map((s) => s.queries)).toEqual([0, 0]);
    expect(assembler.stats.leavesUnattributed).toBe(1);
  });
});

describe('RequestAssembler memory', () => {
  it('frees a trace as soon as its requests are summarised and nothing else waits', () => {
    const { summaries, assembler } = collect({ idleMs: 6000, maxOpenTraces: 100, maxSpansPerTrace: 100 });
    assembler.add(db('d1', 'r'), 0);
    assembler.add(request('r'), 0);
    assembler.sweep(300);
    expect(summaries).toHaveLength(1);
    expect(assembler.openTraces).toBe(0);
  });
});

describe('RequestAssembler with GraphQL operations named beneath a request', () => {
  const route = (request: RequestSpan, op: { type: string; name: string | undefined }, n: number) =>
    `${request.route} (${n > 1 ? 'batch' : `${op.type} ${op.name ?? '(anonymous)'}`})`;
  const execute = (spanId: string, parentSpanId: string, name?: string): OtherSpan => ({
    ...other(spanId, parentSpanId),
    graphql: { type: 'query', name },
  });

  function routes(spans: ClassifiedSpan[]): string[] {
    const summaries: RequestSummary[] = [];
    const assembler = new RequestAssembler(
      { idleMs: 1000, maxOpenTraces: 100, maxSpansPerTrace: 100 },
      (s) => summaries.push(s),
      route,
    );
    for (const span of spans) assembler.add(span, 0);
    assembler.sweep(5000);
    return summaries.map((s) => s.route);
  }

  it("takes the operation of an execute span at any depth beneath the request, with the request's figures", () => {
    expect(routes([db('d1', 'x1'), execute('x1', 'm1', 'Orders'), other('m1', 'r'), request('r')])).toEqual([
      '/r (query Orders)',
    ]);
  });

  it('calls several distinct operations a batch, one run twice not', () => {
    expect(routes([execute('x1', 'r', 'Me'), execute('x2', 'r', 'Orders'), request('r')])).toEqual([
      '/r (batch)',
    ]);
    expect(routes([execute('x1', 'r', 'Me'), execute('x2', 'r', 'Me'), request('r')])).toEqual([
      '/r (query Me)',
    ]);
  });

  it("keeps a request's own operation, and gives none to a request the execute span is not beneath", () => {
    expect(
      routes([execute('x1', 'r'), request('r', '', { route: '/r (query Own)', namesOperation: true })]),
    ).toEqual(['/r (query Own)']);
    expect(
      routes([
        execute('x1', 'inner'),
        request('inner', 'outer', { route: '/inner' }),
        request('outer'),
      ]).sort(),
    ).toEqual(['/inner (query (anonymous))', '/r']);
  });
});
