/**
 * The advisor stage: every `intervalSeconds` it reads the report rows of its window from
 * `source`, checks the slow/top statements for missing indexes and reads the lock sampler's window
 * (the only I/O, optional), runs the pure rules and folds the result into the recommendation store.
 * Timer unref'd; start and shutdown are safe to call twice, and shutdown before start.
 */
import {
  type AdvisorDatabaseStatus,
  AdvisorDatabases,
  databaseLabel,
  type LockWaitSource,
} from './databases';
import { evaluateDetailed } from './evaluate';
import { type IndexInspector, PgIndexInspector, uncheckedFinding } from './index-advisor';
import type { LockSamplerStatus } from './lock-sampler';
import { loadParser } from './predicate-columns';
import { indexCandidates } from './rules/queries';
import { RecommendationStore, type StoreChanges } from './store';
import type { RecommendationsSnapshot } from './store-state';
import { templateFinding } from './templated-finding';
import type {
  AdvisorConfig,
  AdvisorInput,
  IndexFinding,
  Recommendation,
  RecommendationFilter,
} from './types';

export interface AdvisorLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface AdvisorOptions {
  logger?: AdvisorLogger;
  /** Clock (ms since the epoch); the sidecar passes its receive clock in tests. */
  now?: () => number;
  /**
   * The databases to check and sample (createAdvisorDatabases); the Advisor starts and closes them.
   * Without it: the inspector given to the constructor (else advisor.postgresUrl's) and `lockSampler`.
   */
  databases?: AdvisorDatabases;
  /** Lock waits of the window (createLockSampler), when no `databases` are given. */
  lockSampler?: LockWaitSource;
  /**
   * The statement of a fingerprint with its names as written, when they have id parts (the fingerprinter's
   * sampleStatement): index checks run on it, and their findings are templated back (templated-finding.ts).
   */
  statementSample?: (fingerprint: string) => string | undefined;
}

export type { LockWaitSource } from './databases';

export interface AdvisorStatus {
  enabled: boolean;
  window: AdvisorConfig['window'];
  /** Evaluations run at start and then this often; readers tell "not yet" from "nothing found" by it. */
  intervalSeconds: number;
  indexChecks: boolean;
  /**
   * The pg_stat_activity samplers' state (one per database, read as one), or null without one (no
   * database URL, lockSampleMs 0).
   */
  lockSampling: LockSamplerStatus | null;
  /** Each database checked and sampled, and whose services' statements. */
  databases: AdvisorDatabaseStatus[];
  lastEvaluatedMs: number | null;
  lastDurationMs: number | null;
  lastError: string | null;
}

/** The read-only index inspector of a database URL (`advisor.postgresUrl` unless given), or undefined. */
export function createIndexInspector(
  config: AdvisorConfig,
  url: string = config.postgresUrl,
): PgIndexInspector | undefined {
  if (!url) return undefined;
  return new PgIndexInspector({
    url,
    timeoutMs: config.postgresTimeoutMs,
    cacheMs: config.indexCacheSeconds * 1000,
    minTableRows: config.missingIndex.minTableRows,
    maxColumns: config.missingIndex.maxColumns,
  });
}

export class Advisor {
  private readonly store: RecommendationStore;
  private readonly databases: AdvisorDatabases;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<StoreChanges> | undefined;
  private started = false;
  private stopped = false;
  private lastEvaluatedMs: number | null = null;
  private lastDurationMs: number | null = null;
  private lastError: string | null = null;

  /**
   * `config` is the `advisor` config section. The Advisor owns its databases (`options.databases`,
   * else `pg` or the inspector it creates from `advisor.postgresUrl`) and closes them on shutdown.
   */
  constructor(
    private readonly config: AdvisorConfig,
    private readonly source: () => AdvisorInput,
    pg?: IndexInspector,
    private readonly options: AdvisorOptions = {},
  ) {
    const inspector = pg ?? createIndexInspector(config);
    this.databases =
      options.databases ??
      new AdvisorDatabases(
        inspector || options.lockSampler
          ? [
              {
                label: config.postgresUrl ? databaseLabel(config.postgresUrl) : 'the database given',
                services: null,
                inspector,
                lockSampler: options.lockSampler,
              },
            ]
          : [],
      );
    this.now = options.now ?? Date.now;
    this.store = new RecommendationStore({
      maxEntries: config.maxRecommendations,
      resolvedRetentionMs: config.resolvedRetentionSeconds * 1000,
      unobservedResolveMs: config.unobservedResolveSeconds * 1000,
    });
  }

  async start(): Promise<void> {
    if (this.started || this.stopped || !this.config.enabled) return;
    this.started = true;
    this.databases.start();
    await loadParser();
    if (this.stopped) return;
    await this.evaluateNow();
    if (this.stopped) return;
    this.timer = setInterval(() => void this.evaluateNow(), this.config.intervalSeconds * 1000);
    this.timer.unref();
  }

  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
    await this.databases.close();
  }

  /** Runs one evaluation now (or joins the one in progress); never throws — errors go to status and log. */
  evaluateNow(): Promise<StoreChanges> {
    this.running ??= this.evaluateOnce().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  list(filter: RecommendationFilter = {}): Recommendation[] {
    return this.store.list(filter);
  }

  get(id: string): Recommendation | undefined {
    return this.store.get(id);
  }

  /** The store, for the state file. */
  snapshot(): RecommendationsSnapshot {
    return this.store.snapshot();
  }

  /**
   * The store as a previous run left it (before start): its active recommendations are served, and on
   * /metrics, at once, and resolve by the store's rules; those unseen too long resolve now (logged).
   */
  restore(snapshot: RecommendationsSnapshot): void {
    this.logChanges({ opened: [], resolved: this.store.restore(snapshot, this.now()) });
  }

  status(): AdvisorStatus {
    return {
      enabled: this.config.enabled,
      window: this.config.window,
      intervalSeconds: this.config.intervalSeconds,
      indexChecks: this.databases.indexChecks,
      lockSampling: this.databases.lockStatus(),
      databases: this.databases.status(),
      lastEvaluatedMs: this.lastEvaluatedMs,
      lastDurationMs: this.lastDurationMs,
      lastError: this.lastError,
    };
  }

  private async evaluateOnce(): Promise<StoreChanges> {
    const started = this.now();
    try {
      await loadParser();
      const input = this.source();
      const indexFindings = await this.checkIndexes(input);
      const nowMs = this.now();
      const lockWaits = this.databases.lockWaits();
      const evaluation = evaluateDetailed(
        { ...input, indexFindings, lockWaits },
        this.config,
        nowMs,
        (id) => {
          const held = this.store.get(id);
          return held?.state === 'active' ? held.severity : undefined;
        },
      );
      const changes = this.store.update(evaluation, nowMs);
      this.lastEvaluatedMs = nowMs;
      this.lastError = null;
      this.logChanges(changes);
      return changes;
    } catch (err) {
      this.lastError = (err as Error).message ?? String(err);
      this.options.logger?.warn({ err }, 'advisor: evaluation failed');
      return { opened: [], resolved: [] };
    } finally {
      this.lastDurationMs = this.now() - started;
    }
  }

  private async checkIndexes(input: AdvisorInput): Promise<IndexFinding[]> {
    const candidates = indexCandidates(input, this.config).slice(0, this.config.maxIndexChecks);
    const findings: IndexFinding[] = [];
    for (const c of candidates) {
      if (this.stopped) break;
      // `tenant_*.invoices` names no table: the check reads one tenant's, and says so only as `tenant_*`.
      const sample = this.options.statementSample?.(c.fingerprint);
      const checked = sample === undefined ? c : { ...c, statement: sample };
      const inspector = this.databases.inspectorFor(c.service);
      const finding = inspector ? await inspector.inspect(checked) : uncheckedFinding(checked);
      findings.push(sample === undefined ? finding : templateFinding(finding));
    }
    return findings;
  }

  private logChanges(changes: StoreChanges): void {
    const logger = this.options.logger;
    if (!logger) return;
    for (const r of changes.opened) {
      logger.info(
        { id: r.id, kind: r.kind, severity: r.severity, service: r.service },
        `advisor: ${r.title}`,
      );
    }
    for (const r of changes.resolved) {
      logger.info({ id: r.id, kind: r.kind, service: r.service }, `advisor: resolved: ${r.title}`);
    }
  }
}
