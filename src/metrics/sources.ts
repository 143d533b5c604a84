/**
 * What the metrics read from the rest of the sidecar at scrape time: the advisor's active
 * recommendations and the sidecar's own counters. Plain shapes, so the metrics module does not
 * depend on the advisor's or the receiver's internals.
 */

/** One active recommendation as a metric series (`spanstat_recommendation_active`). */
export interface RecommendationSeries {
  service: string;
  /** Stable id of the recommendation (links the alert to `/api/v1/recommendations`). */
  id: string;
  /** `n_plus_one`, `slow_query`, `missing_index`, `cache_hit_rate`, … */
  kind: string;
  /** `info` | `warning` | `critical`. */
  severity: string;
  /** Route, fingerprint, namespace or pool the recommendation is about. */
  target: string;
  /**
   * The target's parts as the other metrics label them (absent when not part of it), so a rule can
   * match the recommendation to the alert about the same thing (config/alerts.yml `unless`).
   */
  fingerprint?: string;
  method?: string;
  route?: string;
  namespace?: string;
  system?: string;
  /** The pool's name (the `pool` label of the pool metrics); absent for a pool whose spans name none. */
  pool?: string;
  /** What is wrong, with its numbers (changes between evaluations). Must hold no literal value. */
  title?: string;
  /** What to do (may quote numbers too); shortened by the exporter. Must hold no literal value. */
  action: string;
}

/** The sidecar's own health; counters are cumulative since start. */
export interface SidecarHealth {
  spansReceived: number;
  /** Decoded but refused (answered 5xx): the exporter is told to retry. */
  spansRejected: number;
  /**
   * OTLP requests refused before their spans were decoded, by reason: `overloaded` (503 +
   * Retry-After), `too_large` (413), `unsupported_media` (415). Spans in them are not counted anywhere.
   */
  requestsRefused?: Partial<Record<'overloaded' | 'too_large' | 'unsupported_media', number>>;
  /** Accepted but not fully processed (failed in a stage, over a per-trace cap). */
  spansDropped: number;
  /** Bodies answered 400 because they could not be decoded. */
  decodeErrors: number;
  /** Spans decoded and waiting to be processed. */
  queueDepth: number;
  /** Traces held open for request assembly. */
  openTraces?: number;
  /** Spans of accepted bodies relayed upstream (`forward`), by outcome; absent when not forwarding. */
  forwardedSpans?: Record<'sent' | 'dropped' | 'rejected', number>;
  /** Data points of the metrics bodies relayed upstream, by outcome; absent when not forwarding. */
  forwardedDataPoints?: Record<'sent' | 'dropped' | 'rejected', number>;
  /** Log records of the logs bodies relayed upstream, by outcome; absent when not forwarding. */
  forwardedLogRecords?: Record<'sent' | 'dropped' | 'rejected', number>;
}

/** What the lock sampler saw (src/advise/lock-sampler.ts status); absent without lock sampling. */
export interface LockActivity {
  /** Estimated session-seconds spent waiting on locks since start. */
  lockWaitSeconds: number;
  /** Longest idle-in-transaction time at the latest sample (s). */
  idleInTransactionSeconds: number;
  /** Samples taken: before the first one there is nothing to report. */
  samples: number;
}

/** Longest title or action text kept on `spanstat_recommendation_info` (characters). */
export const MAX_ACTION_CHARS = 300;

/** One line, whitespace collapsed, cut at `max` characters with an ellipsis. */
export function shortenText(text: string, max: number): string {
  const line = text.replace(/\s+/g, ' ').trim();
  if (line.length <= max) return line;
  return `${line.slice(0, Math.max(0, max - 1)).trimEnd()}…`;
}

/** An action or title as a label value: one line of at most `MAX_ACTION_CHARS` characters. */
export function shortenAction(action: string): string {
  return shortenText(action, MAX_ACTION_CHARS);
}

/** The advisor's recommendation, as far as the metric reads it (structural: see src/advise/types.ts). */
export interface RecommendationLike {
  id: string;
  kind: string;
  severity: string;
  service: string;
  state: string;
  title?: string;
  action: string;
  target: { type: string; value: string; route?: string; statement?: string; system?: string; pool?: string };
}

/**
 * Active recommendations as metric series. The target reads as people say it: the route, the
 * namespace (with its route when per-route), or the statement — never the bare fingerprint hash.
 * The exporter keeps the changing texts (title, action: they quote the current numbers) off the
 * `active` series, whose labels must stay stable for the alert to keep its identity.
 */
export function recommendationSeries(list: readonly RecommendationLike[]): RecommendationSeries[] {
  const out: RecommendationSeries[] = [];
  for (const r of list) {
    if (r.state !== 'active') continue;
    const t = r.target;
    const what = t.type === 'fingerprint' ? (t.statement ?? t.value) : t.value;
    const target = t.route && t.route !== what ? `${t.route} ${what}` : what;
    out.push({
      service: r.service,
      id: r.id,
      kind: r.kind,
      severity: r.severity,
      target,
      title: r.title,
      action: r.action,
      ...targetLabels(t),
    });
  }
  return out;
}

/** The target's fingerprint, method and route, namespace, or pool system and name, as metric labels. */
function targetLabels(t: RecommendationLike['target']): Partial<RecommendationSeries> {
  switch (t.type) {
    case 'fingerprint':
      return { fingerprint: t.value, ...(t.route ? splitEndpoint(t.route) : {}) };
    case 'route':
      return splitEndpoint(t.value);
    case 'namespace':
      return { namespace: t.value, ...(t.route ? splitEndpoint(t.route) : {}) };
    case 'pool':
      // A pool target's value is its name, or its system for a pool whose spans name none.
      return { system: t.system ?? t.value, ...(t.pool ? { pool: t.pool } : {}) };
    default:
      return {};
  }
}

/** `GET /orders/:id` → method and route; a label without a method is the route alone. */
function splitEndpoint(label: string): { method?: string; route: string } {
  const space = label.indexOf(' ');
  const method = space > 0 ? label.slice(0, space) : '';
  return /^[A-Z_]+$/.test(method) ? { method, route: label.slice(space + 1) } : { route: label };
}
