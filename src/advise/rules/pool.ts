/**
 * Pool saturation: requests wait for a pooled connection (pg-pool.connect spans) — long at p95,
 * or a large share of request time — or the pool ran out of clients (in use near its size).
 */
import type { PoolRow } from '../../reports/types';
import type { Target } from '../types';
import { fmtMs, fmtPct, meanRequestMs, OVERFLOW, type RuleContext, round } from './context';

export function poolRule(ctx: RuleContext): void {
  const t = ctx.t.pool;
  for (const p of ctx.input.pools) {
    if (p.system === OVERFLOW) continue;
    const target: Target = { type: 'pool', value: p.system };
    if (p.connects < t.minConnects) continue;
    ctx.observe('pool-saturation', p.service, target);
    const share = waitShare(ctx, p.service);
    const slowWait = p.p95WaitMs >= t.waitP95Ms;
    const largeShare = share !== null && share >= t.waitShare;
    const full = p.maxInUseRatio !== null && p.maxInUseRatio >= t.inUseRatio && p.saturatedConnects > 0;
    if (!slowWait && !largeShare && !full) continue;
    const critical = p.p95WaitMs >= 5 * t.waitP95Ms || (share !== null && share >= 3 * t.waitShare);
    ctx.emit({
      kind: 'pool-saturation',
      severity: critical ? 'critical' : slowWait || largeShare ? 'warning' : 'info',
      service: p.service,
      target,
      title: poolTitle(p, share),
      evidence: {
        connects: p.connects,
        meanWaitMs: round(p.meanWaitMs),
        p95WaitMs: round(p.p95WaitMs),
        p99WaitMs: round(p.p99WaitMs),
        maxWaitMs: round(p.maxWaitMs),
        waitP95ThresholdMs: t.waitP95Ms,
        shareOfRequestTime: share === null ? null : round(share, 4),
        maxInUse: p.maxInUse,
        poolMax: p.poolMax,
        maxInUseRatio: p.maxInUseRatio === null ? null : round(p.maxInUseRatio, 3),
        saturatedConnects: p.saturatedConnects,
      },
      action: poolAction(p),
      exampleTraceId: p.exampleTraceId || undefined,
    });
  }
}

/** Share of the service's request time spent waiting for a pooled connection; null without requests. */
function waitShare(ctx: RuleContext, service: string): number | null {
  let wait = 0;
  let total = 0;
  for (const e of ctx.input.endpoints) {
    if (e.service !== service) continue;
    wait += e.poolWaitMsPerRequest * e.requests;
    total += meanRequestMs(e) * e.requests;
  }
  return total > 0 ? wait / total : null;
}

function poolTitle(p: PoolRow, share: number | null): string {
  const size = p.poolMax !== null ? ` (pool of ${p.poolMax})` : '';
  const shareText = share !== null ? `, ${fmtPct(share)} of request time` : '';
  return `Connection pool saturated${size}: p95 wait ${fmtMs(p.p95WaitMs)}${shareText}`;
}

function poolAction(p: PoolRow): string {
  const inUse =
    p.maxInUse !== null && p.poolMax !== null
      ? `Up to ${p.maxInUse} of ${p.poolMax} clients were in use; ${p.saturatedConnects} connects found none free. `
      : '';
  return (
    `${inUse}Requests queue for a connection: the pool is too small for the concurrency, or clients are held ` +
    'too long. Fix slow statements and N+1 loops first (they hold clients), release clients promptly ' +
    '(no awaits on other services inside a transaction), then raise the pool size (pg: new Pool({ max })) ' +
    'if PostgreSQL has headroom under max_connections.'
  );
}
