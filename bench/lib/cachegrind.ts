/** Running a process under valgrind's cachegrind to count its instructions (bench/*instructions.ts). */

/** Command prefix: instruction counts only (no cache simulation, no output file). */
export const CACHEGRIND = [
  'valgrind',
  '--tool=cachegrind',
  '--cache-sim=no',
  '--cachegrind-out-file=/dev/null',
];

/**
 * Command prefix with cache simulation: instruction-fetch misses in a 32 KiB I1, data misses in a
 * 32 KiB first level and a 4 MiB last level (a fixed geometry, not the host's, so figures compare
 * across machines; ~ one core's share of this VM's caches). Slower than CACHEGRIND (~2×).
 */
export const CACHEGRIND_CACHE_SIM = [
  'valgrind',
  '--tool=cachegrind',
  '--cache-sim=yes',
  '--I1=32768,8,64',
  '--D1=32768,8,64',
  '--LL=4194304,16,64',
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

export interface CacheMisses {
  /** First-level instruction-fetch misses. */
  i1: number;
  /** First-level data misses. */
  d1: number;
  /** Last-level data misses. */
  ll: number;
}

/** Cache misses from cachegrind's summary (a CACHEGRIND_CACHE_SIM run). */
export function cacheMissesIn(output: string): CacheMisses {
  const count = (label: string) => {
    const match = new RegExp(`${label}\\s+misses:\\s+([\\d,]+)`).exec(output);
    if (!match) throw new Error(`no ${label} misses from valgrind:\n${output.slice(-2000)}`);
    return Number(match[1].replaceAll(',', ''));
  };
  return { i1: count('I1'), d1: count('D1'), ll: count('LLd') };
}

/** CACHEGRIND (or CACHEGRIND_CACHE_SIM) with its per-function counts written to `file` (read them with functionEvents). */
export function cachegrindTo(file: string, cacheSim = false): string[] {
  return [...(cacheSim ? CACHEGRIND_CACHE_SIM : CACHEGRIND).slice(0, -1), `--cachegrind-out-file=${file}`];
}

/**
 * Per function (`name @ file`), the sum of the named events from a cachegrind output file: `Ir`
 * (instructions) always; with the cache simulation also `I1mr` (instruction-fetch misses) and `D1mr`,
 * `D1mw` (data misses), among others.
 */
export function functionEvents(text: string, events: readonly string[] = ['Ir']): Map<string, number> {
  const counts = new Map<string, number>();
  let columns: number[] = [];
  let file = '';
  let fn = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('events:')) {
      const names = line.slice(7).trim().split(/\s+/);
      columns = events.map((event) => {
        const at = names.indexOf(event);
        if (at < 0) throw new Error(`cachegrind output has no ${event} events (${names.join(' ')})`);
        return at + 1;
      });
    } else if (line.startsWith('fl=')) file = line.slice(3).split('/').pop() ?? '';
    else if (line.startsWith('fn=')) fn = line.slice(3);
    else if (line.length > 0 && line.charCodeAt(0) >= 48 && line.charCodeAt(0) <= 57) {
      const fields = line.split(' ');
      let n = 0;
      for (const column of columns) n += Number(fields[column] ?? 0);
      const key = `${fn} @ ${file}`;
      counts.set(key, (counts.get(key) ?? 0) + n);
    }
  }
  return counts;
}

const COMPILER = 'V8 compiler, parser, deopt';
const GC = 'GC and allocation';

/**
 * Owners whose work V8 schedules by its own heuristics (tiering, heap limits): they moved the totals
 * of two runs of one build by up to ±15%, where the rest repeated within ~±3%.
 */
const TIMING_DEPENDENT_CATEGORIES: ReadonlySet<string> = new Set([COMPILER, GC]);

/** The sum of per-function counts outside V8's compiler and GC (TIMING_DEPENDENT_CATEGORIES). */
export function withoutCompilerAndGc(perFunction: ReadonlyMap<string, number>): number {
  let sum = 0;
  for (const [fn, n] of perFunction) if (!TIMING_DEPENDENT_CATEGORIES.has(instructionCategory(fn))) sum += n;
  return sum;
}

/**
 * A coarse owner for a function of a node process: JIT-compiled JavaScript has no symbols under
 * valgrind ('??? @ ???'), V8's builtins and C++ internals do.
 */
export function instructionCategory(fn: string): string {
  if (fn.startsWith('??? @')) return 'JIT code (JavaScript)';
  if (/compiler::|Compile|Maglev|Parser|Scanner|Zone|BytecodeGenerator|Deoptimiz/.test(fn)) return COMPILER;
  if (/Scaveng|Heap::|Mark|Sweep|Evacuat|Remembered|BodyDescriptor|FreeList|Allocat|Concurrent/.test(fn))
    return GC;
  if (/^Builtins_\w*IC(_\w+)?\b|LoadIC|StoreIC|StubCache|FeedbackNexus|LookupIterator|IC::/.test(fn))
    return 'inline caches (stubs, misses, look-ups)';
  if (/MigrateToMap|DescriptorArray|TransitionArray|TransitionsAccessor|\bMap::|MakePrototypesFast/.test(fn))
    return 'hidden classes (maps, transitions)';
  if (/^Builtins_|^v8::/.test(fn)) return 'other V8 builtins and runtime';
  if (/@ (libc|ld-linux|memmove|memcpy|memset|malloc|strlen)/.test(fn) || /malloc|free@/.test(fn))
    return 'libc';
  return 'node and other native';
}
