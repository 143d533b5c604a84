/**
 * Lock waits sampled from pg_stat_activity (lock-sampler.ts): what a slow statement's advice says
 * when it was seen waiting on a lock (who held it, in which state, for how long), and sessions
 * left idle in transaction. Normalized statements only; the samples never carry raw text.
 */
import type { QueryRow } from '../../reports/types';
import {
  type IdleTransactionRow,
  isIdleInTransaction,
  type LockBlocker,
  type LockWaitRow,
} from '../lock-waits';
import type { Evidence, Target } from '../types';
import { fmtMs, fmtPct, type RuleContext, round, shortStatement } from './context';

/** The window's lock waits of `q`, when seen in enough samples to speak of. */
export function lockWaitOf(ctx: RuleContext, q: QueryRow): LockWaitRow | undefined {
  const w = ctx.lockWait(q.fingerprint);
  return w && w.samples >= ctx.t.lockMinSamples ? w : undefined;
}

function blockerName(b: LockBlocker): string {
  return b.statement ? `\`${b.statement}\`` : 'a session whose statement is not visible';
}

function describeBlocker(b: LockBlocker): string {
  return `${blockerName(b)} (${b.state}, transaction open ${fmtMs(b.maxXactMs)}, ${b.samples} samples)`;
}

export function lockEvidence(ctx: RuleContext, w: LockWaitRow): Evidence {
  const samples = ctx.input.lockWaits?.samples ?? 0;
  return {
    lockWaitSamples: w.samples,
    lockSamples: samples,
    lockWaitShare: samples ? round(w.samples / samples, 4) : 0,
    maxLockWaitMs: round(w.maxWaitMs),
    blockers: w.blockers.map(describeBlocker),
    blockerFingerprints: w.blockers.map((b) => b.fingerprint).filter((f) => f !== ''),
  };
}

export function lockTitle(w: LockWaitRow): string {
  const top = w.blockers[0];
  return top
    ? ` — waits on locks held by ${shortStatement(top.statement || '(not visible)')} (${top.state})`
    : ' — waits on locks';
}

/** What to do about a statement that waits on locks; before any index advice. */
export function lockAction(ctx: RuleContext, w: LockWaitRow): string {
  const samples = ctx.input.lockWaits?.samples ?? 0;
  const top = w.blockers[0];
  const held = w.blockers.length ? ` held by ${w.blockers.map(describeBlocker).join('; ')}` : '';
  const idle = w.blockers.filter((b) => isIdleInTransaction(b.state));
  // Point to the idle-in-transaction recommendation only when there is one (idle past the threshold).
  const flagged = ctx.input.lockWaits?.idleInTransaction.some((r) =>
    idle.some((b) => b.fingerprint === r.fingerprint),
  );
  return (
    `It waits on locks${held}: seen waiting in ${w.samples} of ${samples} samples (${fmtPct(samples ? w.samples / samples : 0)}), ` +
    `up to ${fmtMs(w.maxWaitMs)} — an index will not shorten that. ` +
    `Keep the transaction that runs ${top ? blockerName(top) : 'the blocking statement'} short: don't await Redis/HTTP or other slow work while it holds row locks (do it before BEGIN or after COMMIT); ` +
    'take row locks in a consistent order; for queues use `SELECT … FOR UPDATE SKIP LOCKED`; ' +
    'set `lock_timeout` so waiters fail fast instead of piling up. ' +
    (idle.length
      ? `The blocker sat idle in transaction: the application left its transaction open${flagged ? ' (see the idle-in-transaction recommendation)' : ''}; \`idle_in_transaction_session_timeout\` ends such sessions. `
      : '')
  );
}

/** Sessions idle in transaction over the threshold, per last statement. */
export function idleInTransactionRule(ctx: RuleContext): void {
  const summary = ctx.input.lockWaits;
  if (!summary || summary.samples === 0) return;
  // With samples, a statement of the window without an idle session is judged: it clears.
  for (const q of ctx.input.queries) {
    if (/^postgres/i.test(q.system))
      ctx.observe('idle-in-transaction', q.service, idleTarget(q.fingerprint, q.statement));
  }
  for (const row of summary.idleInTransaction) {
    const service = ctx.serviceOf(row.fingerprint) ?? (row.application || 'postgresql');
    ctx.emit({
      kind: 'idle-in-transaction',
      severity: row.blocking ? 'critical' : 'warning',
      service,
      target: idleTarget(row.fingerprint, row.statement),
      title:
        `Idle in transaction for up to ${fmtMs(row.maxIdleMs)} after ${row.statement ? shortStatement(row.statement) : 'a statement that is not visible'}` +
        (row.blocking ? ', holding locks others wait on' : ''),
      evidence: idleEvidence(ctx, row, summary.samples),
      action:
        'A transaction stays open while the application does something else: typically an `await` on Redis/HTTP (or an error path that never reaches COMMIT/ROLLBACK) between BEGIN and COMMIT. ' +
        'It keeps its row locks (writers wait) and its snapshot (VACUUM cannot clean up) all that time. ' +
        'Do the slow work before BEGIN or after COMMIT; ROLLBACK and release the client in a `finally`; ' +
        "set `idle_in_transaction_session_timeout` (e.g. `ALTER ROLE app SET idle_in_transaction_session_timeout = '60s'`) as a backstop. " +
        `Last statement: ${row.statement || '(not visible: GRANT pg_monitor to the advisor role)'}`,
    });
  }
}

function idleTarget(fingerprint: string, statement: string): Target {
  return { type: 'fingerprint', value: fingerprint || '(unknown)', ...(statement ? { statement } : {}) };
}

function idleEvidence(ctx: RuleContext, row: IdleTransactionRow, samples: number): Evidence {
  return {
    idleSamples: row.samples,
    lockSamples: samples,
    maxSessions: row.maxSessions,
    maxIdleMs: round(row.maxIdleMs),
    maxTransactionMs: round(row.maxXactMs),
    thresholdMs: ctx.t.idleInTransactionMs,
    blocking: row.blocking,
    application: row.application,
  };
}
