/**
 * The state file (state.file): written whole or not at all, only when changed; a missing, unreadable,
 * corrupt, newer-format or invalid file is logged by name and the sidecar starts empty; an invalid section
 * is logged by file and section and left out, the other restored; a format-1 file (deploys only) loads; a
 * file that cannot be written is logged once. Never a throw.
 */
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { evaluateDetailed } from '../../src/advise/evaluate';
import { RecommendationStore } from '../../src/advise/store';
import type { RecommendationsSnapshot } from '../../src/advise/store-state';
import type { DeploysSnapshot } from '../../src/deploys/deploy-state';
import {
  MAX_STATE_FILE_BYTES,
  type RestoredState,
  readStateFile,
  type SidecarState,
  STATE_FORMAT_VERSION,
  StateFile,
} from '../../src/sidecar/state-file';
import { endpointRow, input, thresholds } from './advise-fixtures';
import { serve, T0, tracker } from './deploys-fixtures';

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

let dir: string;
let lines: LogLine[];
const logger = () => pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
const WARN = 40;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'spanstat-state-'));
  lines = [];
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A real snapshot: version 1 served 40 requests, then version 2 10. */
function snapshot(): DeploysSnapshot {
  const clock = { now: T0 };
  const t = tracker(clock);
  serve(t, clock, '1', 40);
  serve(t, clock, '2', 10, { items: 5 });
  return t.snapshot(clock.now);
}

/** A real store's snapshot: one route slow (active), another slow then healthy (resolved). */
function recommendations(): RecommendationsSnapshot {
  const store = new RecommendationStore({
    maxEntries: 100,
    resolvedRetentionMs: 3_600_000,
    unobservedResolveMs: 900_000,
  });
  const at = (ms: number, ...rows: ReturnType<typeof endpointRow>[]) =>
    store.update(evaluateDetailed(input({ endpoints: rows }), thresholds(), ms), ms);
  at(T0 - 60_000, endpointRow({ route: '/a', p95Ms: 300 }), endpointRow({ route: '/b', p95Ms: 300 }));
  at(T0, endpointRow({ route: '/a', p95Ms: 350 }), endpointRow({ route: '/b', p95Ms: 100 }));
  return store.snapshot();
}

function stateFile(file: string, collect: () => SidecarState = () => ({ deploys: snapshot() })): StateFile {
  return new StateFile({
    file,
    intervalMs: 60_000,
    collect,
    logger: logger(),
    now: () => T0,
    writtenBy: 'spanstat test',
  });
}

/** A valid file's document, to spoil one field of. */
function validDocument(): Record<string, unknown> {
  return {
    formatVersion: STATE_FORMAT_VERSION,
    savedAtMs: T0,
    deploys: snapshot(),
    recommendations: recommendations(),
  };
}

function loadWritten(doc: unknown): { state: RestoredState | undefined; warnings: LogLine[] } {
  const file = join(dir, 'state.json');
  writeFileSync(file, typeof doc === 'string' ? doc : JSON.stringify(doc));
  const state = stateFile(file).load();
  return { state, warnings: lines.filter((l) => l.level === WARN) };
}

describe('the state file', () => {
  it('reads back what it wrote: format, writer, the deploy snapshot and the recommendations', async () => {
    const file = join(dir, 'state.json');
    const saved = { deploys: snapshot(), recommendations: recommendations() };
    expect(saved.recommendations.entries.map((r) => [r.target.value, r.state])).toEqual([
      ['GET /a', 'active'],
      ['GET /b', 'resolved'],
    ]);
    const store = stateFile(file, () => saved);
    await store.save();
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    expect(doc).toMatchObject({ formatVersion: 2, writtenBy: 'spanstat test', savedAtMs: T0 });
    expect(readStateFile(file)).toEqual({ state: saved, outcome: 'restored', notUsed: [] });
    expect(stateFile(file).load()).toEqual(saved);
    expect(lines.at(-1)?.msg).toBe(
      `spanstat sidecar: deploy history and 1 active recommendations restored from ${file}`,
    );
  });

  it('reads a format-1 file (deploy history only, from a spanstat before recommendations were kept)', () => {
    const deploys = snapshot();
    const { state, warnings } = loadWritten({
      formatVersion: 1,
      writtenBy: 'spanstat 0.1.0',
      savedAtMs: T0,
      deploys,
    });
    expect(state).toEqual({ deploys });
    expect(warnings).toEqual([]);
    expect(lines.at(-1)?.msg).toBe(
      `spanstat sidecar: deploy history restored from ${join(dir, 'state.json')}`,
    );
  });

  it('leaves out an invalid recommendations section, naming the file and the field, and restores the deploy history', () => {
    const doc = validDocument();
    const recs = doc.recommendations as RecommendationsSnapshot;
    (recs.entries[0] as unknown as Record<string, unknown>).severity = 'urgent';
    const file = join(dir, 'state.json');
    writeFileSync(file, JSON.stringify(doc));
    expect(readStateFile(file)).toMatchObject({ outcome: 'partial', state: { deploys: doc.deploys } });
    const { state, warnings } = loadWritten(doc);
    expect(state).toEqual({ deploys: doc.deploys });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ file, section: 'recommendations' });
    expect(warnings[0].msg).toMatch(
      new RegExp(
        `^spanstat sidecar: the recommendations in state file ${file} not used \\('recommendations\\.entries\\.0\\.severity' Invalid option`,
      ),
    );
    expect(warnings[0].msg).toContain(
      'starting with no recommendations (the deploy history restored), and the next save replaces it',
    );
    const store = stateFile(file);
    store.load();
    expect(store.stats.loaded).toBe('partial');
  });

  it('leaves out an invalid deploys section and restores the recommendations', () => {
    const doc = validDocument();
    (doc.deploys as DeploysSnapshot).services[0].versions[0].requests = -1;
    const { state, warnings } = loadWritten(doc);
    expect(state).toEqual({ recommendations: doc.recommendations });
    expect(warnings.map((w) => [w.section, w.reason])).toEqual([
      ['deploys', expect.stringMatching(/^'deploys\.services\.0\.versions\.0\.requests' Too small/)],
    ]);
  });

  it('refuses recommendations a store could not hold: unknown kinds, bad ids, resolved without a time, duplicates', () => {
    const spoil = (edit: (r: Record<string, unknown>, all: RecommendationsSnapshot) => void) => {
      const doc = validDocument();
      const recs = doc.recommendations as RecommendationsSnapshot;
      edit(recs.entries[0] as unknown as Record<string, unknown>, recs);
      return doc;
    };
    const cases: [unknown, RegExp][] = [
      [spoil((r) => (r.kind = 'gut-feeling')), /'recommendations\.entries\.0\.kind' Invalid option/],
      [spoil((r) => (r.id = 'x')), /'recommendations\.entries\.0\.id' is not a recommendation id/],
      [
        spoil((r) => (r.state = 'resolved')),
        /'recommendations\.entries\.0\.resolvedAtMs' is set on resolved/,
      ],
      [spoil((r) => (r.lastSeenMs = -5)), /'recommendations\.entries\.0\.lastSeenMs' Too small/],
      [spoil((r) => (r.evidence = { p95Ms: 'a'.repeat(2 * 1024 * 1024) })), /evidence\.p95Ms' Too big/],
      [
        spoil((_, all) => all.entries.push(all.entries[0])),
        /'recommendations\.entries' an id is listed twice/,
      ],
      [spoil((r) => (r.note = 'extra')), /Unrecognized key: "note"/],
    ];
    for (const [doc, reason] of cases) {
      lines = [];
      const { state, warnings } = loadWritten(doc);
      expect(state).toEqual({ deploys: (doc as Record<string, unknown>).deploys });
      expect(warnings.map((w) => w.reason)).toEqual([expect.stringMatching(reason)]);
    }
  });

  it('writes only when the state changed, and leaves no temporary file beside it', async () => {
    const file = join(dir, 'state.json');
    let state = snapshot();
    const store = stateFile(file, () => ({ deploys: state }));
    await store.save();
    await store.save();
    expect(store.stats.saves).toBe(1);
    state = { services: [] };
    await store.save();
    expect(store.stats.saves).toBe(2);
    expect(JSON.parse(readFileSync(file, 'utf8')).deploys).toEqual({ services: [] });
    expect(readdirSync(dir)).toEqual(['state.json']);
  });

  it('saves once more at shutdown, and a second shutdown does nothing', async () => {
    const file = join(dir, 'state.json');
    let state: DeploysSnapshot = { services: [] };
    const store = stateFile(file, () => ({ deploys: state }));
    store.start();
    await store.save();
    state = snapshot();
    await store.shutdown();
    await store.shutdown();
    expect(store.stats.saves).toBe(2);
    expect(readStateFile(file).state?.deploys).toEqual(state);
  });

  it('starts empty without a warning when there is no file yet', () => {
    const file = join(dir, 'state.json');
    expect(stateFile(file).load()).toBeUndefined();
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [
        30,
        `spanstat sidecar: no state file at ${file} yet; starting with no deploy history or recommendations`,
      ],
    ]);
  });

  it.each([
    ['corrupt (not JSON)', '{"formatVersion": 1, "deploys": {"serv', /not valid JSON/],
    ['truncated to nothing', '', /not valid JSON/],
    ['not a state file', '[1, 2, 3]', /not a spanstat state file \(no formatVersion\)/],
    [
      'of a newer format',
      JSON.stringify({ formatVersion: 3, savedAtMs: T0, deploys: { services: [] } }),
      /format 3, written by a newer spanstat; this one reads format 2 and older/,
    ],
    [
      'with a section this spanstat does not know',
      JSON.stringify({ formatVersion: 2, savedAtMs: T0, deploys: { services: [] }, alerts: [] }),
      /Unrecognized key: "alerts"/,
    ],
    [
      'without a save time',
      JSON.stringify({ formatVersion: 2, deploys: { services: [] } }),
      /'savedAtMs' Invalid input/,
    ],
  ])('warns naming the file when it is %s, and starts empty', (_what, text, reason) => {
    const { state, warnings } = loadWritten(text);
    expect(state).toBeUndefined();
    expect(warnings).toHaveLength(1);
    expect(warnings[0].file).toBe(join(dir, 'state.json'));
    expect(warnings[0].msg).toContain(`state file ${join(dir, 'state.json')} not used (`);
    expect(warnings[0].msg).toMatch(reason);
    expect(warnings[0].msg).toContain(
      'starting with no deploy history or recommendations, and the next save replaces it',
    );
  });

  it('leaves out hand-edited deploy values the tracker could not hold: infinities, negative counts, unknown versions, huge arrays', () => {
    const spoil = (edit: (s: DeploysSnapshot['services'][number]) => void) => {
      const doc = validDocument();
      edit((doc.deploys as DeploysSnapshot).services[0]);
      return doc;
    };
    const cases: [unknown, RegExp][] = [
      // JSON has no NaN; 1e999 is its Infinity.
      [
        JSON.stringify(validDocument()).replace(/"p95Ms":[0-9.]+/, '"p95Ms":1e999'),
        /'deploys\.services\.0\.figures\.\d\.routes\.0\.p95Ms'/,
      ],
      [
        spoil((s) => (s.versions[0].requests = -1)),
        /'deploys\.services\.0\.versions\.0\.requests' Too small/,
      ],
      [spoil((s) => (s.versions[0].requests = 1.5)), /requests' Invalid input: expected int/],
      [
        spoil((s) => (s.currentVersion = '9.9.9')),
        /'deploys\.services\.0\.currentVersion' '9\.9\.9' is not among versions/,
      ],
      [
        spoil((s) => {
          s.figures[0].routes = Array.from({ length: 10_000 }, () => s.figures[0].routes[0]);
        }),
        /routes' Too big: expected array to have <=50 items/,
      ],
      [
        spoil((s) => {
          s.versions = Array.from({ length: 21 }, (_, i) => ({ ...s.versions[0], version: `v${i}` }));
        }),
        /versions' Too big: expected array to have <=20 items/,
      ],
      [spoil((s) => ((s as unknown as Record<string, unknown>).extra = 1)), /Unrecognized key: "extra"/],
    ];
    for (const [doc, reason] of cases) {
      lines = [];
      const { state, warnings } = loadWritten(doc);
      // The deploy history is left out; the recommendations beside it are restored.
      expect(state).toEqual({ recommendations: recommendations() });
      expect(warnings.map((w) => w.reason)).toEqual([expect.stringMatching(reason)]);
    }
  });

  it('does not read a file over MAX_STATE_FILE_BYTES, nor one it cannot read (a directory)', () => {
    const big = join(dir, 'big.json');
    writeFileSync(big, '');
    truncateSync(big, MAX_STATE_FILE_BYTES + 1);
    expect(readStateFile(big)).toMatchObject({
      outcome: 'rejected',
      reason: expect.stringMatching(/bytes, over/),
    });
    const folder = join(dir, 'folder.json');
    mkdirSync(folder);
    expect(readStateFile(folder)).toMatchObject({
      outcome: 'rejected',
      reason: expect.stringMatching(/^it cannot be read: EISDIR/),
    });
  });

  it('warns once when the file cannot be written, keeps going, and says so when writing works again', async () => {
    // The tests run as root, whom a read-only mode does not stop: a parent that is a file does.
    const parent = join(dir, 'not-a-directory');
    writeFileSync(parent, '');
    const file = join(parent, 'state.json');
    let state: DeploysSnapshot = { services: [] };
    const store = stateFile(file, () => ({ deploys: state }));
    await store.save();
    state = snapshot();
    await store.save();
    const warnings = lines.filter((l) => l.level === WARN);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({
      file,
      msg: `spanstat sidecar: cannot write the state file ${file}; the deploy history and recommendations will not survive a restart`,
      err: expect.stringMatching(/ENOTDIR/),
    });
    expect(store.stats).toMatchObject({
      saves: 0,
      saveFailures: 2,
      lastError: expect.stringMatching(/ENOTDIR/),
    });

    rmSync(parent);
    mkdirSync(parent);
    await store.save();
    expect(store.stats).toMatchObject({ saves: 1, lastError: null });
    expect(lines.at(-1)?.msg).toBe(`spanstat sidecar: state file ${file} written again`);
    expect(readStateFile(file).state?.deploys).toEqual(state);
  });
});
