/**
 * Deploy regressions: a route that got slower, runs more queries per request or fails more often under
 * a service's new version than under the version before it (src/deploys: each version's own requests,
 * its last one to two `advisor.deploy.windowSeconds`), naming the statements whose calls or time per
 * request changed most. Ends when the figures are back (hysteresis as the threshold rules), when a
 * later version no longer shows it, or `settleMinutes` after the deploy, when the new version's figures
 * are the service's normal and the ordinary rules alone judge it.
 */
import {
  comparable,
  type RouteRegression,
  regressed,
  routeRegression,
  type StatementChange,
  statementChanges,
} from '../../deploys/compare';
import type { DeployComparison } from '../../deploys/deploy-tracker';
import type { RouteFigures } from '../../deploys/version-profile';
import type { Target } from '../types';
import { endpointLabel, fmtMs, fmtPct, type RuleContext, round, shortStatement, unitNoun } from './context';

const KIND = 'deploy-regression';

export function deployRule(ctx: RuleContext): void {
  for (const d of ctx.input.deploys ?? []) {
    const base = new Map(d.baseline.map((r) => [endpointLabel(r.method, r.route), r]));
    for (const cur of d.current) {
      const label = endpointLabel(cur.method, cur.route);
      const target: Target = { type: 'route', value: label };
      const before = base.get(label);
      if (d.settled) {
        // The new version is the normal now: observed, so what was raised resolves.
        ctx.observe(KIND, d.service, target);
        continue;
      }
      if (before === undefined || !comparable(before, cur, ctx.t.deploy)) continue;
      ctx.observe(KIND, d.service, target);
      const raised = ctx.raised(KIND, d.service, target);
      const r = routeRegression(before, cur, ctx.t.deploy, {
        held: raised !== undefined,
        clearMargin: ctx.t.clearMargin,
      });
      if (!regressed(r)) continue;
      emitRegression(ctx, d, { before, cur, label, target, regression: r }, raised === 'critical');
    }
    // Settled: the baseline's routes too, so one the new version no longer serves resolves now rather
    // than after advisor.unobservedResolveSeconds.
    if (d.settled)
      for (const label of base.keys()) ctx.observe(KIND, d.service, { type: 'route', value: label });
  }
}

/** One route's figures under both versions and what regressed. */
interface RouteCase {
  before: RouteFigures;
  cur: RouteFigures;
  label: string;
  target: Target;
  regression: RouteRegression;
}

function emitRegression(ctx: RuleContext, d: DeployComparison, c: RouteCase, wasCritical: boolean): void {
  const { before, cur, label, target } = c;
  const { latency, queries, errors } = c.regression;
  const t = ctx.t.deploy;
  const unit = unitNoun(cur.method);
  const criticalLatency = Math.max(before.p95Ms * 2 * t.latencyRatio, before.p95Ms + 2 * t.minLatencyDeltaMs);
  const criticalErrors = before.errorRate + 5 * t.errorRateDelta;
  const critical =
    (latency && (cur.p95Ms >= criticalLatency || ctx.holds(cur.p95Ms, criticalLatency, wasCritical))) ||
    (errors && (cur.errorRate >= criticalErrors || ctx.holds(cur.errorRate, criticalErrors, wasCritical)));
  const queryOnly = !latency && !errors;
  const severity = critical
    ? 'critical'
    : queryOnly && cur.queriesPerRequest - before.queriesPerRequest < ctx.t.nPlusOne.minRepeats
      ? 'info'
      : 'warning';
  const changes = statementChanges(before, cur);
  const causes = changes.map((c) => causeText(c, d.statements, unit));
  const since = `since version ${d.version} (first seen ${clock(d.deployedAtMs)})`;
  const what = latency
    ? `p95 ${fmtMs(before.p95Ms)} → ${fmtMs(cur.p95Ms)}`
    : errors
      ? `${unit === 'run' ? 'failed runs' : '5xx'} ${fmtPct(before.errorRate)} → ${fmtPct(cur.errorRate)}`
      : `queries per ${unit} ${round(before.queriesPerRequest, 1)} → ${round(cur.queriesPerRequest, 1)}`;
  ctx.emit({
    kind: KIND,
    severity,
    service: d.service,
    target,
    title: `${label} ${what} ${since}`,
    evidence: {
      version: d.version,
      baselineVersion: d.baselineVersion,
      previousVersion: d.previousVersion,
      deployedAt: new Date(d.deployedAtMs).toISOString(),
      regressed: [latency ? 'p95' : '', queries ? 'queriesPerRequest' : '', errors ? 'errorRate' : ''].filter(
        Boolean,
      ),
      baselineRequests: before.requests,
      requests: cur.requests,
      baselineP95Ms: round(before.p95Ms),
      p95Ms: round(cur.p95Ms),
      baselineP99Ms: round(before.p99Ms),
      p99Ms: round(cur.p99Ms),
      baselineQueriesPerRequest: round(before.queriesPerRequest),
      queriesPerRequest: round(cur.queriesPerRequest),
      baselineDbMsPerRequest: round(before.dbMsPerRequest),
      dbMsPerRequest: round(cur.dbMsPerRequest),
      baselineErrorRate: round(before.errorRate, 4),
      errorRate: round(cur.errorRate, 4),
      changedStatements: causes,
    },
    action: actionText(d, cur, changes, causes, unit),
  });
}

/**
 * `SELECT … = $1` now runs 10× per request (was 1×), 31 ms per request (was 3.1 ms); one that runs as often
 * but slower, `SELECT …` now takes 40 ms per call (was 2 ms), …; one the baseline did not run, `SELECT …`
 * is new: 10× per request, 29 ms per request.
 */
function causeText(c: StatementChange, statements: Record<string, string>, unit: string): string {
  const text = statements[c.fingerprint];
  const name = text ? `\`${shortStatement(text, 100)}\`` : `fingerprint ${c.fingerprint}`;
  const calls = fmtCalls(c.after?.callsPerRequest ?? 0);
  const ms = fmtMs(c.after?.msPerRequest ?? 0);
  const before = c.before;
  const after = c.after;
  // As often as before but slower: its time per call says so (a dropped index, a changed plan).
  if (
    before !== undefined &&
    after !== undefined &&
    Math.abs(c.deltaCallsPerRequest) < 0.5 &&
    before.callsPerRequest > 0
  )
    return (
      `${name} now takes ${fmtMs(after.msPerRequest / after.callsPerRequest)} per call ` +
      `(was ${fmtMs(before.msPerRequest / before.callsPerRequest)}), ${ms} per ${unit} (was ${fmtMs(before.msPerRequest)})`
    );
  if (before !== undefined)
    return `${name} now runs ${calls} per ${unit} (was ${fmtCalls(before.callsPerRequest)}), ${ms} per ${unit} (was ${fmtMs(before.msPerRequest)})`;
  if (c.beforeComplete) return `${name} is new: ${calls} per ${unit}, ${ms} per ${unit}`;
  return `${name} now runs ${calls} per ${unit}, ${ms} per ${unit} (before: not among the route's top statements)`;
}

function actionText(
  d: DeployComparison,
  cur: RouteFigures,
  changes: StatementChange[],
  causes: string[],
  unit: string,
): string {
  const compared = `Compared with ${d.baselineVersion} over each version's own ${unit}s of this route (${cur.requests} now).`;
  const loop = changes.some((c) => c.deltaCallsPerRequest >= 1);
  const hint = causes.length
    ? `${causes.join('; ')}. ${
        loop
          ? `A statement that runs more often per ${unit} is usually a new per-item loop: fetch the items at once (\`= ANY($1)\`, a join, the ORM's eager load).`
          : 'A statement that got slower without running more often points at its plan: a dropped or unused index, a changed filter or join (see its slow-query / missing-index advice).'
      }`
    : `No statement's calls or time per ${unit} changed much: the time is in the handler or calls spanstat does not see; compare the example traces of the two versions.`;
  return `${compared} ${hint} Look at what ${d.version} changed on this path, or roll back to ${d.baselineVersion}.`;
}

function fmtCalls(n: number): string {
  return `${n >= 10 ? Math.round(n) : round(n, 1)}×`;
}

/** `12:03 UTC` (the ISO time is in the evidence). */
function clock(ms: number): string {
  return `${new Date(ms).toISOString().slice(11, 16)} UTC`;
}
