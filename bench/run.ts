/**
 * `npm run bench`: every performance target of issue 5 in one run, then the component benches
 * (decode, SQL, aggregate) for context. Prints one table (figure, target, measured, pass/fail) and
 * writes the raw numbers to bench/results/latest.json.
 *
 *   npm run bench [-- --only preload,ingest] [--skip-components] [--update-doc]
 *   npm run bench -- --doc-from-latest
 *
 * --update-doc rewrites the table in BENCHMARKS.md from this run; --doc-from-latest does that from
 * bench/results/latest.json without running anything. Exit code 1 when a target failed.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from '../scripts/lib/demo-stack';
import { canPin, type Rate } from './lib/cpu';
import {
  BENCH_ROOT,
  type BenchResult,
  type Figure,
  formatMarkdown,
  formatTable,
  machineInfo,
  notMeasured,
  RESULTS_DIR,
  writeResults,
} from './lib/figures';
import { ensureBuilt, pinSelfToLoadCore } from './lib/setup';
import { STEPS, type Step, type StepContext } from './lib/steps';

const TSX_CLI = join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');

const log = (line: string) => console.log(`  ${line}`);

/**
 * Runs one step in a child process (run-step.ts) and reads its result. In this process, the benches
 * that measure in-process (the ingest bench's raw decode and pipeline alone) ran after the preload
 * bench had: the pipeline alone read 561k spans/s in a full run and 1.09M standalone minutes later, and
 * protobufjs's decode swung 48k–280k between runs. A process per step measures as a standalone run.
 */
function runStepInChild(name: string, context: StepContext): Promise<BenchResult> {
  const resultFile = join(mkdtempSync(join(tmpdir(), 'spanstat-bench-step-')), 'result.json');
  const args = [TSX_CLI, join(BENCH_ROOT, 'lib', 'run-step.ts'), name, resultFile];
  if (context.sustainable !== undefined) args.push(String(context.sustainable));
  return new Promise((resolve, reject) => {
    // The child inherits this process's CPU affinity (the load core) and prints its log lines itself.
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => {
      try {
        if (code !== 0) throw new Error(`bench step ${name} exited with code ${code}`);
        resolve(JSON.parse(readFileSync(resultFile, 'utf8')) as BenchResult);
      } catch (err) {
        reject(err);
      } finally {
        rmSync(dirname(resultFile), { recursive: true, force: true });
      }
    });
  });
}

/** The component benches other modules own, run as they are with short settings; output kept verbatim. */
const COMPONENT_BENCHES: { file: string; args: string[] }[] = [
  { file: 'decode.bench.ts', args: ['1'] },
  { file: 'sql.bench.ts', args: ['200000'] },
  { file: 'aggregate.bench.ts', args: ['50000'] },
];

function runComponent(file: string, args: string[]): Promise<{ ok: boolean; output: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [TSX_CLI, join(BENCH_ROOT, file), ...args],
      { cwd: REPO_ROOT, timeout: 180_000, maxBuffer: 4 * 1024 * 1024 },
      (err, stdout, stderr) =>
        resolve({
          ok: !err,
          output: `${stdout}${err ? `\n${stderr || err.message}` : ''}`.trim(),
          ms: performance.now() - started,
        }),
    );
  });
}

interface Latest {
  at: string;
  machine: Record<string, unknown>;
  figures: Figure[];
  results?: Record<string, unknown>;
  components?: Record<string, { ok: boolean; output: string; ms: number }>;
}

function readLatest(): Latest | undefined {
  try {
    return JSON.parse(readFileSync(join(RESULTS_DIR, 'latest.json'), 'utf8')) as Latest;
  } catch {
    return undefined;
  }
}

/** Previous figures with those of the benches just run replaced, in the suite's order. */
function mergeFigures(previous: Figure[], fresh: Figure[], ran: Step[]): Figure[] {
  const benchOf = (f: Figure) => STEPS.find((s) => f.id.startsWith(`${s.name}.`))?.name ?? '';
  const ranNames = new Set(ran.map((s) => s.name));
  const all = [...previous.filter((f) => !ranNames.has(benchOf(f))), ...fresh];
  const order = (f: Figure) => STEPS.findIndex((s) => s.name === benchOf(f));
  return all
    .map((f, i) => ({ f, i }))
    .sort((a, b) => order(a.f) - order(b.f) || a.i - b.i)
    .map((x) => x.f);
}

const DOC_START = '<!-- bench:table:start -->';
const DOC_END = '<!-- bench:table:end -->';

function updateDoc(figures: Figure[], at: string, machine: Record<string, unknown>): void {
  const path = join(REPO_ROOT, 'BENCHMARKS.md');
  const doc = readFileSync(path, 'utf8');
  const start = doc.indexOf(DOC_START);
  const end = doc.indexOf(DOC_END);
  if (start < 0 || end < start) throw new Error(`BENCHMARKS.md has no ${DOC_START} … ${DOC_END} section`);
  const block = [
    DOC_START,
    `Run of ${at.slice(0, 10)}: Node ${machine.node}, ${machine.cpus} × ${machine.cpuModel}.`,
    '',
    formatMarkdown(figures),
    '',
    ...figures.filter((f) => f.note).map((f) => `- ${f.figure}: ${f.note}`),
    DOC_END,
  ].join('\n');
  writeFileSync(path, doc.slice(0, start) + block + doc.slice(end + DOC_END.length));
}

async function main(): Promise<void> {
  const started = performance.now();
  const argv = process.argv.slice(2);
  if (argv.includes('--doc-from-latest')) {
    const latest = readLatest();
    if (!latest) throw new Error('bench/results/latest.json not found: run `npm run bench` first');
    updateDoc(latest.figures, latest.at, latest.machine);
    console.log(`BENCHMARKS.md table updated from the run of ${latest.at}`);
    return;
  }
  const onlyArg = argv.indexOf('--only');
  const only = onlyArg >= 0 ? new Set(argv[onlyArg + 1]?.split(',')) : undefined;
  const steps = STEPS.filter((s) => !only || only.has(s.name));
  console.log(
    `spanstat benchmarks (${canPin() ? 'process under test on core 0, load on core 1' : 'no CPU pinning available'})`,
  );
  ensureBuilt(log);
  pinSelfToLoadCore();

  const results: BenchResult[] = [];
  const figures: Figure[] = [];
  const context: StepContext = {};
  for (const step of steps) {
    console.log(`\n[${step.name}]`);
    try {
      const result = await runStepInChild(step.name, context);
      results.push(result);
      figures.push(...result.figures);
      if (step.name === 'ingest') {
        // What the sidecar sustains with a core to itself: the overload bench offers 3× this.
        const e2e = (result.raw.endToEnd as { rate?: Rate } | undefined)?.rate;
        if (e2e)
          context.sustainable = Math.max(e2e.wall, Number.isFinite(e2e.perCpuSecond) ? e2e.perCpuSecond : 0);
      }
      log(`done in ${(result.durationMs / 1000).toFixed(0)} s`);
    } catch (err) {
      const message = (err as Error).message.split('\n')[0];
      log(`FAILED: ${(err as Error).stack ?? message}`);
      figures.push(
        notMeasured(
          step.placeholder.id,
          step.placeholder.figure,
          step.placeholder.target,
          `bench failed: ${message}`,
        ),
      );
    }
  }

  const components: Record<string, { ok: boolean; output: string; ms: number }> = {};
  if (!argv.includes('--skip-components') && !only) {
    for (const c of COMPONENT_BENCHES) {
      console.log(`\n[${c.file}]`);
      const r = await runComponent(c.file, c.args);
      components[c.file] = r;
      console.log(r.output.replace(/^/gm, '  '));
    }
  }

  const at = new Date().toISOString();
  const machine = machineInfo();
  console.log(`\n${formatTable(figures)}`);
  // With --only, latest.json keeps the other benches' figures from the previous run.
  const previous = only ? readLatest() : undefined;
  const merged = previous ? mergeFigures(previous.figures, figures, steps) : figures;
  const path = writeResults('latest.json', {
    at,
    machine,
    pinned: canPin(),
    durationMs: performance.now() - started,
    figures: merged,
    results: { ...(previous?.results ?? {}), ...Object.fromEntries(results.map((r) => [r.name, r])) },
    components: previous && Object.keys(components).length === 0 ? previous.components : components,
  });
  console.log(`\nraw numbers: ${path} (${((performance.now() - started) / 1000).toFixed(0)} s in all)`);
  if (argv.includes('--update-doc')) {
    updateDoc(merged, at, machine);
    console.log('BENCHMARKS.md table updated');
  }
  if (figures.some((f) => f.pass === false)) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
