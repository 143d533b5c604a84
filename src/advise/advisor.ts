/**
 * The advisor stage: every `intervalSeconds` it reads the report rows of its window from
 * `source`, checks the slow/top statements for missing indexes and reads the lock sampler's window
 * (the only I/O, optional), runs the pure rules and folds the result into the recommendation store.
 * Timer unref'd; start and shutdown are safe to call twice, and shutdown before start.
 */
import { evaluateDetailed } from './evaluate';
import { type IndexInspector, PgIndexInspector, uncheckedFinding } from './index-advisor';
import type { LockSamplerStatus } from './lock-sampler';
import type { LockWaitSummary } from './lock-waits';
import { loadParser } from './predicate-columns';
import { indexCandidates } from './rules/queries';
import { RecommendationStore, type StoreChanges } from './store';
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
  /** Lock waits of the window (createLockSampler); the Advisor starts and closes it. */
  lockSampler?: LockWaitSource;
  /**
   * The statement of a fingerprint with its names as written, when they have id parts (the fingerprinter's
   * sampleStatement): index checks run on it, and their findings are templated back (templated-finding.ts).
   */
  statementSample?: (fingerprint: string) => string | undefined;
}

/** What the Advisor needs of the lock sampler (lock-sampler.ts). */
export interface LockWaitSource {
  start(): void;
  summary(): LockWaitSummary;
  status(): LockSamplerStatus;
  close(): Promise<void>;
}

export interface AdvisorStatus {
  enabled: boolean;
  window: AdvisorConfig['window'];
  /** Evaluations run at start and then this often; readers tell "not yet" from "nothing found" by it. */
  intervalSeconds: number;
  indexChecks: boolean;
  /** The pg_stat_activity sampler's state, or null without one (no postgresUrl, lockSampleMs 0). */
  lockSampling: LockSamplerStatus | null;
  lastEvaluatedMs: number | null;
  lastDurationMs: number | null;
  lastError: string | null;
}

/** The read-only index inspector the config asks for (`advisor.postgresUrl`), or undefined. */
export function createIndexInspector(config: AdvisorConfig): PgIndexInspector | undefined {
  if (!config.postgresUrl) return undefined;
  return new PgIndexInspector({
    url: config.postgresUrl,
    timeoutMs: config.postgresTimeoutMs,
    cacheMs: config.indexCacheSeconds * 1000,
    minTableRows: config.missingIndex.minTableRows,
    maxColumns: config.missingIndex.maxColumns,
  });
}

export class Advisor {
  private readonly store: RecommendationStore;
  private readonly inspector: IndexInspector | undefined;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<StoreChanges> | undefined;
  private started = false;
  private stopped = false;
  private lastEvaluatedMs: number | null = null;
  private lastDurationMs: number | null = null;
  private lastError: string | null = null;

  /**
   * `config` is the `advisor` config section. The Advisor owns `pg` (or the inspector it creates
   * from `advisor.postgresUrl` when none is given) and closes it on shutdown.
   */
  constructor(
    private readonly config: AdvisorConfig,
    private readonly source: () => AdvisorInput,
    pg?: IndexInspector,
    private readonly options: AdvisorOptions = {},
  ) {
    this.inspector = pg ?? createIndexInspector(config);
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
    this.options.lockSampler?.start();
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
    await this.inspector?.close().catch(() => undefined);
    await this.options.lockSampler?.close().catch(() => undefined);
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

  status(): AdvisorStatus {
    return {
      enabled: this.config.enabled,
      window: this.config.window,
      intervalSeconds: this.config.intervalSeconds,
      indexChecks: this.inspector !== undefined,
      lockSampling: this.options.lockSampler?.status() ?? null,
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
      const lockWaits = this.options.lockSampler?.summary();
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
      const finding = this.inspector ? await this.inspector.inspect(checked) : uncheckedFinding(checked);
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
