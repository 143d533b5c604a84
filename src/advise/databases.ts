/**
 * The databases the advisor reads for index advice and lock sampling. One per service: in collector
 * mode with services on several databases, `advisor.databases` names each URL's services, and every
 * other service's statements are checked against `advisor.postgresUrl` (if set). Each database has its
 * own index inspector (connection, cache) and lock sampler; their lock windows are read as one, since
 * the lock rules tie waits to services by statement fingerprint.
 */
import type { SqlShape } from '../sql';
import type { IndexInspector } from './index-advisor';
import { createLockSampler, type LockSamplerLogger, type LockSamplerStatus } from './lock-sampler';
import { type LockWaitSummary, mergeLockSummaries } from './lock-waits';
import type { AdvisorConfig } from './types';

/** What the advisor needs of a lock sampler (lock-sampler.ts's PgLockSampler). */
export interface LockWaitSource {
  start(): void;
  summary(): LockWaitSummary;
  status(): LockSamplerStatus;
  close(): Promise<void>;
}

/** One database the advisor reads, and whose statements it checks there. */
export interface AdvisorDatabase {
  /** `database@host:port`, from its URL: never its user or password. */
  label: string;
  /** The services whose statements run there; null for advisor.postgresUrl's (every service not listed). */
  services: readonly string[] | null;
  inspector?: IndexInspector;
  lockSampler?: LockWaitSource;
}

/** A database as GET /api/v1/recommendations' `advisor.databases` shows it. */
export interface AdvisorDatabaseStatus {
  database: string;
  services: string[] | null;
  indexChecks: boolean;
  lockSampling: LockSamplerStatus | null;
}

export class AdvisorDatabases {
  private readonly byService = new Map<string, AdvisorDatabase>();
  private readonly fallback: AdvisorDatabase | undefined;

  constructor(private readonly databases: AdvisorDatabase[]) {
    for (const db of databases) for (const service of db.services ?? []) this.byService.set(service, db);
    this.fallback = databases.find((db) => db.services === null);
  }

  /** The inspector of the database the service's statements run on, if that one is checked. */
  inspectorFor(service: string): IndexInspector | undefined {
    return (this.byService.get(service) ?? this.fallback)?.inspector;
  }

  get indexChecks(): boolean {
    return this.databases.some((db) => db.inspector !== undefined);
  }

  start(): void {
    for (const db of this.databases) db.lockSampler?.start();
  }

  async close(): Promise<void> {
    await Promise.all(
      this.databases.flatMap((db) => [
        db.inspector?.close().catch(() => undefined),
        db.lockSampler?.close().catch(() => undefined),
      ]),
    );
  }

  /** The lock window of every sampled database, as one; undefined when none is sampled. */
  lockWaits(): LockWaitSummary | undefined {
    const summaries = this.samplers().map((db) => db.lockSampler.summary());
    return summaries.length ? mergeLockSummaries(summaries) : undefined;
  }

  /**
   * The samplers' state as one (the advisor status' `lockSampling`, the metrics' lock-wait seconds):
   * seconds waited summed, the longest idle transaction, the first error named by its database,
   * `readAllStats` false when any database hides other roles' sessions.
   */
  lockStatus(): LockSamplerStatus | null {
    const sampled = this.samplers();
    if (sampled.length === 0) return null;
    if (sampled.length === 1) return sampled[0].lockSampler.status();
    const all = sampled.map((db) => ({ label: db.label, status: db.lockSampler.status() }));
    const failed = all.find((s) => s.status.lastError !== null);
    const last = all.map((s) => s.status.lastSampleMs).filter((ms): ms is number => ms !== null);
    const privileges = all.map((s) => s.status.readAllStats);
    return {
      sampleMs: all[0].status.sampleMs,
      samples: Math.max(...all.map((s) => s.status.samples)),
      lastSampleMs: last.length ? Math.max(...last) : null,
      lastError: failed ? `${failed.label}: ${failed.status.lastError}` : null,
      readAllStats: privileges.includes(false) ? false : privileges.includes(true) ? true : null,
      lockWaitSeconds: all.reduce((sum, s) => sum + s.status.lockWaitSeconds, 0),
      idleInTransactionSeconds: Math.max(...all.map((s) => s.status.idleInTransactionSeconds)),
    };
  }

  status(): AdvisorDatabaseStatus[] {
    return this.databases.map((db) => ({
      database: db.label,
      services: db.services === null ? null : [...db.services],
      indexChecks: db.inspector !== undefined,
      lockSampling: db.lockSampler?.status() ?? null,
    }));
  }

  private samplers(): (AdvisorDatabase & { lockSampler: LockWaitSource })[] {
    return this.databases.filter((db): db is AdvisorDatabase & { lockSampler: LockWaitSource } =>
      Boolean(db.lockSampler),
    );
  }
}

/** `database@host:port` of a postgres:// URL (what it names, never its credentials). */
export function databaseLabel(url: string): string {
  try {
    const u = new URL(url);
    const database = decodeURIComponent(u.pathname.replace(/^\//, '')) || u.searchParams.get('dbname') || '?';
    const host = u.hostname || u.searchParams.get('host') || 'localhost';
    return `${database}@${host}:${u.port || '5432'}`;
  } catch {
    return 'a database whose URL does not parse';
  }
}

/**
 * The databases the config names: one per `advisor.databases` entry, then advisor.postgresUrl's for
 * every other service. `inspector` builds one URL's index inspector.
 */
export function createAdvisorDatabases(
  config: AdvisorConfig,
  inspector: (url: string) => IndexInspector | undefined,
  fingerprint: (text: string) => SqlShape,
  logger?: LockSamplerLogger,
): AdvisorDatabases {
  const entries: { url: string; services: readonly string[] | null }[] = [
    ...config.databases,
    ...(config.postgresUrl ? [{ url: config.postgresUrl, services: null }] : []),
  ];
  const several = entries.length > 1;
  return new AdvisorDatabases(
    entries.map(({ url, services }) => {
      const label = databaseLabel(url);
      return {
        label,
        services,
        inspector: inspector(url),
        lockSampler: createLockSampler(
          config,
          fingerprint,
          logger && several ? labelledLogger(logger, label) : logger,
          url,
        ),
      };
    }),
  );
}

/** A logger whose lines name the database, when the sidecar samples more than one. */
function labelledLogger(logger: LockSamplerLogger, database: string): LockSamplerLogger {
  return {
    warn: (obj, msg) => logger.warn({ ...obj, database }, msg),
    info: (obj, msg) => (logger.info ?? logger.warn).call(logger, { ...obj, database }, msg),
  };
}
