/**
 * The sidecar's state file (`state.file`): what it keeps across a restart — each service's deploy history
 * and baseline (src/deploys/deploy-state.ts), so a sidecar restarted with its app (a pod's native sidecar,
 * at every rollout) still compares the new version with the one before it, and the advisor's
 * recommendations (src/advise/store-state.ts), so their `spanstat_recommendation_active` series and the
 * alert on them carry on through the restart instead of resolving and firing again minutes later.
 *
 * One JSON document, `{ formatVersion, writtenBy, savedAtMs, deploys, recommendations }`, read once at start
 * and written every `state.saveIntervalSeconds` when it changed and once more at shutdown, after the pipeline
 * drained. A write goes to a temporary file beside it (named by host, pid and a random part, so replicas
 * sharing a volume never write the same one), is fsynced and renamed over the file: a reader, or a sidecar
 * killed mid-write, sees the old document or the new one, never half of one. A file that is missing,
 * unreadable, not JSON, of a newer format or with an invalid header is logged (naming the file and why) and
 * the sidecar starts empty; a section that is invalid is logged (naming the file, the section and why) and
 * left out, the other restored. A file that cannot be written is logged once until a write succeeds again.
 * None of it ever stops the sidecar.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { z } from 'zod';
import { type RecommendationsSnapshot, recommendationsSnapshotSchema } from '../advise/store-state';
import { type DeploysSnapshot, deploysSnapshotSchema } from '../deploys/deploy-state';
import type { Logger } from '../log';

/**
 * The format this sidecar writes; it reads it and every older one (1: deploys only). A file of a higher
 * one was written by a newer spanstat. An older spanstat rejects a newer file whole, as it would any
 * section it does not know.
 */
export const STATE_FORMAT_VERSION = 2;
/**
 * A larger file is not read. The caps bound a real one: the deploy history is a few KB per service usually,
 * ~400 KB for one with 50 routes per version, each with 10 statements of 256 characters, ~105 MB for 256 such
 * services; the recommendations ~1 KB each (0.7-1.4 KB in the demo), at most advisor.maxRecommendations (1000).
 */
export const MAX_STATE_FILE_BYTES = 128 * 1024 * 1024;

/** What the state file carries. */
export interface SidecarState {
  deploys: DeploysSnapshot;
  /** The advisor's store; absent without an advisor (advisor.enabled false). */
  recommendations?: RecommendationsSnapshot;
}

/** What a start without a usable file begins with, as the log says it. */
const NOTHING = 'no deploy history or recommendations';

/** What a start restores: each section that was in the file and valid. */
export type RestoredState = Partial<SidecarState>;

export type StateSection = keyof SidecarState;

/** What each section restores, as the log says it. */
const SECTIONS: Record<StateSection, { schema: z.ZodType; what: string }> = {
  deploys: { schema: deploysSnapshotSchema, what: 'deploy history' },
  recommendations: { schema: recommendationsSnapshotSchema, what: 'recommendations' },
};

/** The document around the sections: checked first; a bad one rejects the file. */
const headerSchema = z
  .object({
    formatVersion: z.number().int().min(1).max(STATE_FORMAT_VERSION),
    writtenBy: z.string().max(200).optional(),
    savedAtMs: z.number().int().min(0),
    deploys: z.unknown().optional(),
    recommendations: z.unknown().optional(),
  })
  .strict();

/** A section left out at load, and why. */
export interface SectionNotUsed {
  section: StateSection;
  reason: string;
}

export type LoadOutcome =
  | { state: RestoredState; outcome: 'restored' | 'partial'; notUsed: SectionNotUsed[] }
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
      reason: `it has format ${format}, written by a newer spanstat; this one reads format ${STATE_FORMAT_VERSION} and older`,
    };
  const header = headerSchema.safeParse(doc);
  if (!header.success) return { state: undefined, outcome: 'rejected', reason: issueText(header.error) };
  const state: RestoredState = {};
  const notUsed: SectionNotUsed[] = [];
  for (const section of Object.keys(SECTIONS) as StateSection[]) {
    const value = header.data[section];
    // Format 1 has no recommendations; a file written without an advisor neither.
    if (value === undefined) {
      if (section === 'deploys') notUsed.push({ section, reason: `'${section}' is missing` });
      continue;
    }
    const parsed = SECTIONS[section].schema.safeParse(value);
    if (parsed.success) Object.assign(state, { [section]: parsed.data });
    else notUsed.push({ section, reason: issueText(parsed.error, section) });
  }
  return { state, outcome: notUsed.length === 0 ? 'restored' : 'partial', notUsed };
}

/** The first issue as `'path.to.field' message`, the path from the document's top. */
function issueText(error: z.ZodError, section?: string): string {
  const issue = error.issues[0];
  const path = [...(section === undefined ? [] : [section]), ...issue.path].join('.');
  return `'${path || '(top level)'}' ${issue.message}`;
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
  /**
   * What the start found: `restored`, `partial` (a section was left out, logged: why), `missing` (a first
   * start) or `rejected` (logged: why).
   */
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

  /** The saved state's usable sections, or undefined (logged) when there is no file to use. */
  load(): RestoredState | undefined {
    const { file, logger } = this.options;
    const result = readStateFile(file);
    this.stats.loaded = result.outcome;
    if (result.state === undefined) {
      if (result.outcome === 'missing')
        logger.info({ file }, `spanstat sidecar: no state file at ${file} yet; starting with ${NOTHING}`);
      else
        logger.warn(
          { file, reason: result.reason },
          `spanstat sidecar: state file ${file} not used (${result.reason}); starting with ${NOTHING}, and the next save replaces it`,
        );
      return undefined;
    }
    const { deploys, recommendations } = result.state;
    const restored = [
      ...(deploys ? [SECTIONS.deploys.what] : []),
      ...(recommendations
        ? [`${recommendations.entries.filter((r) => r.state === 'active').length} active recommendations`]
        : []),
    ];
    if (restored.length > 0)
      logger.info(
        { file, services: deploys?.services.length, recommendations: recommendations?.entries.length },
        `spanstat sidecar: ${restored.join(' and ')} restored from ${file}`,
      );
    for (const { section, reason } of result.notUsed)
      logger.warn(
        { file, section, reason },
        `spanstat sidecar: the ${SECTIONS[section].what} in state file ${file} not used (${reason}); starting with no ${SECTIONS[section].what}${restored.length > 0 ? ` (the ${restored.join(' and ')} restored)` : ''}, and the next save replaces it`,
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
          `spanstat sidecar: cannot write the state file ${file}; the deploy history and recommendations will not survive a restart`,
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
