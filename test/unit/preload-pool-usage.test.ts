import type { Attributes, SpanOptions, Tracer } from '@opentelemetry/api';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { poolBaseAttributes } from '../../src/preload/pg-pool-connect';
import {
  inUseOnceServed,
  PoolUsageSampler,
  type SampledPool,
  waitingOncePlaced,
} from '../../src/preload/pool-usage-sampler';

interface Made {
  name: string;
  options: SpanOptions;
  ended: boolean;
}

/** A tracer that keeps what it was asked to make. */
function recordingTracer(): { tracer: Tracer; made: Made[] } {
  const made: Made[] = [];
  const tracer = {
    startSpan(name: string, options: SpanOptions = {}) {
      const entry: Made = { name, options, ended: false };
      made.push(entry);
      return {
        end() {
          entry.ended = true;
        },
      };
    },
  } as unknown as Tracer;
  return { tracer, made };
}

const base: Attributes = { 'db.system.name': 'postgresql', 'spanstat.pool.max': 4 };

describe('clients in use once a checkout is served', () => {
  it('counts the clients taken plus the one this checkout takes', () => {
    expect(inUseOnceServed({ options: { max: 10 }, totalCount: 3, idleCount: 3 })).toBe(1);
    expect(inUseOnceServed({ options: { max: 10 }, totalCount: 7, idleCount: 2 })).toBe(6);
    // No idle client, room to open one: the new one counts.
    expect(inUseOnceServed({ options: { max: 10 }, totalCount: 0, idleCount: 0 })).toBe(1);
  });

  it('never exceeds the pool size (a queued checkout takes a released client)', () => {
    expect(inUseOnceServed({ options: { max: 4 }, totalCount: 4, idleCount: 0 })).toBe(4);
  });

  it('counts the checkouts queued for an idle client (Promise.all over idle clients)', () => {
    // 5 idle clients, 4 checkouts placed in this tick and queued for the next-tick hand-over.
    expect(inUseOnceServed({ options: { max: 10 }, totalCount: 5, idleCount: 5, waitingCount: 4 })).toBe(5);
    expect(inUseOnceServed({ options: { max: 4 }, totalCount: 4, idleCount: 2, waitingCount: 3 })).toBe(4);
  });

  it('reads pg-pool internals without the count getters, and gives up without either', () => {
    expect(inUseOnceServed({ options: { max: 4 }, _clients: [1, 2], _idle: [1] })).toBe(2);
    expect(inUseOnceServed({ options: { max: 4 } })).toBeUndefined();
  });
});

describe('checkouts waiting once a checkout is placed', () => {
  it("counts pg-pool's queue, and this checkout when the pool is full with no idle client for it", () => {
    expect(waitingOncePlaced({ options: { max: 4 }, totalCount: 4, idleCount: 0, waitingCount: 3 })).toBe(4);
    // Room to open a client: it waits for a new connection, not in the queue.
    expect(waitingOncePlaced({ options: { max: 4 }, totalCount: 2, idleCount: 0, waitingCount: 0 })).toBe(0);
    // An idle client is left for it.
    expect(waitingOncePlaced({ options: { max: 4 }, totalCount: 4, idleCount: 1, waitingCount: 0 })).toBe(0);
    expect(
      waitingOncePlaced({ options: { max: 4 }, _clients: [1, 2, 3, 4], _idle: [], _pendingQueue: [1] }),
    ).toBe(2);
    expect(waitingOncePlaced({ options: { max: 4 }, totalCount: 4, idleCount: 0 })).toBeUndefined();
  });

  it('leaves out the checkouts queued for an idle client, which pg-pool serves on the next tick', () => {
    // Promise.all of 5 queries over 5 idle clients: the 5th is placed with 4 queued, and none waits.
    expect(waitingOncePlaced({ options: { max: 10 }, totalCount: 5, idleCount: 5, waitingCount: 4 })).toBe(0);
    // Full pool, 2 idle: of 3 queued, 1 waits for a release, and so does this one.
    expect(waitingOncePlaced({ options: { max: 4 }, totalCount: 4, idleCount: 2, waitingCount: 3 })).toBe(2);
  });
});

describe('pool usage samples', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('carries the most checkouts waiting at once in the interval, when the pool says', () => {
    const { tracer, made } = recordingTracer();
    const sampler = new PoolUsageSampler(
      () => tracer,
      () => base,
      1000,
    );
    const pool: SampledPool = { options: { max: 4 }, totalCount: 4, idleCount: 0, waitingCount: 0 };
    for (const waiting of [0, 5, 2]) {
      pool.waitingCount = waiting;
      sampler.noteCheckout(pool);
    }
    vi.advanceTimersByTime(1000);
    expect(made[0]?.options.attributes).toEqual({
      ...base,
      'spanstat.pool.in_use': 4,
      'spanstat.pool.waiting': 6,
    });
  });

  it('sends the peak of an interval as one root span, then nothing while the pool is idle', () => {
    const { tracer, made } = recordingTracer();
    const sampler = new PoolUsageSampler(
      () => tracer,
      () => base,
      1000,
    );
    const pool: SampledPool = { options: { max: 4 }, totalCount: 4, idleCount: 4 };
    for (const idle of [4, 2, 1, 3]) {
      pool.idleCount = idle;
      sampler.noteCheckout(pool);
    }
    expect(made).toEqual([]);
    vi.advanceTimersByTime(1000);
    expect(made).toHaveLength(1);
    expect(made[0]).toMatchObject({
      name: 'pg-pool.usage',
      ended: true,
      options: { root: true, attributes: { ...base, 'spanstat.pool.in_use': 4 } },
    });
    vi.advanceTimersByTime(10_000);
    expect(made).toHaveLength(1);
    // The next checkout starts a new interval with its own peak.
    pool.idleCount = 4;
    sampler.noteCheckout(pool);
    vi.advanceTimersByTime(1000);
    expect(made.map((m) => m.options.attributes?.['spanstat.pool.in_use'])).toEqual([4, 1]);
  });

  it('keeps each pool apart', () => {
    const { tracer, made } = recordingTracer();
    const sampler = new PoolUsageSampler(
      () => tracer,
      (pool) => ({ size: pool.options?.max }),
      1000,
    );
    sampler.noteCheckout({ options: { max: 4 }, totalCount: 2, idleCount: 0 });
    sampler.noteCheckout({ options: { max: 20 }, totalCount: 12, idleCount: 1 });
    vi.advanceTimersByTime(1000);
    expect(made.map((m) => m.options.attributes)).toEqual([
      { size: 4, 'spanstat.pool.in_use': 3 },
      { size: 20, 'spanstat.pool.in_use': 12 },
    ]);
  });

  it('names each sample by its pool, as the connect spans do, so two pools to two databases stay two', () => {
    const { tracer, made } = recordingTracer();
    const sampler = new PoolUsageSampler(() => tracer, poolBaseAttributes, 1000);
    const connect = () => undefined;
    const primary = {
      options: { max: 10, host: 'db', port: 5432, database: 'shop' },
      totalCount: 7,
      idleCount: 0,
      connect,
    };
    const replica = {
      options: { max: 3, host: 'db', port: 5432, database: 'reports' },
      totalCount: 1,
      idleCount: 1,
      connect,
    };
    sampler.noteCheckout(primary);
    sampler.noteCheckout(replica);
    vi.advanceTimersByTime(1000);
    expect(made.map((m) => m.options.attributes)).toMatchObject([
      {
        'db.client.connection.pool.name': 'db:5432/shop',
        'spanstat.pool.max': 10,
        'spanstat.pool.in_use': 8,
      },
      {
        'db.client.connection.pool.name': 'db:5432/reports',
        'spanstat.pool.max': 3,
        'spanstat.pool.in_use': 1,
      },
    ]);
  });

  it('leaves the process free to exit while a sample is pending', () => {
    const { tracer } = recordingTracer();
    const sampler = new PoolUsageSampler(
      () => tracer,
      () => base,
      1000,
    );
    const pool: SampledPool = { options: { max: 4 }, totalCount: 1, idleCount: 1 };
    const unref = vi.fn();
    const real = globalThis.setTimeout;
    const spy = vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms: number) => {
      const timer = real(fn, ms);
      return Object.assign(timer, { unref });
    }) as unknown as typeof setTimeout);
    sampler.noteCheckout(pool);
    sampler.noteCheckout(pool);
    spy.mockRestore();
    expect(unref).toHaveBeenCalledTimes(1);
  });

  it('drops a sample the tracer cannot make, and samples again afterwards', () => {
    const { tracer, made } = recordingTracer();
    let fail = true;
    const flaky = {
      startSpan: (name: string, options?: SpanOptions) => {
        if (fail) throw new Error('tracer broke');
        return tracer.startSpan(name, options);
      },
    } as unknown as Tracer;
    const sampler = new PoolUsageSampler(
      () => flaky,
      () => base,
      1000,
    );
    const pool: SampledPool = { options: { max: 4 }, totalCount: 1, idleCount: 1 };
    sampler.noteCheckout(pool);
    expect(() => vi.advanceTimersByTime(1000)).not.toThrow();
    fail = false;
    sampler.noteCheckout(pool);
    vi.advanceTimersByTime(1000);
    expect(made).toHaveLength(1);
  });
});
