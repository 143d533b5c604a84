/**
 * The state file (state.file): written whole or not at all, only when changed; a missing, unreadable,
 * corrupt, newer-format or invalid file is logged by name and the sidecar starts empty; a file that cannot
 * be written is logged once. Never a throw.
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
import type { DeploysSnapshot } from '../../src/deploys/deploy-state';
import {
  MAX_STATE_FILE_BYTES,
  readStateFile,
  type SidecarState,
  STATE_FORMAT_VERSION,
  StateFile,
} from '../../src/sidecar/state-file';
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
  return { formatVersion: STATE_FORMAT_VERSION, savedAtMs: T0, deploys: snapshot() };
}

function loadWritten(doc: unknown): { state: SidecarState | undefined; warnings: LogLine[] } {
  const file = join(dir, 'state.json');
  writeFileSync(file, typeof doc === 'string' ? doc : JSON.stringify(doc));
  const state = stateFile(file).load();
  return { state, warnings: lines.filter((l) => l.level === WARN) };
}

describe('the state file', () => {
  it('reads back what it wrote: format, writer and the deploy snapshot', async () => {
    const file = join(dir, 'state.json');
    const saved = snapshot();
    const store = stateFile(file, () => ({ deploys: saved }));
    await store.save();
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    expect(doc).toMatchObject({ formatVersion: 1, writtenBy: 'spanstat test', savedAtMs: T0 });
    expect(readStateFile(file)).toEqual({ state: { deploys: saved }, outcome: 'restored' });
    expect(stateFile(file).load()).toEqual({ deploys: saved });
    expect(lines.at(-1)?.msg).toBe(`spanstat sidecar: deploy history restored from ${file}`);
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
      [30, `spanstat sidecar: no state file at ${file} yet; starting with no deploy history`],
    ]);
  });

  it.each([
    ['corrupt (not JSON)', '{"formatVersion": 1, "deploys": {"serv', /not valid JSON/],
    ['truncated to nothing', '', /not valid JSON/],
    ['not a state file', '[1, 2, 3]', /not a spanstat state file \(no formatVersion\)/],
    [
      'of a newer format',
      JSON.stringify({ formatVersion: 2, savedAtMs: T0, deploys: { services: [] } }),
      /format 2, written by a newer spanstat; this one reads format 1/,
    ],
  ])('warns naming the file when it is %s, and starts empty', (_what, text, reason) => {
    const { state, warnings } = loadWritten(text);
    expect(state).toBeUndefined();
    expect(warnings).toHaveLength(1);
    expect(warnings[0].file).toBe(join(dir, 'state.json'));
    expect(warnings[0].msg).toContain(`state file ${join(dir, 'state.json')} not used (`);
    expect(warnings[0].msg).toMatch(reason);
    expect(warnings[0].msg).toContain('starting with no deploy history, and the next save replaces it');
  });

  it('refuses hand-edited values the tracker could not hold: infinities, negative counts, unknown versions, huge arrays', () => {
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
      [{ ...validDocument(), savedAtMs: 'yesterday' }, /'savedAtMs' Invalid input/],
    ];
    for (const [doc, reason] of cases) {
      lines = [];
      const { state, warnings } = loadWritten(doc);
      expect(state).toBeUndefined();
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
      msg: `spanstat sidecar: cannot write the state file ${file}; the deploy history will not survive a restart`,
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
