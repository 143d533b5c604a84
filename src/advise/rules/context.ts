/** What every rule shares: thresholds, the input with lookups by key, and the emit/observe sinks. */

import { CONSUMER_METHOD, JOB_METHOD } from '../../model/classified';
import type { EndpointCacheRow, EndpointQueryRow, EndpointRow, QueryRow } from '../../reports/types';
import { recommendationId } from '../ids';
import type { LockWaitRow } from '../lock-waits';
import type {
  AdvisorInput,
  AdvisorThresholds,
  Finding,
  IndexFinding,
  RaisedLookup,
  RecommendationKind,
  Severity,
  Target,
} from '../types';

/** Label of the aggregator's overflow rows; they carry no actionable target. */
export const OVERFLOW = '(other)';

export interface IdentifiedFinding extends Finding {
  id: string;
}

export class RuleContext {
  readonly findings: IdentifiedFinding[] = [];
  /** Ids whose target had enough data in the window to judge (so an absent finding there means "cleared"). */
  readonly observed = new Set<string>();
  private queryIndex?: Map<string, QueryRow>;
  private endpointIndex?: Map<string, EndpointRow>;
  private findingIndex?: Map<string, IndexFinding>;
  private lockWaitIndex?: Map<string, LockWaitRow>;
  private fingerprintServices?: Map<string, string>;
  private usesIndex?: Map<string, { queries: EndpointQueryRow[]; cache: EndpointCacheRow[] }>;

  constructor(
    readonly t: AdvisorThresholds,
    readonly input: AdvisorInput,
    private readonly raisedLookup?: RaisedLookup,
  ) {}

  /** The severity of this recommendation if it is active now (from the previous evaluations). */
  raised(kind: RecommendationKind, service: string, target: Target): Severity | undefined {
    return this.raisedLookup?.(recommendationId(kind, service, target));
  }

  /**
   * Hysteresis for a figure where higher is worse (a miss rate, a 5xx rate, a p95): when `held` (the
   * recommendation is raised, or raised at the severity this line decides), the figure stays past
   * `line` until it is better than it by advisor.clearMargin, relative. Rules raise at their own line
   * (`>` or `>=` as before) and call this for the way back only, so nothing opens earlier than it did.
   */
  holds(figure: number, line: number, held: boolean): boolean {
    return held && figure > line * (1 - this.t.clearMargin);
  }

  emit(finding: Finding): void {
    this.findings.push({ ...finding, id: recommendationId(finding.kind, finding.service, finding.target) });
  }

  observe(kind: RecommendationKind, service: string, target: Target): void {
    this.observed.add(recommendationId(kind, service, target));
  }

  query(service: string, fingerprint: string): QueryRow | undefined {
    this.queryIndex ??= new Map(this.input.queries.map((q) => [`${q.service}\n${q.fingerprint}`, q]));
    return this.queryIndex.get(`${service}\n${fingerprint}`);
  }

  endpoint(service: string, label: string): EndpointRow | undefined {
    this.endpointIndex ??= new Map(
      this.input.endpoints.map((e) => [`${e.service}\n${endpointLabel(e.method, e.route)}`, e]),
    );
    return this.endpointIndex.get(`${service}\n${label}`);
  }

  indexFinding(service: string, fingerprint: string): IndexFinding | undefined {
    this.findingIndex ??= new Map(
      (this.input.indexFindings ?? []).map((f) => [`${f.service}\n${f.fingerprint}`, f]),
    );
    return this.findingIndex.get(`${service}\n${fingerprint}`);
  }

  /** The window's lock waits of a fingerprint (the sampler sees the database, not services). */
  lockWait(fingerprint: string): LockWaitRow | undefined {
    this.lockWaitIndex ??= new Map((this.input.lockWaits?.waits ?? []).map((w) => [w.fingerprint, w]));
    return this.lockWaitIndex.get(fingerprint);
  }

  /** The first service whose statements of the window include `fingerprint`. */
  serviceOf(fingerprint: string): string | undefined {
    if (!this.fingerprintServices) {
      this.fingerprintServices = new Map();
      for (const q of this.input.queries)
        if (!this.fingerprintServices.has(q.fingerprint))
          this.fingerprintServices.set(q.fingerprint, q.service);
    }
    return this.fingerprintServices.get(fingerprint);
  }

  /** Per-request use rows (statements and namespaces) of one endpoint. */
  uses(service: string, label: string): { queries: EndpointQueryRow[]; cache: EndpointCacheRow[] } {
    if (!this.usesIndex) {
      const index = new Map<string, { queries: EndpointQueryRow[]; cache: EndpointCacheRow[] }>();
      const slot = (row: { service: string; method: string; route: string }) => {
        const key = `${row.service}\n${endpointLabel(row.method, row.route)}`;
        const entry = index.get(key) ?? { queries: [], cache: [] };
        index.set(key, entry);
        return entry;
      };
      for (const q of this.input.endpointQueries) slot(q).queries.push(q);
      for (const c of this.input.endpointCache) slot(c).cache.push(c);
      this.usesIndex = index;
    }
    return this.usesIndex.get(`${service}\n${label}`) ?? { queries: [], cache: [] };
  }

  /**
   * The SLO of a route: `routeSloMs['GET /x']`, then `routeSloMs['/x']`, then `sloMs`. A job or
   * consumer has one only when `routeSloMs` names it: `sloMs` is a request's latency target, and a
   * run's duration has no such common measure (a digest may rightly take seconds).
   */
  sloFor(method: string, route: string): number | undefined {
    const overrides = this.t.endpoint.routeSloMs;
    const named = overrides[endpointLabel(method, route)] ?? overrides[route];
    if (named !== undefined || unitNoun(method) === 'run') return named;
    return this.t.endpoint.sloMs;
  }
}

/**
 * What one unit of an endpoint row is called in advice: a `run` for jobs and message consumers
 * (JOB_METHOD, CONSUMER_METHOD), else a `request`.
 */
export function unitNoun(method: string): 'run' | 'request' {
  return method === JOB_METHOD || method === CONSUMER_METHOD ? 'run' : 'request';
}

export function endpointLabel(method: string, route: string): string {
  return method ? `${method} ${route}` : route;
}

/** Mean request duration from the endpoint row's time split (the split covers the whole request). */
export function meanRequestMs(e: EndpointRow): number {
  return e.dbMsPerRequest + e.cacheMsPerRequest + e.poolWaitMsPerRequest + e.otherMsPerRequest;
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function fmtMs(value: number): string {
  if (value >= 10_000) return `${round(value / 1000, 1)} s`;
  if (value >= 100) return `${Math.round(value)} ms`;
  return `${round(value, 1)} ms`;
}

/** A rate for titles: whole numbers from 10 up, one decimal below (`12.5822` → `13`, `4.25` → `4.3`). */
export function fmtRate(value: number): string {
  return `${value >= 10 ? Math.round(value) : round(value, 1)}`;
}

export function fmtPct(share: number): string {
  const p = share * 100;
  return `${p >= 10 || p === 0 ? Math.round(p) : round(p, 1)}%`;
}

/** A statement shortened for titles: whitespace collapsed, cut at `max` characters. */
export function shortStatement(statement: string, max = 60): string {
  const flat = statement.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
