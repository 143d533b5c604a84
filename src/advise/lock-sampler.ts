/**
 * The advisor's other database I/O (beside index-advisor.ts): every `sampleMs` one query of
 * pg_stat_activity over a read-only connection finds the sessions of the URL's database that wait
 * on a lock, their blockers (pg_blocking_pids, called for waiting sessions only) and the sessions
 * idle in transaction. Each query text is fingerprinted at once and dropped: pg_stat_activity
 * shows literals, so no raw text is kept, logged or reported. The samples go to a
 * LockWaitAggregator (lock-waits.ts) over the advisor window.
 * After a failure (unreachable, timeout) the database is left alone for a while. Without
 * pg_read_all_stats (pg_monitor) other roles' sessions read `<insufficient privilege>`: said once
 * in the log and in the status.
 */
import { Client } from 'pg';
import { templateName } from '../classify/route-template';
import type { SqlShape } from '../sql';
import { describeError } from './index-advisor';
import {
  isIdleInTransaction,
  type LockSession,
  LockWaitAggregator,
  type LockWaitSummary,
  PRIVILEGE_HINT,
} from './lock-waits';
import type { AdvisorConfig } from './types';

export interface LockSamplerLogger {
  warn(obj: object, msg: string): void;
  /** Good news (a grant took effect); falls back to `warn` for loggers without it. */
  info?(obj: object, msg: string): void;
}

export interface LockSamplerOptions {
  url: string;
  /** Between samples (ms). */
  sampleMs: number;
  /** statement_timeout and connect timeout of each sample (ms). */
  timeoutMs: number;
  window: AdvisorConfig['window'];
  idleInTransactionMs: number;
  /** The sidecar's fingerprinter (the span classifier's), so fingerprints match the spans'. */
  fingerprint: (text: string) => SqlShape;
  logger?: LockSamplerLogger;
  now?: () => number;
}

export interface LockSamplerStatus {
  sampleMs: number;
  samples: number;
  lastSampleMs: number | null;
  lastError: string | null;
  /** False when the role cannot read other roles' query texts (needs pg_read_all_stats / pg_monitor). */
  readAllStats: boolean | null;
  /**
   * Session-seconds spent waiting on locks since start, estimated from the samples: each sample
   * counts its waiting sessions for one sampling period (`spanstat_db_lock_wait_seconds_total`).
   */
  lockWaitSeconds: number;
  /** Longest time a session has been idle in transaction, at the last sample (s; 0 when none). */
  idleInTransactionSeconds: number;
}

/** After a failed sample the database is left alone this long (ms). */
const RETRY_AFTER_MS = 30_000;
const NO_PRIVILEGE = '<insufficient privilege>';

/**
 * The sessions waiting on a lock, their blockers and those idle in transaction, in the current
 * database. pg_blocking_pids is costly, so it runs for waiting sessions only (the `w` CTE).
 */
const SAMPLE_SQL = `
WITH s AS MATERIALIZED (
  SELECT pid, state, wait_event_type, query, application_name,
         (extract(epoch FROM now() - xact_start) * 1000)::float8 AS xact_ms,
         (extract(epoch FROM now() - state_change) * 1000)::float8 AS state_ms
    FROM pg_stat_activity
   WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
), w AS MATERIALIZED (
  SELECT pid, pg_blocking_pids(pid) AS blocked_by FROM s WHERE wait_event_type = 'Lock'
)
SELECT s.pid, s.state, s.query, s.application_name, s.xact_ms, s.state_ms, w.blocked_by
  FROM s LEFT JOIN w ON w.pid = s.pid
 WHERE w.pid IS NOT NULL
    OR s.state LIKE 'idle in transaction%'
    OR s.pid IN (SELECT unnest(blocked_by) FROM w)`;

interface SampleRow {
  pid: number;
  state: string | null;
  query: string | null;
  application_name: string | null;
  xact_ms: number | null;
  state_ms: number | null;
  blocked_by: number[] | null;
}

export class PgLockSampler {
  private client: Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private closed = false;
  private failedAtMs: number | undefined;
  private privilegeLogged = false;
  private privilegeCheckedAtMs = 0;
  private readonly aggregator: LockWaitAggregator;
  private readonly now: () => number;
  private readonly state: LockSamplerStatus;

  constructor(private readonly options: LockSamplerOptions) {
    this.now = options.now ?? Date.now;
    this.aggregator = new LockWaitAggregator({
      window: options.window,
      idleInTransactionMs: options.idleInTransactionMs,
    });
    this.state = {
      sampleMs: options.sampleMs,
      samples: 0,
      lastSampleMs: null,
      lastError: null,
      readAllStats: null,
      lockWaitSeconds: 0,
      idleInTransactionSeconds: 0,
    };
  }

  start(): void {
    if (this.timer || this.closed) return;
    void this.sampleNow();
    this.timer = setInterval(() => void this.sampleNow(), this.options.sampleMs);
    this.timer.unref();
  }

  /** Takes one sample now (or joins the one in progress); never throws. */
  sampleNow(): Promise<void> {
    this.running ??= this.sampleOnce().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  summary(): LockWaitSummary {
    return this.aggregator.summary(this.now());
  }

  status(): LockSamplerStatus {
    return { ...this.state };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
    await this.reset();
  }

  private async sampleOnce(): Promise<void> {
    if (this.closed) return;
    if (this.failedAtMs !== undefined && this.now() - this.failedAtMs < RETRY_AFTER_MS) return;
    try {
      const client = await this.connect();
      // A GRANT pg_monitor given after the hint takes effect without a restart of the sidecar.
      if (this.state.readAllStats === false && this.now() - this.privilegeCheckedAtMs >= RETRY_AFTER_MS)
        await this.checkPrivilege(client);
      const { rows } = await client.query<SampleRow>(SAMPLE_SQL);
      const atMs = this.now();
      const sessions = rows.map((r) => this.session(r));
      this.aggregator.add({ atMs, sessions });
      this.countActivity(sessions);
      this.state.samples++;
      this.state.lastSampleMs = atMs;
      this.state.lastError = null;
      this.failedAtMs = undefined;
    } catch (err) {
      const error = describeError(err);
      if (this.state.lastError === null)
        this.options.logger?.warn({ error }, 'advisor: lock sampling failed; retrying in 30 s');
      this.state.lastError = error;
      this.failedAtMs = this.now();
      await this.reset();
    }
  }

  private countActivity(sessions: readonly LockSession[]): void {
    let waiting = 0;
    let idleMs = 0;
    for (const session of sessions) {
      if (session.waitingOnLock) waiting++;
      if (isIdleInTransaction(session.state)) idleMs = Math.max(idleMs, session.stateMs ?? 0);
    }
    this.state.lockWaitSeconds += (waiting * this.options.sampleMs) / 1000;
    this.state.idleInTransactionSeconds = idleMs / 1000;
  }

  /** The row without its text: fingerprint and normalized statement only. */
  private session(r: SampleRow): LockSession {
    let fingerprint = '';
    let statement = '';
    if (r.query === NO_PRIVILEGE) this.noPrivilege();
    else if (r.query) ({ fingerprint, statement } = this.options.fingerprint(r.query));
    return {
      pid: r.pid,
      state: r.state ?? 'unknown',
      fingerprint,
      statement,
      // Set by the client, so it may hold anything (`app:alice@example.com`): ids and e-mails go, as in job names.
      application: r.application_name ? templateName(r.application_name) : '',
      xactMs: r.xact_ms,
      stateMs: r.state_ms,
      waitingOnLock: r.blocked_by !== null,
      blockedBy: r.blocked_by ?? [],
    };
  }

  private noPrivilege(): void {
    this.state.readAllStats = false;
    if (this.privilegeLogged) return;
    this.privilegeLogged = true;
    this.options.logger?.warn({}, `advisor: lock sampling: ${PRIVILEGE_HINT}`);
  }

  private async connect(): Promise<Client> {
    if (this.client) return this.client;
    const t = this.options.timeoutMs;
    const client = new Client({
      connectionString: this.options.url,
      application_name: 'spanstat-advisor-locks',
      connectionTimeoutMillis: t,
      query_timeout: t,
      statement_timeout: t,
      lock_timeout: t,
      options: '-c default_transaction_read_only=on',
    });
    client.on('error', () => {
      if (this.client === client) this.client = undefined;
    });
    try {
      await client.connect();
      await this.checkPrivilege(client);
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    this.client = client;
    return client;
  }

  /** Whether the role reads other roles' sessions; checked on connect and every 30 s while it does not. */
  private async checkPrivilege(client: Client): Promise<void> {
    this.privilegeCheckedAtMs = this.now();
    const { rows } = await client.query<{ ok: boolean }>(
      "SELECT pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS ok",
    );
    if (!rows[0]?.ok) return this.noPrivilege();
    if (this.state.readAllStats === false)
      (this.options.logger?.info ?? this.options.logger?.warn)?.call(
        this.options.logger,
        {},
        "advisor: lock sampling: pg_read_all_stats granted, other roles' sessions are visible now",
      );
    this.state.readAllStats = true;
    this.privilegeLogged = false;
  }

  private async reset(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client) await client.end().catch(() => undefined);
  }
}

/**
 * The lock sampler the config asks for (a database URL, `advisor.postgresUrl` unless given, and
 * `advisor.lockSampleMs` > 0), or undefined.
 */
export function createLockSampler(
  config: AdvisorConfig,
  fingerprint: (text: string) => SqlShape,
  logger?: LockSamplerLogger,
  url: string = config.postgresUrl,
): PgLockSampler | undefined {
  if (!url || config.lockSampleMs <= 0) return undefined;
  return new PgLockSampler({
    url,
    sampleMs: config.lockSampleMs,
    timeoutMs: config.postgresTimeoutMs,
    window: config.window,
    idleInTransactionMs: config.idleInTransactionMs,
    fingerprint,
    logger,
  });
}
