import { describe, expect, it } from 'vitest';
import {
  DoubleTracing,
  type DoubleTracingNotice,
  noticeMessage,
  tracedByPreload,
} from '../../src/classify/double-tracing';
import { doubleTracedNote } from '../../src/cli/report-command';
import type { SpanSender } from '../../src/model/span';
import { cacheCall, dbCall, poolConnect, poolUsage } from '../fixtures/classified';

const ids = { service: 'shop', traceId: 't', spanId: 's', parentSpanId: '', startMs: 1, durationMs: 1 };

function sender(fields: Partial<SpanSender>): SpanSender {
  return {
    service: 'shop',
    preload: false,
    hostName: 'web-1',
    pid: 4242,
    instanceId: undefined,
    version: undefined,
    ...fields,
  };
}
const preload = sender({ preload: true });

function tracker() {
  const notices: DoubleTracingNotice[] = [];
  return { notices, tracing: new DoubleTracing((n) => notices.push(n)) };
}

describe('DoubleTracing', () => {
  it('sets aside another SDK’s resource from a process the preload sends from, and says so once', () => {
    const { notices, tracing } = tracker();
    expect(tracing.shadowed(preload)).toBe(false);
    expect(tracing.shadowed(sender({}))).toBe(true);
    expect(tracing.shadowed(sender({}))).toBe(true);
    expect(tracing.shadowed(preload)).toBe(false);
    expect(notices).toEqual([{ service: 'shop', kind: 'matched', hostName: 'web-1', pid: 4242 }]);
  });

  it('counts the other SDK’s spans that arrive before the preload’s first export from that process', () => {
    const { notices, tracing } = tracker();
    expect(tracing.shadowed(sender({}))).toBe(false);
    expect(notices).toEqual([]);
    tracing.shadowed(preload);
    expect(tracing.shadowed(sender({}))).toBe(true);
  });

  it('counts another process, host or service as it is', () => {
    const { notices, tracing } = tracker();
    tracing.shadowed(preload);
    expect(tracing.shadowed(sender({ pid: 4243 }))).toBe(false);
    expect(tracing.shadowed(sender({ hostName: 'web-2' }))).toBe(false);
    expect(tracing.shadowed(sender({ service: 'billing' }))).toBe(false);
    expect(tracing.shadowed(sender({ service: 'billing', pid: undefined }))).toBe(false);
    expect(notices).toEqual([]);
  });

  it('matches by service.instance.id when the other SDK names no pid', () => {
    const { tracing } = tracker();
    tracing.shadowed(sender({ preload: true, instanceId: 'pod-7' }));
    expect(tracing.shadowed(sender({ pid: undefined, hostName: undefined, instanceId: 'pod-7' }))).toBe(true);
    expect(tracing.shadowed(sender({ pid: undefined, hostName: undefined, instanceId: 'pod-8' }))).toBe(
      false,
    );
  });

  it('warns once per service about a sender that names no process beside a preload, and counts it', () => {
    const { notices, tracing } = tracker();
    const anonymous = sender({ pid: undefined, hostName: undefined });
    expect(tracing.shadowed(anonymous)).toBe(false);
    expect(notices).toEqual([]);
    tracing.shadowed(preload);
    expect(tracing.shadowed(anonymous)).toBe(false);
    expect(tracing.shadowed(anonymous)).toBe(false);
    expect(notices).toEqual([{ service: 'shop', kind: 'unmatched' }]);
  });

  it('counts spans set aside per service and processes found per service', () => {
    const { tracing } = tracker();
    tracing.shadowed(preload);
    tracing.shadowed(sender({ preload: true, pid: 7 }));
    tracing.shadowed(sender({}));
    tracing.shadowed(sender({ pid: 7 }));
    tracing.setAside('shop');
    tracing.setAside('shop');
    expect(tracing.byService()).toEqual({ shop: { processes: 2, spansSetAside: 2 } });
    expect([...tracing.spansSetAside()]).toEqual([['shop', 2]]);
  });
});

describe('tracedByPreload', () => {
  it('takes what the preload traces too: requests, PostgreSQL, Redis and pool spans', () => {
    const request = (method: string) =>
      ({ ...ids, type: 'request', method }) as unknown as Parameters<typeof tracedByPreload>[0];
    expect(tracedByPreload(request('GET'), 'x')).toBe(true);
    expect(tracedByPreload(dbCall(ids), 'x')).toBe(true);
    expect(tracedByPreload(cacheCall(ids), 'x')).toBe(true);
    expect(tracedByPreload(poolConnect(ids), 'x')).toBe(true);
    expect(tracedByPreload(poolUsage(ids), 'x')).toBe(true);
  });

  it('keeps what only the other SDK makes: consumers, MySQL, other spans', () => {
    const request = (method: string) =>
      ({ ...ids, type: 'request', method }) as unknown as Parameters<typeof tracedByPreload>[0];
    expect(tracedByPreload(request('CONSUMER'), 'x')).toBe(false);
    expect(tracedByPreload(dbCall({ ...ids, system: 'mysql' }), 'x')).toBe(false);
    expect(tracedByPreload({ ...ids, type: 'other', error: false }, 'x')).toBe(false);
    // Prisma 6's engine runs its queries past pg, where the preload cannot see them.
    expect(tracedByPreload(dbCall(ids), 'prisma:engine:db_query')).toBe(false);
    expect(tracedByPreload(dbCall({ ...ids, aroundDriver: true }), 'prisma:client:db_query')).toBe(true);
  });
});

describe('noticeMessage', () => {
  it('names the service and process and says what to do', () => {
    const text = noticeMessage({ service: 'shop', kind: 'matched', hostName: 'web-1', pid: 4242 });
    expect(text).toContain("service 'shop' (pid 4242 on web-1)");
    expect(text).toContain('Drop one of the two');
    expect(noticeMessage({ service: 'shop', kind: 'unmatched' })).toContain('names no process');
  });
});

describe('spanstat report’s note', () => {
  it('names the shown services traced twice and what to do, and nothing for the others', () => {
    const health = {
      doubleTraced: {
        shop: { processes: 3, spansSetAside: 90 },
        billing: { processes: 1, spansSetAside: 4 },
      },
    };
    const note = doubleTracedNote(health, new Set(['shop']));
    expect(note).toContain('shop (3 processes)');
    expect(note).not.toContain('billing');
    expect(note).toContain('Drop one of the two');
    expect(doubleTracedNote(health, new Set(['orders']))).toBeUndefined();
    expect(doubleTracedNote({}, new Set(['shop']))).toBeUndefined();
  });
});
