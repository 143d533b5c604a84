/**
 * The sidecar's state file (`state.file`): what it keeps across a restart — today each service's deploy
 * history and baseline (src/deploys/deploy-state.ts), so a sidecar restarted with its app (a pod's native
 * sidecar, at every rollout) still compares the new version with the one before it.
 *
 * One JSON document, `{ formatVersion, writtenBy, savedAtMs, deploys }`, read once at start and written
 * every `state.saveIntervalSeconds` when it changed and once more at shutdown, after the pipeline drained.
 * A write goes to a temporary file beside it (named by host, pid and a random part, so replicas sharing a
 * volume never write the same one), is fsynced and renamed over the file: a reader, or a sidecar killed
 * mid-write, sees the old document or the new one, never half of one. A file that is missing, unreadable,
 * not JSON, of a newer format or invalid is logged (naming the file and why) and the sidecar starts empty;
 * a file that cannot be written is logged once until a write succeeds again. Neither ever stops the sidecar.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { z } from 'zod';
import { type DeploysSnapshot, deploysSnapshotSchema } from '../deploys/deploy-state';
import type { Logger } from '../log';

/** The format this sidecar writes and reads; a file of a higher one was written by a newer spanstat. */
export const STATE_FORMAT_VERSION = 1;
/**
 * A larger file is not read. The tracker's caps bound a real one: a few KB per service usually, ~400 KB for
 * one with 50 routes per version, each with 10 statements of 256 characters; ~105 MB for 256 such services.
 */
export const MAX_STATE_FILE_BYTES = 128 * 1024 * 1024;

/** What the state file carries. */
export interface SidecarState {
  deploys: DeploysSnapshot;
}

const stateSchema = z
  .object({
    formatVersion: z.literal(STATE_FORMAT_VERSION),
    writtenBy: z.string().max(200).optional(),
    savedAtMs: z.number().int().min(0),
    deploys: deploysSnapshotSchema,
  })
  .strict();

export type LoadOutcome =
  | { state: SidecarState; outcome: 'restored' }
  | { state: undefined; outcome: 'missing' | 'rejected'; reason?: string };

/** Reads and validates the file; never throws. `reason` says why a file that exists was not used. */
export function readStateFile(file: string): LoadOutcome {
  let text: string;
  try {
    const size = statSync(file).size;
    if (size > MAX_STATE_FILE_BYTES)
      return {
        state: undefined,
        outcome: 'rejected',
        reason: `it is ${size} bytes, over ${MAX_STATE_FILE_BYTES}`,
      };
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: undefined, outcome: 'missing' };
    return { state: undefined, outcome: 'rejected', reason: `it cannot be read: ${(err as Error).message}` };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return {
      state: undefined,
      outcome: 'rejected',
      reason: `it is not valid JSON: ${(err as Error).message}`,
    };
  }
  const format = (doc as { formatVersion?: unknown } | null)?.formatVersion;
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc) || typeof format !== 'number')
    return {
      state: undefined,
      outcome: 'rejected',
      reason: 'it is not a spanstat state file (no formatVersion)',
    };
  if (format > STATE_FORMAT_VERSION)
    return {
      state: undefined,
      outcome: 'rejected',
      reason: `it has format ${format}, written by a newer spanstat; this one reads format ${STATE_FORMAT_VERSION}`,
    };
  const parsed = stateSchema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      state: undefined,
      outcome: 'rejected',
      reason: `'${issue.path.join('.') || '(top level)'}' ${issue.message}`,
    };
  }
  return { state: { deploys: parsed.data.deploys }, outcome: 'restored' };
}

export interface StateFileOptions {
  file: string;
  /** Between periodic saves (ms). */
  intervalMs: number;
  /** The state to save, collected at each save. */
  collect: () => SidecarState;
  logger: Logger;
  now: () => number;
  /** `spanstat <version>`, written beside the data. */
  writtenBy: string;
}

/** `/healthz`'s `state`. */
export interface StateFileStats {
  file: string;
  /** What the start found: `restored`, `missing` (a first start) or `rejected` (logged: why). */
  loaded: LoadOutcome['outcome'] | 'not read';
  saves: number;
  lastSavedAtMs: number | null;
  saveFailures: number;
  /** The last failed write's error while writes fail; null once one succeeds. */
  lastError: string | null;
}

export class StateFile {
  readonly stats: StateFileStats;
  private timer: NodeJS.Timeout | undefined;
  /** A digest of the last saved data: a save that would write the same skips (a digest: the data may be MBs). */
  private lastDigest = '';
  /** Saves run one after another (the periodic one and the shutdown's never interleave). */
  private saving: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly options: StateFileOptions) {
    this.stats = {
      file: options.file,
      loaded: 'not read',
      saves: 0,
      lastSavedAtMs: null,
      saveFailures: 0,
      lastError: null,
    };
  }

  /** The saved state, or undefined (logged) when there is none to use. */
  load(): SidecarState | undefined {
    const { file, logger } = this.options;
    const result = readStateFile(file);
    this.stats.loaded = result.outcome;
    if (result.state !== undefined)
      logger.info(
        { file, services: result.state.deploys.services.length },
        `spanstat sidecar: deploy history restored from ${file}`,
      );
    else if (result.outcome === 'missing')
      logger.info(
        { file },
        `spanstat sidecar: no state file at ${file} yet; starting with no deploy history`,
      );
    else if (result.outcome === 'rejected')
      logger.warn(
        { file, reason: result.reason },
        `spanstat sidecar: state file ${file} not used (${result.reason}); starting with no deploy history, and the next save replaces it`,
      );
    return result.state;
  }

  /** Saves now (which also tells at start whether the file can be written), then every intervalMs. */
  start(): void {
    void this.save();
    this.timer = setInterval(() => void this.save(), this.options.intervalMs);
    this.timer.unref();
  }

  /** Writes the state if it changed since the last save; a failure is logged, never thrown. */
  save(): Promise<void> {
    this.saving = this.saving.then(() => this.write());
    return this.saving;
  }

  /** Stops the periodic saves and saves once more (after the pipeline drained). Safe twice. */
  async shutdown(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (this.stopped) return this.saving;
    this.stopped = true;
    return this.save();
  }

  private async write(): Promise<void> {
    const { file, logger, now, writtenBy } = this.options;
    let data: string;
    try {
      data = JSON.stringify(this.options.collect());
    } catch (err) {
      logger.error({ file, err: (err as Error).message }, 'spanstat sidecar: collecting the state failed');
      return;
    }
    const digest = createHash('sha256').update(data).digest('base64');
    if (digest === this.lastDigest) return;
    const savedAtMs = now();
    // `data` is an object's JSON: the header goes in front of its first key.
    const text = `{"formatVersion":${STATE_FORMAT_VERSION},"writtenBy":${JSON.stringify(writtenBy)},"savedAtMs":${savedAtMs}${data.length > 2 ? ',' : ''}${data.slice(1)}\n`;
    const temp = `${file}.${hostname()}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      const handle = await open(temp, 'w');
      try {
        await handle.writeFile(text, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, file);
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      const message = (err as Error).message;
      // Once until a write succeeds again: a read-only volume would otherwise log every interval.
      if (this.stats.lastError === null)
        logger.warn(
          { file, err: message },
          `spanstat sidecar: cannot write the state file ${file}; the deploy history will not survive a restart`,
        );
      this.stats.saveFailures++;
      this.stats.lastError = message;
      return;
    }
    if (this.stats.lastError !== null)
      logger.info({ file }, `spanstat sidecar: state file ${file} written again`);
    this.lastDigest = digest;
    this.stats.saves++;
    this.stats.lastSavedAtMs = savedAtMs;
    this.stats.lastError = null;
  }
}
