/**
 * A route's figures under a new version against the version before it: which of p95, queries per
 * request and 5xx rate got worse past the `advisor.deploy` lines, and which statements changed most
 * per request (the likely cause). Pure: the advisor's rule and the tracker's choice of baseline both
 * read it.
 */
import type { AdvisorConfig } from '../advise/types';
import { MAX_STATEMENTS_SHOWN, type RouteFigures, type StatementFigures } from './version-profile';

export type DeployThresholds = AdvisorConfig['deploy'];

/** What got worse on a route, each with the line it crossed (so hysteresis can hold it). */
export interface RouteRegression {
  latency: boolean;
  queries: boolean;
  errors: boolean;
  /** The lines: p95 (ms), queries per request, error rate. */
  latencyLine: number;
  queriesLine: number;
  errorLine: number;
}

/** Which figures of a raised regression are held (past their line × (1 − clearMargin)) rather than judged afresh. */
export interface Held {
  held: boolean;
  clearMargin: number;
}

/** Whether both versions served enough of the route for their figures to be compared. */
export function comparable(base: RouteFigures, cur: RouteFigures, t: DeployThresholds): boolean {
  return base.requests >= t.minRequests && cur.requests >= t.minRequests;
}

/**
 * Which figures regressed: p95 at least `latencyRatio` × and `minLatencyDeltaMs` over the baseline's;
 * queries per request at least `queriesRatio` × and `minQueriesDelta` over; the 5xx rate up by
 * `errorRateDelta`. A held regression stays until its figure is `clearMargin` under its line.
 */
export function routeRegression(
  base: RouteFigures,
  cur: RouteFigures,
  t: DeployThresholds,
  hold: Held = { held: false, clearMargin: 0 },
): RouteRegression {
  const latencyLine = Math.max(base.p95Ms * t.latencyRatio, base.p95Ms + t.minLatencyDeltaMs);
  const queriesLine = Math.max(
    base.queriesPerRequest * t.queriesRatio,
    base.queriesPerRequest + t.minQueriesDelta,
  );
  const errorLine = base.errorRate + t.errorRateDelta;
  const past = (figure: number, line: number) =>
    figure >= line || (hold.held && figure > line * (1 - hold.clearMargin));
  return {
    latency: past(cur.p95Ms, latencyLine),
    queries: past(cur.queriesPerRequest, queriesLine),
    errors: past(cur.errorRate, errorLine),
    latencyLine,
    queriesLine,
    errorLine,
  };
}

export function regressed(r: RouteRegression): boolean {
  return r.latency || r.queries || r.errors;
}

/** A statement's figures per request before and after; `before` undefined when not among the baseline's top. */
export interface StatementChange {
  fingerprint: string;
  before: StatementFigures | undefined;
  after: StatementFigures | undefined;
  /** Whether the baseline listed every statement it ran (so an absent one did not run). */
  beforeComplete: boolean;
  deltaMsPerRequest: number;
  deltaCallsPerRequest: number;
}

/**
 * The statements whose time or calls per request changed most, the new version's added cost first:
 * by time per request, then by calls. Only changes of at least half a call or a millisecond per request.
 */
export function statementChanges(base: RouteFigures, cur: RouteFigures, max = 3): StatementChange[] {
  const beforeComplete = base.statements.length < MAX_STATEMENTS_SHOWN;
  const before = new Map(base.statements.map((s) => [s.fingerprint, s]));
  const after = new Map(cur.statements.map((s) => [s.fingerprint, s]));
  const changes: StatementChange[] = [];
  for (const fingerprint of new Set([...before.keys(), ...after.keys()])) {
    const b = before.get(fingerprint);
    const a = after.get(fingerprint);
    // A statement the new version runs less than its top N cannot be weighed against the baseline.
    if (a === undefined && cur.statements.length >= MAX_STATEMENTS_SHOWN) continue;
    const deltaMs = (a?.msPerRequest ?? 0) - (b?.msPerRequest ?? 0);
    const deltaCalls = (a?.callsPerRequest ?? 0) - (b?.callsPerRequest ?? 0);
    if (Math.abs(deltaMs) < 1 && Math.abs(deltaCalls) < 0.5) continue;
    changes.push({
      fingerprint,
      before: b,
      after: a,
      beforeComplete,
      deltaMsPerRequest: deltaMs,
      deltaCallsPerRequest: deltaCalls,
    });
  }
  return changes
    .filter((c) => c.deltaMsPerRequest > 0 || c.deltaCallsPerRequest > 0)
    .sort(
      (x, y) => y.deltaMsPerRequest - x.deltaMsPerRequest || y.deltaCallsPerRequest - x.deltaCallsPerRequest,
    )
    .slice(0, max);
}
