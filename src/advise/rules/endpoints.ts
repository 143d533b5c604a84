/**
 * Endpoint rules: p95 over the route's SLO, naming the statements and namespaces that take its
 * time; and a 5xx rate at or over the threshold, naming statements that fail on the route.
 */
import type { EndpointRow } from '../../reports/types';
import type { Target } from '../types';
import {
  endpointLabel,
  fmtMs,
  fmtPct,
  meanRequestMs,
  OVERFLOW,
  type RuleContext,
  round,
  shortStatement,
  unitNoun,
} from './context';

/** Parts of a request's time listed as dominant at most. */
const TOP_PARTS = 3;

interface TimePart {
  label: string;
  msPerRequest: number;
}

export function endpointRules(ctx: RuleContext): void {
  const t = ctx.t.endpoint;
  for (const e of ctx.input.endpoints) {
    if (e.route === OVERFLOW || e.method === OVERFLOW) continue;
    const label = endpointLabel(e.method, e.route);
    const target: Target = { type: 'route', value: label };
    if (e.requests < t.minRequests) continue;
    ctx.observe('endpoint-slow', e.service, target);
    ctx.observe('endpoint-errors', e.service, target);
    const slo = ctx.sloFor(e.method, e.route);
    const slowRaised = ctx.raised('endpoint-slow', e.service, target);
    if (slo !== undefined && (e.p95Ms > slo || ctx.holds(e.p95Ms, slo, slowRaised !== undefined))) {
      const critical = e.p95Ms > 2 * slo || ctx.holds(e.p95Ms, 2 * slo, slowRaised === 'critical');
      slowEndpoint(ctx, e, label, target, slo, critical);
    }
    // A job or consumer run has no status code: its failures are its runs that ended in error.
    const failures = unitNoun(e.method) === 'run' ? e.errors : e.serverErrors;
    const rate = e.requests > 0 ? failures / e.requests : 0;
    const errorsRaised = ctx.raised('endpoint-errors', e.service, target);
    const max = t.maxServerErrorRate;
    if (failures > 0 && (rate >= max || ctx.holds(rate, max, errorsRaised !== undefined))) {
      const critical = rate >= 5 * max || ctx.holds(rate, 5 * max, errorsRaised === 'critical');
      errorEndpoint(ctx, e, label, target, rate, failures, critical);
    }
  }
}

function slowEndpoint(
  ctx: RuleContext,
  e: EndpointRow,
  label: string,
  target: Target,
  slo: number,
  critical: boolean,
): void {
  const mean = meanRequestMs(e);
  const unit = unitNoun(e.method);
  const parts = dominantParts(ctx, e, label);
  const split = {
    dbMsPerRequest: round(e.dbMsPerRequest),
    cacheMsPerRequest: round(e.cacheMsPerRequest),
    poolWaitMsPerRequest: round(e.poolWaitMsPerRequest),
    otherMsPerRequest: round(e.otherMsPerRequest),
  };
  ctx.emit({
    kind: 'endpoint-slow',
    severity: critical ? 'critical' : 'warning',
    service: e.service,
    target,
    title: `${label} p95 ${fmtMs(e.p95Ms)} over its ${fmtMs(slo)} SLO`,
    evidence: {
      requests: e.requests,
      p50Ms: round(e.p50Ms),
      p95Ms: round(e.p95Ms),
      p99Ms: round(e.p99Ms),
      sloMs: slo,
      meanMs: round(mean),
      ...split,
      queriesPerRequest: round(e.queriesPerRequest),
      cacheOpsPerRequest: round(e.cacheOpsPerRequest),
      dominantParts: parts.map((p) => `${p.label}: ${fmtMs(p.msPerRequest)}/${unit}`),
    },
    action: slowAction(e, parts, mean, unit),
    exampleTraceId: e.exampleTraceId || undefined,
  });
}

/** Statements and namespaces by time per request of the route, largest first. */
function dominantParts(ctx: RuleContext, e: EndpointRow, label: string): TimePart[] {
  const parts: TimePart[] = [];
  const perRequest = (totalMs: number) => (e.requests > 0 ? totalMs / e.requests : 0);
  const uses = ctx.uses(e.service, label);
  // A statement's calls may run concurrently (Promise.all): their sum can exceed the request. The
  // wall time the route spent in the database (or cache) bounds what fixing one of them can save.
  for (const q of uses.queries) {
    if (q.statement === OVERFLOW) continue;
    const shown = q.statement ? shortStatement(q.statement, 80) : `fingerprint ${q.fingerprint}`;
    parts.push({ label: `SQL ${shown}`, msPerRequest: Math.min(perRequest(q.totalMs), e.dbMsPerRequest) });
  }
  for (const c of uses.cache) {
    if (c.namespace === OVERFLOW) continue;
    parts.push({
      label: `cache ${c.namespace}`,
      msPerRequest: Math.min(perRequest(c.totalMs), e.cacheMsPerRequest),
    });
  }
  if (e.poolWaitMsPerRequest > 0)
    parts.push({ label: 'waiting for a pooled connection', msPerRequest: e.poolWaitMsPerRequest });
  if (e.otherMsPerRequest > 0)
    parts.push({ label: 'outside DB and cache (app code, other calls)', msPerRequest: e.otherMsPerRequest });
  return parts
    .filter((p) => p.msPerRequest > 0)
    .sort((a, b) => b.msPerRequest - a.msPerRequest)
    .slice(0, TOP_PARTS);
}

function slowAction(e: EndpointRow, parts: TimePart[], mean: number, unit: 'request' | 'run'): string {
  if (parts.length === 0) return 'Open the example trace to see where the time goes.';
  const list = parts
    .map(
      (p) => `${p.label} (${fmtMs(p.msPerRequest)}/${unit}, ${fmtPct(mean > 0 ? p.msPerRequest / mean : 0)})`,
    )
    .join('; ');
  const top = parts[0].label;
  const hint = top.startsWith('SQL')
    ? 'Fix that statement first (see its n-plus-one / slow-query / missing-index recommendations).'
    : top.startsWith('cache')
      ? `Cut the cache round trips first (MGET/pipeline, fewer keys per ${unit}).`
      : top.startsWith('waiting')
        ? 'Waiting for a database connection is the bottleneck (see pool-saturation or pool-connection-setup).'
        : 'The time is in the handler itself or calls spanstat does not see: profile it (node --cpu-prof) or read the example trace.';
  return `Time per ${unit} (mean ${fmtMs(mean)}, ${round(e.queriesPerRequest, 1)} queries): ${list}. ${hint}`;
}

function errorEndpoint(
  ctx: RuleContext,
  e: EndpointRow,
  label: string,
  target: Target,
  rate: number,
  failures: number,
  critical: boolean,
): void {
  const t = ctx.t.endpoint;
  const run = unitNoun(e.method) === 'run';
  const failing = ctx.input.queries
    .filter(
      (q) => q.service === e.service && q.errors > 0 && q.topEndpoints.some((x) => x.endpoint === label),
    )
    .sort((a, b) => b.errors - a.errors)
    .slice(0, TOP_PARTS);
  // Errors are counted per statement, not per route: the count is the service's, said as such.
  const failingText = failing.map(
    (q) => `${shortStatement(q.statement, 80)} (${q.errors} errors in the service)`,
  );
  ctx.emit({
    kind: 'endpoint-errors',
    severity: critical ? 'critical' : 'warning',
    service: e.service,
    target,
    title: run
      ? `${label}: ${fmtPct(rate)} of runs fail`
      : `${label}: ${fmtPct(rate)} of requests answer 5xx`,
    // A run's rate is its failed runs' (same threshold): the keys say which it is.
    evidence: run
      ? {
          runs: e.requests,
          failedRuns: failures,
          failureRate: round(rate, 4),
          maxServerErrorRate: t.maxServerErrorRate,
          failingStatements: failingText,
        }
      : {
          requests: e.requests,
          serverErrors: e.serverErrors,
          serverErrorRate: round(rate, 4),
          maxServerErrorRate: t.maxServerErrorRate,
          errors: e.errors,
          failingStatements: failingText,
        },
    action:
      (run
        ? `${failures} of ${e.requests} runs failed. `
        : `${failures} of ${e.requests} requests failed with a 5xx. `) +
      (failing.length
        ? `Statements this ${run ? 'job' : 'route'} runs that fail in the service: ${failingText.join('; ')} — start there. `
        : `No statement this ${run ? 'job' : 'route'} runs has failed: look at the ${run ? 'job' : 'handler'}, its other dependencies and the app log. `) +
      `The example trace shows one ${unitNoun(e.method)} end to end.`,
    exampleTraceId: e.exampleTraceId || undefined,
  });
}
