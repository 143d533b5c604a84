/**
 * Instructions per request the preload adds to the demo app, counted by valgrind (cachegrind): a
 * figure for the preload's cost far steadier than time on this VM, where app CPU per request swings
 * ±30% between 5-s rounds and the throughput loss of the preload bench between 22% and 42%. Totals of
 * two runs of one build still differed by up to ±15%, nearly all of it V8's compiler and GC (they run
 * when its heuristics say so); with `--functions` the count without them repeated within ~±3%.
 *
 *   npx tsx bench/preload-instructions.ts [--requests 400] [--warm-up 6000] [--variant name=<preload path>|none] … [--functions] [--cache-sim]
 *
 * The demo app runs under cachegrind with V8 made deterministic (see V8_DETERMINISM); this process
 * sends the preload bench's route sequentially — GET /api/quotes/:code, one request in four
 * a new code (Redis GET miss, one PostgreSQL query, Redis SET), the other three the code just made
 * (GET hits) — and stops the app. Two runs per variant, of W + N and W + 2N requests (W: --warm-up, default 6000);
 * their difference over N is the app's instructions per request, start-up and exit excluded. Spans
 * go to an in-process sink that answers 200, in full 512-span batches as at saturation (the 60-s
 * schedule delay never fires at valgrind's pace first). Sequential requests cost more instructions
 * each than a saturated app batching its I/O, so compare variants, not absolute counts.
 *
 * `--functions` adds where the instructions go per request (cachegrind's per-function counts, grouped:
 * JIT code, compiler, GC, inline-cache misses, hidden-class work …) and the native functions that
 * differ most from the first variant: how the perf-free VM can still say *why* a variant costs more.
 * `--cache-sim` adds instruction-fetch (I1), data (D1) and last-level data misses per request from
 * cachegrind's cache simulation (fixed geometry, see CACHEGRIND_CACHE_SIM; ~2× slower): whether a
 * variant costs more time than instructions because its code and data no longer fit the caches. With
 * `--functions` too, the misses outside V8's compiler and GC are printed as well. Read misses with
 * care: where JIT code lands moves them between runs of one build far more than the instructions
 * (the spanstat preload: I1 22.5k–25.8k per request in four runs; without compiler and GC 20.8k and
 * 22.3k in two, and 17.2k and 22.4k in two runs of a variant), so only a difference well beyond ±20%
 * says anything.
 *
 * Needs valgrind (`apt-get install valgrind`); a developer tool, not part of `npm run bench`; ~10 min
 * per variant with the defaults (run two at once on two cores with one `--variant` each).
 */

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PRELOAD_PATH } from '../scripts/lib/demo-stack';
import {
  CACHEGRIND,
  CACHEGRIND_CACHE_SIM,
  type CacheMisses,
  cachegrindTo,
  cacheMissesIn,
  functionEvents,
  instructionCategory,
  instructionsIn,
  V8_DETERMINISM,
  withoutCompilerAndGc,
} from './lib/cachegrind';
import { type DemoData, startDemoApp, startDemoData } from './lib/demo-app-process';
import { flagNumber, flagValues } from './lib/flags';
import { startOtlpSink } from './lib/otlp-sink';
import { ensureBuilt } from './lib/setup';

/**
 * Requests before the counted ones. With 1500, cachegrind's per-function counts showed V8 still
 * compiling in the counted window (compiler and parser: 276k of 1.03M instructions per request
 * without the preload; the functions Node's HTTP stack runs once per request reach TurboFan after
 * ~2000 requests, `--trace-opt`), so every variant's count was part warm-up, the preload's most.
 * With 6000: 110k of 790k, what remains being Express's steady trickle of re-optimisation (each
 * request object gets a hidden class of its own, so "wrong map" deopts keep coming).
 */
const WARM_UP_DEFAULT = 6000;

interface RunCount {
  total: number;
  /** Cache misses, when asked for (--cache-sim). */
  misses?: CacheMisses;
  /** Per function, when asked for (--functions). */
  functions?: Map<string, number>;
  /** Per function cache misses, with --functions and --cache-sim. */
  functionMisses?: { i1: Map<string, number>; d1: Map<string, number> };
}

/** The app's whole-run instruction count after serving `requests` quote requests. */
async function countRun(
  data: DemoData,
  preload: string | undefined,
  otlpUrl: string,
  requests: number,
  seed: number,
  functionsFile: string | undefined,
  cacheSim: boolean,
): Promise<RunCount> {
  const app = await startDemoApp({
    data,
    preload,
    wrapper: functionsFile
      ? cachegrindTo(functionsFile, cacheSim)
      : cacheSim
        ? CACHEGRIND_CACHE_SIM
        : CACHEGRIND,
    nodeArgs: V8_DETERMINISM,
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlpUrl, OTEL_BSP_SCHEDULE_DELAY: '60000' },
    readyTimeoutMs: 300_000,
    stopTimeoutMs: 120_000,
  });
  try {
    for (let i = 0; i < requests; i++) {
      // A new code every fourth request, the three after it reuse it (cached by then).
      const res = await fetch(`${app.url}/api/quotes/Q${(seed + i - (i % 4)).toString(36).toUpperCase()}`);
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`quote request answered ${res.status}`);
    }
  } finally {
    await app.stop();
  }
  const total = instructionsIn(app.tail());
  const misses = cacheSim ? cacheMissesIn(app.tail()) : undefined;
  if (functionsFile === undefined) return { total, misses };
  const text = readFileSync(functionsFile, 'utf8');
  return {
    total,
    misses,
    functions: functionEvents(text),
    functionMisses: cacheSim
      ? { i1: functionEvents(text, ['I1mr']), d1: functionEvents(text, ['D1mr', 'D1mw']) }
      : undefined,
  };
}

/**
 * Misses per request outside V8's compiler and GC (whose work runs when its heuristics say so and
 * moved whole-run totals by ±15% between runs of one build), as text; undefined without both flags.
 */
function perRequestMutatorMisses(short: RunCount, long: RunCount, requests: number): string | undefined {
  const before = short.functionMisses;
  const after = long.functionMisses;
  if (before === undefined || after === undefined) return undefined;
  return (['i1', 'd1'] as const)
    .map(
      (level) =>
        `${level.toUpperCase()} ${((withoutCompilerAndGc(after[level]) - withoutCompilerAndGc(before[level])) / requests).toFixed(0)}`,
    )
    .join(', ');
}

/** Per-request difference of two runs' cache misses, as text; undefined without --cache-sim. */
function perRequestMisses(short: CacheMisses | undefined, long: CacheMisses | undefined, requests: number) {
  if (short === undefined || long === undefined) return undefined;
  return (['i1', 'd1', 'll'] as const)
    .map((level) => `${level.toUpperCase()} ${((long[level] - short[level]) / requests).toFixed(0)}`)
    .join(', ');
}

/** Per-request difference of two runs' per-function counts. */
function perRequestFunctions(short: RunCount, long: RunCount, requests: number): Map<string, number> {
  const per = new Map<string, number>();
  for (const [fn, n] of long.functions ?? []) per.set(fn, (n - (short.functions?.get(fn) ?? 0)) / requests);
  return per;
}

function printFunctions(variants: Map<string, Map<string, number>>): void {
  const names = [...variants.keys()];
  const first = variants.get(names[0]) as Map<string, number>;
  const byCategory = new Map<string, number[]>();
  names.forEach((name, column) => {
    for (const [fn, n] of variants.get(name) ?? []) {
      const row = byCategory.get(instructionCategory(fn)) ?? names.map(() => 0);
      row[column] += n;
      byCategory.set(instructionCategory(fn), row);
    }
  });
  const cell = (n: number) => Math.round(n).toString().padStart(10);
  console.log(`\n${'instructions/request by owner'.padEnd(42)}${names.map((n) => n.padStart(10)).join('')}`);
  for (const [category, row] of [...byCategory].sort((a, b) => b[1][0] - a[1][0]))
    console.log(`${category.padEnd(42)}${row.map(cell).join('')}`);
  const mutator = names.map((name) => withoutCompilerAndGc(variants.get(name) ?? new Map()));
  console.log(`${'without compiler and GC'.padEnd(42)}${mutator.map(cell).join('')}`);
  console.log(
    `${'  vs first'.padEnd(42)}${mutator.map((n) => `${((n / mutator[0] - 1) * 100).toFixed(1)}%`.padStart(10)).join('')}`,
  );
  for (const name of names.slice(1)) {
    const other = variants.get(name) as Map<string, number>;
    const diffs = [...new Set([...first.keys(), ...other.keys()])]
      .map((fn) => [fn, (other.get(fn) ?? 0) - (first.get(fn) ?? 0)] as const)
      .sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]))
      .slice(0, 15);
    console.log(`\nfunctions that differ most, ${name} − ${names[0]} (instructions/request):`);
    for (const [fn, d] of diffs) console.log(`${cell(d)}  ${fn.slice(0, 110)}`);
  }
}

async function main(): Promise<void> {
  ensureBuilt();
  const requests = flagNumber('requests') ?? 400;
  const warmUp = flagNumber('warm-up') ?? WARM_UP_DEFAULT;
  const withFunctions = process.argv.includes('--functions');
  const cacheSim = process.argv.includes('--cache-sim');
  const scratch = withFunctions ? mkdtempSync(join(tmpdir(), 'spanstat-cg-')) : undefined;
  const functionsFile = (run: string) => (scratch ? join(scratch, `${run}.out`) : undefined);
  const functions = new Map<string, Map<string, number>>();
  const variants = new Map<string, string | undefined>();
  for (const spec of flagValues('variant')) {
    const [name, path] = spec.includes('=') ? spec.split('=', 2) : [spec, spec];
    variants.set(name, path === 'none' ? undefined : path);
  }
  if (variants.size === 0) {
    variants.set('none', undefined);
    variants.set('spanstat', PRELOAD_PATH);
  }
  const sink = await startOtlpSink();
  const otlpUrl = sink.url;
  const data = await startDemoData();
  try {
    const perRequest = new Map<string, number>();
    let seed = 36 ** 5;
    for (const [name, preload] of variants) {
      // Fresh codes per run, the same sequence shape in both runs of every variant.
      seed += 100_000;
      const short = await countRun(
        data,
        preload,
        otlpUrl,
        warmUp + requests,
        seed,
        functionsFile('short'),
        cacheSim,
      );
      seed += 100_000;
      const long = await countRun(
        data,
        preload,
        otlpUrl,
        warmUp + 2 * requests,
        seed,
        functionsFile('long'),
        cacheSim,
      );
      perRequest.set(name, (long.total - short.total) / requests);
      if (withFunctions) functions.set(name, perRequestFunctions(short, long, requests));
      const misses = perRequestMisses(short.misses, long.misses, requests);
      const mutatorMisses = perRequestMutatorMisses(short, long, requests);
      console.log(
        `${name.padEnd(12)} ${Math.round((long.total - short.total) / requests)
          .toString()
          .padStart(9)} instructions/request${misses ? `; misses/request: ${misses}` : ''}${
          mutatorMisses ? `; without compiler and GC: ${mutatorMisses}` : ''
        }`,
      );
    }
    const first = [...perRequest.values()][0];
    for (const [name, n] of perRequest)
      console.log(
        `${name.padEnd(12)} ${((n / first - 1) * 100).toFixed(1).padStart(6)}% vs ${[...perRequest.keys()][0]}`,
      );
    if (withFunctions) printFunctions(functions);
  } finally {
    await data.stop();
    sink.close();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
