import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import pkg from '../../package.json';
import { NamespaceLearner } from '../../src/cache-keys/namespace-learner';
import { SpanClassifier } from '../../src/classify/classify-span';
import { DEFAULTS } from '../../src/config/defaults';
import { runJob, wrapJob } from '../../src/job';
import { setSpan } from '../../src/preload/context-frame';
import { createJobRunner, JOBS_KEY } from '../../src/preload/job-root';
import { LeanTracerProvider } from '../../src/preload/lean-tracer';
import { encodeTraceRequest } from '../../src/preload/otlp-encode';
import { preloadContext } from '../../src/preload/preload-context';
import { decodeTracesProtobuf } from '../../src/receiver/decode-protobuf';
import { SqlFingerprinter } from '../../src/sql/fingerprinter';

const globals = globalThis as Record<symbol, unknown>;

/** What startPreload registers, over a lean tracer whose ended spans are kept; `lost` as the preload's count. */
function register(lost = 0) {
  const ended: ReadableSpan[] = [];
  const provider = new LeanTracerProvider(resourceFromAttributes({ 'service.name': 'worker' }), {
    onEnd: (span) => ended.push(span),
  });
  globals[JOBS_KEY] = createJobRunner(provider.getTracer('spanstat-job'), {
    count: () => lost,
    instance: 'p-1',
  });
  return { ended, tracer: provider.getTracer('pg') };
}

/** A client span started where the preload's pg instrumentation would start one: in the active context. */
function query(tracer: ReturnType<typeof register>['tracer']): Promise<void> {
  tracer.startSpan('pg.query:SELECT', { kind: SpanKind.CLIENT }, preloadContext.active()).end();
  return new Promise((resolve) => setTimeout(resolve, 1));
}

beforeAll(() => {
  preloadContext.enable();
});
afterAll(() => {
  preloadContext.disable();
});
afterEach(() => {
  delete globals[JOBS_KEY];
});

describe('runJob without the preload', () => {
  it('just calls the function: its value, its promise and its throw pass through', async () => {
    expect(runJob('sync', () => 42)).toBe(42);
    expect(await runJob('async', async () => 'sent')).toBe('sent');
    const boom = new Error('boom');
    expect(() =>
      runJob('throws', () => {
        throw boom;
      }),
    ).toThrow(boom);
    await expect(runJob('rejects', () => Promise.reject(boom))).rejects.toBe(boom);
  });

  it('wrapJob passes arguments and this through', () => {
    const target = {
      base: 10,
      add: wrapJob('add', function (this: { base: number }, n: number) {
        return this.base + n;
      }),
    };
    expect(target.add(5)).toBe(15);
  });

  it('is exported as spanstat/job', () => {
    expect(pkg.exports['./job']).toBe('./dist/job.js');
  });

  it("is the package's main entry too, and every entry point package.json names has its source", async () => {
    expect(pkg.main).toBe('dist/index.js');
    const targets = [pkg.main, ...Object.values(pkg.exports), ...Object.values(pkg.bin)];
    for (const target of targets.filter((t) => t.includes('dist/'))) {
      const source = target.replace(/^(\.\/)?dist\//, 'src/').replace(/\.js$/, '.ts');
      expect(existsSync(join(__dirname, '..', '..', source)), target).toBe(true);
    }
    const main = await import('../../src/index');
    expect(main.runJob).toBe(runJob);
    expect(main.wrapJob).toBe(wrapJob);
  });
});

describe('runJob under the preload', () => {
  it('runs the job in a new root span that counts its descendants, named after the job', async () => {
    const { ended, tracer } = register();
    const result = await runJob('send-digest', async () => {
      await query(tracer);
      await query(tracer);
      return 'done';
    });
    expect(result).toBe('done');
    const root = ended.find((s) => s.name === 'send-digest') as ReadableSpan;
    expect(root).toBeDefined();
    expect(root.kind).toBe(SpanKind.INTERNAL);
    expect(root.parentSpanContext).toBeUndefined();
    expect(root.attributes).toEqual({ 'spanstat.job.name': 'send-digest', 'spanstat.descendants': 2 });
    expect(root.status.code).toBe(SpanStatusCode.UNSET);
    const children = ended.filter((s) => s !== root);
    expect(children).toHaveLength(2);
    for (const child of children) {
      expect(child.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
      expect(child.spanContext().traceId).toBe(root.spanContext().traceId);
    }
  });

  it('is its own unit inside an HTTP request: a new trace linked to the request, not counted in it', async () => {
    const { ended, tracer } = register();
    const server = tracer.startSpan('GET /digest', { kind: SpanKind.SERVER });
    await preloadContext.with(setSpan(ROOT_CONTEXT, server), () =>
      runJob('send-digest', () => query(tracer)),
    );
    server.end();
    const root = ended.find((s) => s.name === 'send-digest') as ReadableSpan;
    expect(root.spanContext().traceId).not.toBe(server.spanContext().traceId);
    expect(root.links.map((l) => l.context.spanId)).toEqual([server.spanContext().spanId]);
    expect(root.attributes['spanstat.descendants']).toBe(1);
    expect(
      (ended.find((s) => s.name === 'GET /digest') as ReadableSpan).attributes['spanstat.descendants'],
    ).toBe(0);
  });

  it('marks a failed run as an error by the error class only and rethrows the same error', async () => {
    const { ended } = register();
    const err = new TypeError('duplicate key value (email)=(ann@example.com)');
    await expect(runJob('async-fail', () => Promise.reject(err))).rejects.toBe(err);
    expect(() =>
      runJob('sync-fail', () => {
        throw err;
      }),
    ).toThrow(err);
    await expect(runJob('odd-fail', () => Promise.reject(undefined))).rejects.toBeUndefined();
    expect(ended.map((s) => [s.name, s.status])).toEqual([
      ['async-fail', { code: SpanStatusCode.ERROR, message: 'TypeError' }],
      ['sync-fail', { code: SpanStatusCode.ERROR, message: 'TypeError' }],
      ['odd-fail', { code: SpanStatusCode.ERROR, message: 'rejected' }],
    ]);
  });

  it("carries the process's lost-span count once there is one, as SERVER spans do", () => {
    const { ended } = register(7);
    runJob('worker-tick', () => undefined);
    expect(ended[0].attributes).toMatchObject({
      'spanstat.preload.lost_spans': 7,
      'spanstat.preload.instance': 'p-1',
    });
  });

  it('templates ids out of the job name', () => {
    const { ended } = register();
    runJob('send-digest:4711', () => undefined);
    expect(ended[0].name).toBe('send-digest::id');
    expect(ended[0].attributes['spanstat.job.name']).toBe('send-digest::id');
  });

  it('names a run whose name is empty or not a string (unnamed), and keeps e-mail addresses out whole', () => {
    const { ended } = register();
    runJob('', () => undefined);
    runJob(undefined as unknown as string, () => undefined);
    runJob('notify alice.smith@corp.example.com', () => undefined);
    expect(ended.map((s) => s.name)).toEqual(['(unnamed)', '(unnamed)', 'notify :id']);
  });

  it('refuses a job that is not a function with a TypeError that says so, and records no run', () => {
    const { ended } = register();
    const message = /spanstat\/job: runJob\(name, fn\) needs fn to be a function, received number/;
    expect(() => runJob('x', 42 as unknown as () => void)).toThrow(message);
    expect(() => wrapJob('x', undefined as unknown as () => void)).toThrow(/wrapJob.*received undefined/);
    expect(ended).toEqual([]);
    delete globals[JOBS_KEY];
    expect(() => runJob('x', null as unknown as () => void)).toThrow(/received null/);
  });

  it('records nothing where tracing is suppressed, and still runs the job', () => {
    const { ended } = register();
    expect(preloadContext.with(suppressTracing(ROOT_CONTEXT), () => runJob('quiet', () => 3))).toBe(3);
    expect(ended).toEqual([]);
    expect(trace.getSpan(preloadContext.active())).toBeUndefined();
  });

  it('never throws errors of its own: a broken runner leaves the job to run once, untraced', () => {
    let calls = 0;
    globals[JOBS_KEY] = {
      version: 1,
      run() {
        throw new Error('runner bug');
      },
    };
    expect(runJob('x', () => ++calls)).toBe(1);
    // A registration of another version or shape is ignored.
    globals[JOBS_KEY] = { version: 2, run: () => 'other' };
    expect(runJob('x', () => ++calls)).toBe(2);
    globals[JOBS_KEY] = 'started';
    expect(runJob('x', () => ++calls)).toBe(3);
  });

  it('is read by the sidecar as a JOB unit with its descendants, once encoded', async () => {
    const { ended, tracer } = register();
    await runJob('send-digest', () => query(tracer));
    const decoded = decodeTracesProtobuf(encodeTraceRequest(ended));
    const classifier = new SpanClassifier(
      await SqlFingerprinter.create(DEFAULTS.sql),
      new NamespaceLearner({ ...DEFAULTS.redis, patterns: [] }),
    );
    const units = decoded.map((s) => classifier.classify(s)).filter((c) => c.type === 'request');
    expect(units).toMatchObject([
      { method: 'JOB', route: 'send-digest', status: 0, error: false, descendants: 1 },
    ]);
  });
});
