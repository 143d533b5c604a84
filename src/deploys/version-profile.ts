/**
 * One version's recent figures per route, from its request summaries: requests, 5xx (or failed runs),
 * a latency sketch, queries and DB time, and per statement its calls and time. Kept in two periods of
 * `periodMs` (the current one and the one before), so a view reads the version's last one to two
 * periods of traffic: recent enough that a fixed regression reads as fixed, long enough for a p95.
 * A view at a time after the version stopped reads what it served last (a baseline's figures).
 * No I/O, no clock: callers pass the receive time.
 */
import { Sketch } from '../aggregate/sketch';
import type { RequestSummary } from '../model/request-summary';

/** Routes a version profile keeps; requests of further routes are not profiled (their history counts them). */
export const MAX_PROFILED_ROUTES = 50;
/** Statements kept per route and period; calls of further ones count in the route's queries only. */
export const MAX_STATEMENTS_PER_ROUTE = 32;
/** Statements a route's figures list (by time per request): what a comparison can name as the cause. */
export const MAX_STATEMENTS_SHOWN = 10;

export interface StatementFigures {
  fingerprint: string;
  callsPerRequest: number;
  msPerRequest: number;
}

/** A route's figures over a version's view: what a baseline keeps once its version stopped (a few hundred bytes). */
export interface RouteFigures {
  method: string;
  route: string;
  requests: number;
  p95Ms: number;
  p99Ms: number;
  queriesPerRequest: number;
  dbMsPerRequest: number;
  /** 5xx responses (a failed run, for jobs and consumers) per request. */
  errorRate: number;
  /** Top statements by time per request, at most MAX_STATEMENTS_SHOWN. */
  statements: StatementFigures[];
}

interface StatementAcc {
  calls: number;
  ms: number;
}

interface RouteAcc {
  requests: number;
  failures: number;
  sketch: Sketch;
  queries: number;
  dbMs: number;
  statements: Map<string, StatementAcc>;
}

interface RoutePeriods {
  method: string;
  route: string;
  /** The period `current` covers: floor(receive time / periodMs). */
  epoch: number;
  current: RouteAcc;
  previous: RouteAcc | undefined;
}

/** A request that failed: a 5xx, or a job or consumer run (no status) that ended in error. */
function failed(s: RequestSummary): boolean {
  return s.status >= 500 || (s.status === 0 && s.error);
}

export class VersionProfile {
  /** By method, then route: no key string built per request. */
  private readonly routes = new Map<string, Map<string, RoutePeriods>>();
  private routeCount = 0;

  constructor(
    private readonly periodMs: number,
    private readonly relativeAccuracy: number,
  ) {}

  add(s: RequestSummary, nowMs: number): void {
    const epoch = Math.floor(nowMs / this.periodMs);
    let byRoute = this.routes.get(s.method);
    let periods = byRoute?.get(s.route);
    if (periods === undefined) {
      if (this.routeCount >= MAX_PROFILED_ROUTES) return;
      if (byRoute === undefined) {
        byRoute = new Map();
        this.routes.set(s.method, byRoute);
      }
      periods = { method: s.method, route: s.route, epoch, current: this.acc(), previous: undefined };
      byRoute.set(s.route, periods);
      this.routeCount++;
    } else if (epoch > periods.epoch) {
      periods.previous = epoch === periods.epoch + 1 ? periods.current : undefined;
      periods.current = this.acc();
      periods.epoch = epoch;
    }
    const acc = periods.current;
    acc.requests++;
    if (failed(s)) acc.failures++;
    acc.sketch.add(s.durationMs);
    acc.queries += s.queries;
    acc.dbMs += s.dbMs;
    for (const use of s.fingerprints) {
      let st = acc.statements.get(use.fingerprint);
      if (st === undefined) {
        if (acc.statements.size >= MAX_STATEMENTS_PER_ROUTE) continue;
        st = { calls: 0, ms: 0 };
        acc.statements.set(use.fingerprint, st);
      }
      st.calls += use.calls;
      st.ms += use.totalMs;
    }
  }

  /** Each route's figures over the periods live at `atMs` (the last one to two periods before it). */
  figures(atMs: number): RouteFigures[] {
    const epoch = Math.floor(atMs / this.periodMs);
    const out: RouteFigures[] = [];
    for (const byRoute of this.routes.values())
      for (const p of byRoute.values()) {
        const parts =
          p.epoch === epoch
            ? [p.current, p.previous]
            : p.epoch === epoch - 1
              ? [p.current]
              : p.epoch > epoch
                ? [p.current, p.previous] // a clock step back: the newest data there is
                : [];
        const live = parts.filter((a): a is RouteAcc => a !== undefined && a.requests > 0);
        if (live.length > 0) out.push(routeFigures(p.method, p.route, live, this.relativeAccuracy));
      }
    return out;
  }

  private acc(): RouteAcc {
    return {
      requests: 0,
      failures: 0,
      sketch: new Sketch(this.relativeAccuracy),
      queries: 0,
      dbMs: 0,
      statements: new Map(),
    };
  }
}

function routeFigures(method: string, route: string, parts: RouteAcc[], accuracy: number): RouteFigures {
  let requests = 0;
  let failures = 0;
  let queries = 0;
  let dbMs = 0;
  const sketch = new Sketch(accuracy);
  const statements = new Map<string, StatementAcc>();
  for (const a of parts) {
    requests += a.requests;
    failures += a.failures;
    queries += a.queries;
    dbMs += a.dbMs;
    sketch.merge(a.sketch);
    for (const [fp, st] of a.statements) {
      const into = statements.get(fp);
      if (into === undefined) statements.set(fp, { calls: st.calls, ms: st.ms });
      else {
        into.calls += st.calls;
        into.ms += st.ms;
      }
    }
  }
  const top = [...statements]
    .map(([fingerprint, st]) => ({
      fingerprint,
      callsPerRequest: round(st.calls / requests, 3),
      msPerRequest: round(st.ms / requests, 3),
    }))
    .sort((a, b) => b.msPerRequest - a.msPerRequest || b.callsPerRequest - a.callsPerRequest)
    .slice(0, MAX_STATEMENTS_SHOWN);
  return {
    method,
    route,
    requests,
    p95Ms: round(sketch.quantile(0.95), 3),
    p99Ms: round(sketch.quantile(0.99), 3),
    queriesPerRequest: round(queries / requests, 3),
    dbMsPerRequest: round(dbMs / requests, 3),
    errorRate: round(failures / requests, 4),
    statements: top,
  };
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/**
 * A version's figures from before a sidecar restart (the state file) beside its live profile's since: per
 * route the live figures once they served `minRequests` or at least as many as the restored ones, else the
 * restored ones; a route only one side has, from that side. So a version that served a few requests since
 * the restart still reads as it ran before it, and its own traffic takes over once there is enough to compare.
 */
export function withRestored(
  live: RouteFigures[],
  restored: RouteFigures[],
  minRequests: number,
): RouteFigures[] {
  if (restored.length === 0) return live;
  const key = (r: RouteFigures) => `${r.method} ${r.route}`;
  const out = new Map(restored.map((r) => [key(r), r]));
  for (const r of live) {
    const before = out.get(key(r));
    if (before === undefined || r.requests >= minRequests || r.requests >= before.requests)
      out.set(key(r), r);
  }
  return [...out.values()];
}
