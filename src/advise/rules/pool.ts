/**
 * Pool saturation, per pool of a service (a primary and a replica pool are judged apart, each by
 * its own waits, peak and size): requests wait for a pooled connection (pg-pool.connect spans, and
 * postgres.js's postgres.pool.wait) — long at p95, or a large share of request time — or the pool ran
 * out of clients (in use near its size).
 * Waits while the pool never filled up (its size known, no checkout found every client in use) are
 * not saturation but connection setup: the pool had no idle client and opened one — clients closed
 * when idle or destroyed after an error — and a bigger pool would not help (pool-connection-setup).
 * Connect spans that name no pool and come without usage samples (other SDKs: OpenTelemetry JS's pg
 * instrumentation) mark every checkout, an idle client's too, so their share of request time is the
 * checkouts' own cost (10% of a 5-ms request that runs a few queries): such a pool is judged by its
 * p95 wait only.
 */
import type { PoolRow } from '../../reports/types';
import type { Target } from '../types';
import { fmtMs, fmtPct, meanRequestMs, OVERFLOW, type RuleContext, round } from './context';

export function poolRule(ctx: RuleContext): void {
  const t = ctx.t.pool;
  for (const p of ctx.input.pools) {
    if (p.system === OVERFLOW) continue;
    if (p.connects < t.minConnects) continue;
    const target = poolTarget(p);
    // Both kinds were judged for this pool: whichever is absent now resolves.
    ctx.observe('pool-saturation', p.service, target);
    ctx.observe('pool-connection-setup', p.service, target);
    const share = waitShare(ctx, p);
    // The preload names its pools and samples their size; its connect spans are the checkouts that waited.
    const waitedShare = p.pool === '' && p.poolMax === null ? null : share;
    const setup = p.poolMax !== null && p.saturatedConnects === 0;
    // Hysteresis: each line is held 10% (advisor.clearMargin) below itself while the advice is active.
    const raised = ctx.raised(setup ? 'pool-connection-setup' : 'pool-saturation', p.service, target);
    const held = raised !== undefined;
    const wasCritical = raised === 'critical';
    const slowWait = p.p95WaitMs >= t.waitP95Ms || ctx.holds(p.p95WaitMs, t.waitP95Ms, held);
    const largeShare =
      waitedShare !== null && (waitedShare >= t.waitShare || ctx.holds(waitedShare, t.waitShare, held));
    const full =
      p.maxInUseRatio !== null &&
      (p.maxInUseRatio >= t.inUseRatio || ctx.holds(p.maxInUseRatio, t.inUseRatio, held)) &&
      p.saturatedConnects > 0;
    if (!slowWait && !largeShare && !full) continue;
    const critical =
      p.p95WaitMs >= 5 * t.waitP95Ms ||
      ctx.holds(p.p95WaitMs, 5 * t.waitP95Ms, wasCritical) ||
      (waitedShare !== null &&
        (waitedShare >= 3 * t.waitShare || ctx.holds(waitedShare, 3 * t.waitShare, wasCritical)));
    ctx.emit({
      kind: setup ? 'pool-connection-setup' : 'pool-saturation',
      severity: critical ? 'critical' : slowWait || largeShare ? 'warning' : 'info',
      service: p.service,
      target,
      title: poolTitle(p, share, setup),
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
        maxWaiting: p.maxWaiting,
      },
      action: setup ? setupAction(p) : poolAction(p),
      exampleTraceId: p.exampleTraceId || undefined,
    });
  }
}

/**
 * The recommendation's target: a named pool by its name (distinct ids per pool), a pool whose spans
 * name none (older preloads, other SDKs) by its system, the id such a pool always had.
 */
function poolTarget(p: PoolRow): Target {
  return p.pool === ''
    ? { type: 'pool', value: p.system, system: p.system }
    : { type: 'pool', value: p.pool, system: p.system, pool: p.pool };
}

/**
 * Share of the service's request time spent waiting for this pool's connections; null without
 * requests. Requests say how long they waited for any pool, not which: the service's share is split
 * by each pool's part of the service's waits (its total wait over all its pools' totals).
 */
function waitShare(ctx: RuleContext, p: PoolRow): number | null {
  let wait = 0;
  let total = 0;
  for (const e of ctx.input.endpoints) {
    if (e.service !== p.service) continue;
    wait += e.poolWaitMsPerRequest * e.requests;
    total += meanRequestMs(e) * e.requests;
  }
  if (total <= 0) return null;
  let poolsWait = 0;
  for (const other of ctx.input.pools) if (other.service === p.service) poolsWait += other.totalWaitMs;
  const part = poolsWait > 0 ? p.totalWaitMs / poolsWait : 1;
  return (wait / total) * part;
}

function poolTitle(p: PoolRow, share: number | null, setup: boolean): string {
  const head = setup
    ? `Requests wait for new database connections${p.pool ? ` to ${p.pool}` : ''} (pool of ${p.poolMax} never full)`
    : `Connection pool${p.pool ? ` ${p.pool}` : ''} saturated${p.poolMax !== null ? ` (pool of ${p.poolMax})` : ''}`;
  const shareText = share !== null ? `, ${fmtPct(share)} of request time` : '';
  return `${head}: p95 wait ${fmtMs(p.p95WaitMs)}${shareText}`;
}

/** Waits in a pool that never filled up: connections opened for them, which a bigger pool would not avoid. */
function setupAction(p: PoolRow): string {
  return (
    `No checkout found all ${p.poolMax} clients in use (at most ${p.maxInUse ?? 0}), yet ${p.connects} checkouts waited: ` +
    'the pool had no idle client and opened a connection for each. Its clients are being closed — ' +
    'pg-pool closes a client idle for idleTimeoutMillis (10 s by default) and destroys one released ' +
    'with an error (client.release(err)), as after a failed query; postgres.js opens its connections ' +
    'on first use and closes them after idle_timeout (off by default) and max_lifetime (30–60 min). ' +
    'Keep clients longer (a higher idleTimeoutMillis, 0 never closes them; idle_timeout for postgres.js), ' +
    'find the errors that discard clients, or put a pooler ' +
    '(PgBouncer) in front so new connections are cheap. A larger pool would not help.'
  );
}

function poolAction(p: PoolRow): string {
  const inUse =
    p.maxInUse !== null && p.poolMax !== null
      ? `Up to ${p.maxInUse} of ${p.poolMax} clients were in use; ${p.saturatedConnects} connects found none free` +
        (p.maxWaiting !== null && p.maxWaiting > 0 ? `, up to ${p.maxWaiting} waiting at once. ` : '. ')
      : '';
  return (
    `${inUse}Requests queue for a connection: the pool is too small for the concurrency, or clients are held ` +
    'too long. Fix slow statements and N+1 loops first (they hold clients), release clients promptly ' +
    '(no awaits on other services inside a transaction), then raise the pool size (pg: new Pool({ max }); ' +
    'postgres.js: postgres(url, { max }), whose queries queue or pipeline behind others when none is free) ' +
    'if PostgreSQL has headroom under max_connections.'
  );
}
