/** Running a process under valgrind's cachegrind to count its instructions (bench/*instructions.ts). */

/** Command prefix: instruction counts only (no cache simulation, no output file). */
export const CACHEGRIND = [
  'valgrind',
  '--tool=cachegrind',
  '--cache-sim=no',
  '--cachegrind-out-file=/dev/null',
];

/**
 * Node flags that make V8 repeatable under it: `--predictable` (one thread, no time-driven GC work;
 * with `--single-threaded` instead, two builds of the same code differed by 3.5% on the pipeline),
 * fixed hash and random seeds.
 */
export const V8_DETERMINISM = ['--predictable', '--hash-seed=1', '--random-seed=1'];

/** The whole-process instruction count from cachegrind's summary on stderr. */
export function instructionsIn(output: string): number {
  const match = /I\s+refs:\s+([\d,]+)/.exec(output);
  if (!match) throw new Error(`no instruction count from valgrind:\n${output.slice(-2000)}`);
  return Number(match[1].replaceAll(',', ''));
}
