/** The advisor's vocabulary: its input (report rows of one window), its thresholds and its output. */
import type { SpanstatConfig } from '../config/schema';
import type { DeployComparison } from '../deploys/deploy-tracker';
import type {
  CacheRow,
  EndpointCacheRow,
  EndpointQueryRow,
  EndpointRow,
  PoolRow,
  QueryRow,
} from '../reports/types';
import type { LockWaitSummary } from './lock-waits';
import type { PredicateColumn } from './predicate-columns';

export type AdvisorConfig = SpanstatConfig['advisor'];
/** Rule thresholds (the advisor config; only the rule sections are read by `evaluate`). */
export type AdvisorThresholds = Pick<
  AdvisorConfig,
  | 'nPlusOne'
  | 'slowQuery'
  | 'topConsumer'
  | 'missingIndex'
  | 'cache'
  | 'endpoint'
  | 'pool'
  | 'deploy'
  | 'lockMinSamples'
  | 'idleInTransactionMs'
  | 'clearMargin'
>;

/** The severity of a recommendation active in the store, by id (hysteresis, RuleContext.holds). */
export type RaisedLookup = (id: string) => Severity | undefined;

export const RECOMMENDATION_KINDS = [
  'n-plus-one',
  'slow-query',
  'top-consumer',
  'missing-index',
  'idle-in-transaction',
  'cache-hit-rate',
  'cache-keys-command',
  'cache-single-reads',
  'cache-no-expiry',
  'endpoint-slow',
  'endpoint-errors',
  'pool-saturation',
  'pool-connection-setup',
  'deploy-regression',
] as const;
export type RecommendationKind = (typeof RECOMMENDATION_KINDS)[number];

export const SEVERITIES = ['info', 'warning', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const STATES = ['active', 'resolved'] as const;
export type RecommendationState = (typeof STATES)[number];

export interface Target {
  type: 'fingerprint' | 'route' | 'namespace' | 'pool';
  /**
   * Fingerprint, `GET /route`, namespace, or the pool's name (`host:port/database`; its system for
   * a pool whose spans name none, so such a pool keeps the id it had before pools were named).
   */
  value: string;
  /** `GET /route` the finding is about, for per-route findings on a fingerprint or namespace. */
  route?: string;
  /** Normalized statement (placeholders only, never literals). */
  statement?: string;
  table?: string;
  /** On pool targets: the pool's system (`postgresql`). */
  system?: string;
  /** On pool targets of a named pool: its name, as the pool metrics' `pool` label. */
  pool?: string;
}

export type Evidence = Record<string, number | string | boolean | null | string[]>;

export interface Recommendation {
  /** Stable: hash of kind, service and target; the same problem keeps its id across evaluations. */
  id: string;
  kind: RecommendationKind;
  severity: Severity;
  service: string;
  target: Target;
  /** One line saying what is wrong and where. */
  title: string;
  /** The numbers behind it (window figures; ms, shares 0..1, counts). */
  evidence: Evidence;
  /** What to do: a statement, a code pattern or a setting. */
  action: string;
  exampleTraceId?: string;
  firstSeenMs: number;
  lastSeenMs: number;
  state: RecommendationState;
  resolvedAtMs?: number;
}

/** What a rule emits; the store adds the id-keyed history fields. */
export type Finding = Omit<Recommendation, 'id' | 'firstSeenMs' | 'lastSeenMs' | 'state' | 'resolvedAtMs'>;

export interface RecommendationFilter {
  service?: string;
  kind?: RecommendationKind;
  state?: RecommendationState;
}

/** Report rows of one window, as the aggregator serves them. */
export interface AdvisorInput {
  queries: QueryRow[];
  cache: CacheRow[];
  endpoints: EndpointRow[];
  endpointQueries: EndpointQueryRow[];
  endpointCache: EndpointCacheRow[];
  pools: PoolRow[];
  /** Index checks for slow/top statements, filled by the Advisor's I/O edge before `evaluate`. */
  indexFindings?: IndexFinding[];
  /** Lock waits and idle-in-transaction sessions sampled from pg_stat_activity, filled likewise. */
  lockWaits?: LockWaitSummary;
  /** Services whose version changed, with both versions' figures (src/deploys), when versions are tracked. */
  deploys?: DeployComparison[];
}

/** A statement the advisor wants checked for a missing index. */
export interface IndexCandidate {
  service: string;
  fingerprint: string;
  statement: string;
  /** Why it was picked: `slow`, `top-consumer`, `mean` (PgHero's mean ≥ minMeanMs). */
  reason: string;
}

export type IndexSkipReason =
  | 'small-table'
  | 'covered'
  | 'plan-uses-index'
  | 'no-usable-columns'
  | 'not-a-table'
  | 'unknown-table'
  | 'needs-plan'
  | 'unselective'
  | 'unindexable-expression'
  | 'like-pattern'
  | 'needs-rewrite'
  | 'or-branch';

export interface IndexProposal {
  table: string;
  columns: string[];
  /** `CREATE INDEX CONCURRENTLY … ON … (…);` */
  statement: string;
  /** Estimated rows (pg_class.reltuples, or n_live_tup when never analyzed). */
  tableRows: number;
  /** Existing indexes as `name (col, col)`. */
  existingIndexes: string[];
  /**
   * An INVALID index (a `CREATE INDEX CONCURRENTLY` that failed or was cancelled) on these columns:
   * the planner ignores it while writes keep it up to date, and `statement` rebuilds it.
   */
  invalidIndex?: string;
  /** Generic plan of the statement, when it could be planned without values. */
  plan?: PlanEvidence;
  /**
   * For one branch of an OR: how every branch is served (`branch 1 (email): this index; branch 2
   * (phone): existing users_phone_idx`), which PostgreSQL combines with a BitmapOr.
   */
  bitmapOr?: string;
  /** A GIN index (containment on an array or jsonb column): EXPLAIN shows it as a Bitmap Index Scan. */
  method?: 'gin';
  /**
   * The filter to write instead, for an index to serve it (`x = ANY(tags)` → `tags @> ARRAY[x]`): the
   * index does nothing for the statement as the app sends it.
   */
  rewrite?: { from: string; to: string };
  /** An extension the index's operator class needs (pg_trgm), and whether it is installed. */
  extension?: { name: string; installed: boolean };
  /** A remark on the choice of index (the btree a prefix-only LIKE could use instead). */
  note?: string;
  /**
   * The table is partitioned into this many leaf partitions: `statement` creates the index ON ONLY
   * the parent, then each partition's (up to MAX_LISTED_PARTITIONS) concurrently, attaching it.
   */
  partitions?: number;
  /**
   * When it has more partitions than `statement` spells out: a query writing the same statements for
   * every partition, one per row in the order to run them (psql: end it with `\gexec`).
   */
  otherPartitionsSql?: string;
}

export interface PlanEvidence {
  /** How the plan was obtained: PG16+ `EXPLAIN (GENERIC_PLAN)`, or PREPARE + force_generic_plan. */
  method: 'generic-plan' | 'prepared-generic-plan';
  /** The table is read by a Seq Scan in the plan. */
  seqScan: boolean;
  /** Rows the planner expects the Seq Scan to return (per loop). */
  seqScanRows?: number;
  /** Total cost of the whole plan. */
  totalCost: number;
  /** Node types top-down, e.g. `Limit > Sort > Seq Scan on <table>`. */
  shape: string;
}

export interface IndexFinding {
  service: string;
  fingerprint: string;
  /** Columns the statement filters, joins and sorts on (from the parse tree). */
  columns: PredicateColumn[];
  /** A Postgres connection looked at tables, indexes and statistics. */
  checked: boolean;
  /** Why the check could not run (connection refused, timeout…); no statement text. */
  error?: string;
  proposals: IndexProposal[];
  skipped: { table: string; reason: IndexSkipReason; detail: string }[];
}
