/**
 * V8 heap settings the CLI runs with, applied by ./apply-v8-flags before any other module loads
 * (main.ts imports it first), so `spanstat sidecar`, `node dist/cli/main.js sidecar` and the Docker image all get them
 * without a wrapper process or a shebang that `node <file>` would bypass.
 *
 * Why (memory bench, 1.5M spans as fast as accepted, sidecar on one core): with V8's defaults the
 * young generation grows to 2 × 16 MiB and the old generation's limit to 2–4× the live heap, so RSS
 * reaches 260–300 MB for a live heap of ~40–60 MB. Keeping the semi-space at its initial 1 MiB and
 * letting the old generation grow 1.5× per GC instead brings max RSS to ~135 MB. The price is GC
 * time: ~33% of ingest throughput while the receiver queued decoded spans, ~10–15% since it queues
 * wire bytes and the pipeline decodes as it processes (ingest bench, back to back; see BENCHMARKS.md).
 *
 * Both flags are read by V8 each time it sizes the heap, so setting them at run time works (checked
 * by test/unit/cli-v8-flags.test.ts). Override: SPANSTAT_V8_FLAGS replaces the list
 * (`SPANSTAT_V8_FLAGS=` keeps V8's defaults), and a heap flag given to node itself (command line or
 * NODE_OPTIONS, e.g. `node --max-semi-space-size=16 …`) wins over the default it relates to.
 */
/** The defaults, each with the flags a user may set instead (the default is then skipped). */
export const DEFAULT_V8_FLAGS: readonly { flag: string; yieldsTo: readonly string[] }[] = [
  // New space stays 2 × 1 MiB instead of growing to 2 × 16 MiB: −30 MB RSS, no measurable CPU cost.
  {
    flag: '--semi-space-growth-factor=1',
    yieldsTo: ['--max-semi-space-size', '--min-semi-space-size', '--semi-space-growth-factor'],
  },
  // Old-generation limit = 1.5 × live after each GC (V8 picks 1.1–4× by its speed heuristics).
  {
    flag: '--heap-growing-percent=50',
    yieldsTo: ['--heap-growing-percent', '--max-old-space-size', '--max-heap-size'],
  },
];

/**
 * Flags V8 reads again each time it sizes the heap, so setting them once it runs takes effect. Others
 * (most of V8's) are read only while the isolate starts, and some abort the process when changed
 * later (`--single-threaded-gc`: "Fatal error … concurrent_marking_handle_"); those go to node itself.
 */
const RUNTIME_FLAGS: ReadonlySet<string> = new Set(['--semi-space-growth-factor', '--heap-growing-percent']);

/** Why SPANSTAT_V8_FLAGS cannot be applied at run time, or undefined when every flag can be. */
export function runtimeFlagProblem(flags: readonly string[]): string | undefined {
  const refused = flags.filter((flag) => !RUNTIME_FLAGS.has(flagName(flag).replace(/^--no-/, '--')));
  if (refused.length === 0) return undefined;
  return (
    `SPANSTAT_V8_FLAGS: ${refused.join(' ')} cannot be set once V8 runs (only ${[...RUNTIME_FLAGS].join(', ')} can); ` +
    `give ${refused.length === 1 ? 'it' : 'them'} to node instead: node ${refused.join(' ')} dist/cli/main.js sidecar, or NODE_OPTIONS`
  );
}

/** Flags to set: SPANSTAT_V8_FLAGS when given, else the defaults the node options do not override. */
export function chooseV8Flags(env: NodeJS.ProcessEnv, execArgv: readonly string[]): string[] {
  const explicit = env.SPANSTAT_V8_FLAGS;
  if (explicit !== undefined) return explicit.split(/\s+/).filter(Boolean);
  const given = [...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)].map(flagName);
  return DEFAULT_V8_FLAGS.filter((d) => !d.yieldsTo.some((name) => given.includes(name))).map((d) => d.flag);
}

/** `--max_semi_space_size=2` → `--max-semi-space-size` (V8 accepts both spellings). */
function flagName(arg: string): string {
  const eq = arg.indexOf('=');
  return (eq < 0 ? arg : arg.slice(0, eq)).replace(/_/g, '-');
}
