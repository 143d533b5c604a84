import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chooseV8Flags, DEFAULT_V8_FLAGS, runtimeFlagProblem } from '../../src/cli/v8-flags';
import { newSpaceAfterChurn } from '../helpers/new-space';

const defaults = DEFAULT_V8_FLAGS.map((d) => d.flag);

describe('the CLI V8 flags', () => {
  it('are the memory defaults when nothing overrides them', () => {
    expect(chooseV8Flags({}, [])).toEqual(['--semi-space-growth-factor=1', '--heap-growing-percent=50']);
  });

  it('are replaced by SPANSTAT_V8_FLAGS, and an empty value keeps V8 defaults', () => {
    expect(chooseV8Flags({ SPANSTAT_V8_FLAGS: ' --heap-growing-percent=100 ' }, [])).toEqual([
      '--heap-growing-percent=100',
    ]);
    expect(chooseV8Flags({ SPANSTAT_V8_FLAGS: '' }, [])).toEqual([]);
  });

  it('yield to a related heap flag given to node on the command line or in NODE_OPTIONS', () => {
    expect(chooseV8Flags({}, ['--max-semi-space-size=16'])).toEqual([defaults[1]]);
    expect(chooseV8Flags({}, ['--max_old_space_size=512'])).toEqual([defaults[0]]);
    expect(chooseV8Flags({ NODE_OPTIONS: '--inspect --max-old-space-size=512' }, [])).toEqual([defaults[0]]);
    expect(chooseV8Flags({}, ['--enable-source-maps'])).toEqual(defaults);
  });

  it('keep the young generation at 2 × 1 MiB when set at run time (V8 reads them as it grows)', () => {
    const newSpace = newSpaceAfterChurn(
      `require('node:v8').setFlagsFromString(${JSON.stringify(defaults.join(' '))})`,
    );
    expect(newSpace).toBeLessThanOrEqual(4 * 1024 * 1024);
  });

  it('refuse, naming them, SPANSTAT_V8_FLAGS that V8 only reads at start-up (some abort the process when set later)', () => {
    expect(runtimeFlagProblem(defaults)).toBeUndefined();
    expect(
      runtimeFlagProblem(['--heap-growing-percent=100', '--no-semi-space-growth-factor']),
    ).toBeUndefined();
    const problem = runtimeFlagProblem([
      '--heap-growing-percent=100',
      '--single-threaded-gc',
      '--max-old-space-size=64',
    ]);
    expect(problem).toContain('--single-threaded-gc --max-old-space-size=64 cannot be set once V8 runs');
    expect(problem).toContain('NODE_OPTIONS');
  });

  it('make the CLI exit with that message instead of V8 aborting', () => {
    let failure: { status?: number; stderr?: Buffer } = {};
    try {
      execFileSync(process.execPath, [join(__dirname, '..', '..', 'dist', 'cli', 'main.js'), 'sidecar'], {
        env: { ...process.env, SPANSTAT_V8_FLAGS: '--single-threaded-gc' },
        stdio: 'pipe',
        timeout: 20_000,
      });
    } catch (err) {
      failure = err as typeof failure;
    }
    expect(failure.status).toBe(2);
    expect(String(failure.stderr)).toContain(
      'SPANSTAT_V8_FLAGS: --single-threaded-gc cannot be set once V8 runs',
    );
    expect(String(failure.stderr)).not.toContain('Fatal error');
  });
});
