/**
 * The rule engine: pure, no I/O, no clock of its own. Reads report rows of one window (plus
 * index checks the Advisor ran beforehand) and returns what is wrong now.
 */
import { cacheRules } from './rules/cache';
import { RuleContext } from './rules/context';
import { deployRule } from './rules/deploys';
import { endpointRules } from './rules/endpoints';
import { idleInTransactionRule } from './rules/locks';
import { missingIndexRule } from './rules/missing-index';
import { nPlusOneRule } from './rules/n-plus-one';
import { poolRule } from './rules/pool';
import { queryRules } from './rules/queries';
import type {
  AdvisorInput,
  AdvisorThresholds,
  RaisedLookup,
  Recommendation,
  RecommendationKind,
  Severity,
} from './types';
import { RECOMMENDATION_KINDS, SEVERITIES } from './types';

const RULES: ((ctx: RuleContext) => void)[] = [
  nPlusOneRule,
  queryRules,
  missingIndexRule,
  idleInTransactionRule,
  cacheRules,
  endpointRules,
  poolRule,
  deployRule,
];

export interface Evaluation {
  recommendations: Recommendation[];
  /** Ids whose target had enough data to judge; an active recommendation absent here stays active. */
  observed: Set<string>;
}

/** `raised`: what the store holds active, so rules apply hysteresis (none without it). */
export function evaluateDetailed(
  input: AdvisorInput,
  thresholds: AdvisorThresholds,
  nowMs: number,
  raised?: RaisedLookup,
): Evaluation {
  const ctx = new RuleContext(thresholds, input, raised);
  for (const rule of RULES) rule(ctx);
  const byId = new Map<string, Recommendation>();
  for (const f of ctx.findings) {
    // Rows are keyed finer than targets only on overflow; keep the first (worst rows come first anyway).
    if (byId.has(f.id)) continue;
    byId.set(f.id, { ...f, firstSeenMs: nowMs, lastSeenMs: nowMs, state: 'active' });
    ctx.observed.add(f.id);
  }
  return { recommendations: sortRecommendations([...byId.values()]), observed: ctx.observed };
}

/** What is wrong in this window, most severe first. */
export function evaluate(
  input: AdvisorInput,
  thresholds: AdvisorThresholds,
  nowMs: number,
): Recommendation[] {
  return evaluateDetailed(input, thresholds, nowMs).recommendations;
}

const severityRank = (s: Severity) => SEVERITIES.indexOf(s);
const kindRank = (k: RecommendationKind) => RECOMMENDATION_KINDS.indexOf(k);

/** Active first, then severity (critical first), kind, service, title: a stable order for pages and tables. */
export function sortRecommendations(list: Recommendation[]): Recommendation[] {
  return list.sort(
    (a, b) =>
      (a.state === b.state ? 0 : a.state === 'active' ? -1 : 1) ||
      severityRank(b.severity) - severityRank(a.severity) ||
      kindRank(a.kind) - kindRank(b.kind) ||
      compare(a.service, b.service) ||
      compare(a.title, b.title) ||
      compare(a.id, b.id),
  );
}

/** Code-unit order: deterministic and much cheaper than localeCompare. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
