/**
 * Lock waits over the advisor window, from samples of pg_stat_activity (lock-sampler.ts takes
 * them): per waiting fingerprint, the samples it was seen waiting in, its longest wait and who
 * held the lock; and sessions left idle in transaction. Pure, no I/O; sessions arrive already
 * fingerprinted (normalized statements only, never the text pg_stat_activity shows).
 * Memory: a few time buckets (one for the `all` window), each with a bounded number of rows.
 */
import { WINDOW_MS } from '../aggregate/windowed';
import type { WindowName } from '../reports/types';

/** Said when the advisor's role lacks pg_read_all_stats: in the log, and by `spanstat advise` (no pg import there). */
export const PRIVILEGE_HINT =
  "the advisor's role cannot read other roles' statements in pg_stat_activity: GRANT pg_monitor (or pg_read_all_stats) TO it";

/** One backend of one sample, its statement already fingerprinted. */
export interface LockSession {
  pid: number;
  /** pg_stat_activity.state: `active`, `idle in transaction`, `idle in transaction (aborted)`… */
  state: string;
  /** Fingerprint of the session's (last) statement; '' when unknown (no text, no privilege). */
  fingerprint: string;
  /** The normalized statement (placeholders only); '' when unknown. */
  statement: string;
  application: string;
  /** How long its transaction has been open (ms); null outside a transaction. */
  xactMs: number | null;
  /** Time in its current state (ms): how long it has been idle in transaction, or running. */
  stateMs: number | null;
  /** wait_event_type = 'Lock'. */
  waitingOnLock: boolean;
  /** pg_blocking_pids, for waiting sessions only. */
  blockedBy: number[];
}

export interface LockSample {
  atMs: number;
  sessions: LockSession[];
}

export interface LockBlocker {
  fingerprint: string;
  statement: string;
  state: string;
  /** Samples in which it held the lock. */
  samples: number;
  /** Longest time its transaction had been open when seen blocking (ms). */
  maxXactMs: number;
}

export interface LockWaitRow {
  fingerprint: string;
  statement: string;
  /** Samples in which a session running it waited on a lock. */
  samples: number;
  /** Longest wait seen so far into one statement (ms, from its start). */
  maxWaitMs: number;
  /** Most samples first. */
  blockers: LockBlocker[];
}

export interface IdleTransactionRow {
  fingerprint: string;
  statement: string;
  /** application_name of the session (the last one seen). */
  application: string;
  /** Samples with at least one session idle in transaction over the threshold after it. */
  samples: number;
  /** Most such sessions in one sample. */
  maxSessions: number;
  maxIdleMs: number;
  maxXactMs: number;
  /** It held a lock another session waited on. */
  blocking: boolean;
}

export interface LockWaitSummary {
  /** Samples taken in the window. */
  samples: number;
  waits: LockWaitRow[];
  idleInTransaction: IdleTransactionRow[];
}

export interface LockWaitOptions {
  /** The advisor window. */
  window: WindowName;
  /** A session idle in transaction this long (ms) is reported. */
  idleInTransactionMs: number;
  /** Rows per bucket and kind at most; later fingerprints are not counted. */
  maxRows?: number;
}

/** Blockers kept per waiting fingerprint. */
const MAX_BLOCKERS = 8;
const BUCKETS_PER_WINDOW = 5;

interface Bucket {
  startMs: number;
  samples: number;
  waits: Map<string, LockWaitRow>;
  idle: Map<string, IdleTransactionRow>;
}

export function isIdleInTransaction(state: string): boolean {
  return state.startsWith('idle in transaction');
}

export class LockWaitAggregator {
  private readonly buckets: Bucket[] = [];
  private readonly bucketMs: number;
  private readonly maxRows: number;
  private readonly windowMs: number;

  constructor(private readonly options: LockWaitOptions) {
    this.windowMs = options.window === 'all' ? Infinity : WINDOW_MS[options.window];
    this.bucketMs = Number.isFinite(this.windowMs) ? this.windowMs / BUCKETS_PER_WINDOW : Infinity;
    this.maxRows = options.maxRows ?? 500;
  }

  add(sample: LockSample): void {
    const bucket = this.bucketAt(sample.atMs);
    bucket.samples++;
    const byPid = new Map(sample.sessions.map((s) => [s.pid, s]));
    const blockingPids = new Set(sample.sessions.flatMap((s) => (s.waitingOnLock ? s.blockedBy : [])));
    const seenWaits = new Set<LockWaitRow>();
    const seenBlockers = new Set<LockBlocker>();
    for (const s of sample.sessions) {
      if (!s.waitingOnLock) continue;
      const row = slot(bucket.waits, s.fingerprint, this.maxRows, () => ({
        fingerprint: s.fingerprint,
        statement: s.statement,
        samples: 0,
        maxWaitMs: 0,
        blockers: [],
      }));
      if (!row) continue;
      if (!seenWaits.has(row)) row.samples++;
      seenWaits.add(row);
      row.maxWaitMs = Math.max(row.maxWaitMs, s.stateMs ?? 0);
      for (const pid of s.blockedBy) {
        const b = byPid.get(pid);
        const fingerprint = b?.fingerprint ?? '';
        const state = b?.state ?? 'unknown';
        let blocker = row.blockers.find((x) => x.fingerprint === fingerprint && x.state === state);
        if (!blocker) {
          if (row.blockers.length >= MAX_BLOCKERS) continue;
          blocker = { fingerprint, statement: b?.statement ?? '', state, samples: 0, maxXactMs: 0 };
          row.blockers.push(blocker);
        }
        if (!seenBlockers.has(blocker)) blocker.samples++;
        seenBlockers.add(blocker);
        blocker.maxXactMs = Math.max(blocker.maxXactMs, b?.xactMs ?? 0);
      }
    }
    const sessionsPerRow = new Map<IdleTransactionRow, number>();
    for (const s of sample.sessions) {
      if (!isIdleInTransaction(s.state) || (s.stateMs ?? 0) < this.options.idleInTransactionMs) continue;
      const row = slot(bucket.idle, s.fingerprint, this.maxRows, () => ({
        fingerprint: s.fingerprint,
        statement: s.statement,
        application: s.application,
        samples: 0,
        maxSessions: 0,
        maxIdleMs: 0,
        maxXactMs: 0,
        blocking: false,
      }));
      if (!row) continue;
      sessionsPerRow.set(row, (sessionsPerRow.get(row) ?? 0) + 1);
      row.application = s.application;
      row.maxIdleMs = Math.max(row.maxIdleMs, s.stateMs ?? 0);
      row.maxXactMs = Math.max(row.maxXactMs, s.xactMs ?? 0);
      row.blocking ||= blockingPids.has(s.pid);
    }
    for (const [row, sessions] of sessionsPerRow) {
      row.samples++;
      row.maxSessions = Math.max(row.maxSessions, sessions);
    }
  }

  /** What the window ending at `nowMs` saw, most samples first. */
  summary(nowMs: number): LockWaitSummary {
    this.prune(nowMs);
    const waits = new Map<string, LockWaitRow>();
    const idle = new Map<string, IdleTransactionRow>();
    let samples = 0;
    for (const b of this.buckets) {
      samples += b.samples;
      for (const w of b.waits.values()) mergeWait(waits, w);
      for (const i of b.idle.values()) mergeIdle(idle, i);
    }
    for (const w of waits.values()) w.blockers.sort(bySamples);
    return {
      samples,
      waits: [...waits.values()].sort(bySamples),
      idleInTransaction: [...idle.values()].sort(bySamples),
    };
  }

  private bucketAt(atMs: number): Bucket {
    const startMs = Number.isFinite(this.bucketMs) ? Math.floor(atMs / this.bucketMs) * this.bucketMs : 0;
    const last = this.buckets.at(-1);
    if (last && last.startMs >= startMs) return last;
    const bucket: Bucket = { startMs, samples: 0, waits: new Map(), idle: new Map() };
    this.buckets.push(bucket);
    this.prune(atMs);
    return bucket;
  }

  private prune(nowMs: number): void {
    while (this.buckets.length > 0 && this.buckets[0].startMs + this.bucketMs <= nowMs - this.windowMs)
      this.buckets.shift();
  }
}

/**
 * One summary of several databases' (advisor.databases): each was sampled over the same window, so
 * the samples are the most any took; a statement seen waiting in two databases sums its samples,
 * up to that.
 */
export function mergeLockSummaries(summaries: LockWaitSummary[]): LockWaitSummary {
  if (summaries.length === 1) return summaries[0];
  const waits = new Map<string, LockWaitRow>();
  const idle = new Map<string, IdleTransactionRow>();
  let samples = 0;
  for (const s of summaries) {
    samples = Math.max(samples, s.samples);
    for (const w of s.waits) mergeWait(waits, w);
    for (const i of s.idleInTransaction) mergeIdle(idle, i);
  }
  const capped = <T extends { samples: number }>(rows: Iterable<T>) =>
    [...rows].map((r) => ({ ...r, samples: Math.min(r.samples, samples) })).sort(bySamples);
  return { samples, waits: capped(waits.values()), idleInTransaction: capped(idle.values()) };
}

/** Most samples first. */
function bySamples(a: { samples: number }, b: { samples: number }): number {
  return b.samples - a.samples;
}

function slot<T>(map: Map<string, T>, key: string, max: number, create: () => T): T | undefined {
  let row = map.get(key);
  if (!row && map.size < max) {
    row = create();
    map.set(key, row);
  }
  return row;
}

function mergeWait(into: Map<string, LockWaitRow>, w: LockWaitRow): void {
  const row = into.get(w.fingerprint);
  if (!row) {
    into.set(w.fingerprint, { ...w, blockers: w.blockers.map((b) => ({ ...b })) });
    return;
  }
  row.samples += w.samples;
  row.maxWaitMs = Math.max(row.maxWaitMs, w.maxWaitMs);
  for (const b of w.blockers) {
    const same = row.blockers.find((x) => x.fingerprint === b.fingerprint && x.state === b.state);
    if (same) {
      same.samples += b.samples;
      same.maxXactMs = Math.max(same.maxXactMs, b.maxXactMs);
    } else if (row.blockers.length < MAX_BLOCKERS) row.blockers.push({ ...b });
  }
}

function mergeIdle(into: Map<string, IdleTransactionRow>, i: IdleTransactionRow): void {
  const row = into.get(i.fingerprint);
  if (!row) {
    into.set(i.fingerprint, { ...i });
    return;
  }
  row.samples += i.samples;
  row.application = i.application;
  row.maxSessions = Math.max(row.maxSessions, i.maxSessions);
  row.maxIdleMs = Math.max(row.maxIdleMs, i.maxIdleMs);
  row.maxXactMs = Math.max(row.maxXactMs, i.maxXactMs);
  row.blocking ||= i.blocking;
}
