/**
 * Instructions per span of the sidecar's decode and pipeline, counted by valgrind (cachegrind),
 * for the work tree against a git revision: a before/after figure that holds still on this shared
 * VM, where CPU time per span swings 2x between minutes and A/B runs need many rounds to agree.
 *
 *   npx tsx bench/instructions.ts [--base HEAD] [--rounds 2] [--cache-sim]
 *
 * Both trees run the same recorded bodies (the ingest bench's mix, no body repeated, so every SQL
 * literal is new) through `instruction-runner.js` under cachegrind with V8 made deterministic
 * (`--predictable`: one thread, no time-driven GC; fixed hash and random seeds; a fixed clock). A run
 * of the warm-up round alone is subtracted, so start-up and JIT warm-up cancel out. Two builds of the
 * same code differed by 0.4% on decode and 1.5% on the pipeline (3.5% on the pipeline with
 * `--single-threaded` instead of `--predictable`), so read pipeline changes under ~3% as noise.
 * Instructions are not time (cache misses and GC pauses weigh differently), so use it to see a
 * change, and the wall-clock benches to state throughput. The pipeline is where that bites: it runs
 * ~1.7× as many spans per second as the decoder on ~1/3 of the decoder's instructions per span, its
 * time going to instruction fetch and memory. `--cache-sim` adds cache misses per span (instruction
 * fetch, data first and last level, a fixed cache geometry: CACHEGRIND_CACHE_SIM), deterministic like
 * the instruction count, for changes that are about code or data locality rather than work.
 *
 * Needs valgrind (`apt-get install valgrind`); a developer tool, not part of `npm run bench`.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../scripts/lib/demo-stack';
import { countTraceSpans } from '../src/receiver/check-protobuf';
import { buildBaseTree } from './lib/base-tree';
import {
  CACHEGRIND,
  CACHEGRIND_CACHE_SIM,
  cacheMissesIn,
  instructionsIn,
  V8_DETERMINISM,
} from './lib/cachegrind';
import { flagNumber, flagValues } from './lib/flags';
import { BatchStream, buildTemplates } from './lib/otlp-batches';
import { ensureBuilt } from './lib/setup';

const run = promisify(execFile);
const BODIES_PER_ROUND = 160;
const RUNNER = join(__dirname, 'lib', 'instruction-runner.js');

interface Counts {
  instructions: number;
  /** Cache misses: instruction fetch, data first and last level (zero without --cache-sim). */
  i1: number;
  d1: number;
  ll: number;
}

/** What the whole process executed, from cachegrind's summary. */
async function counts(
  dist: string,
  bodies: string,
  mode: string,
  rounds: number,
  cacheSim: boolean,
): Promise<Counts> {
  const prefix = cacheSim ? CACHEGRIND_CACHE_SIM : CACHEGRIND;
  const { stderr } = await run(
    prefix[0],
    [...prefix.slice(1), process.execPath, ...V8_DETERMINISM, RUNNER, dist, bodies, mode, String(rounds)],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  return {
    instructions: instructionsIn(stderr),
    ...(cacheSim ? cacheMissesIn(stderr) : { i1: 0, d1: 0, ll: 0 }),
  };
}

/** Counts per span of one mode: a run of `rounds` measured rounds minus the warm-up alone. */
async function perSpan(
  dist: string,
  bodies: string,
  mode: string,
  rounds: number,
  spans: number,
  cacheSim: boolean,
): Promise<Counts> {
  const [warmOnly, full] = await Promise.all([
    counts(dist, bodies, mode, 0, cacheSim),
    counts(dist, bodies, mode, rounds, cacheSim),
  ]);
  return {
    instructions: (full.instructions - warmOnly.instructions) / spans,
    i1: (full.i1 - warmOnly.i1) / spans,
    d1: (full.d1 - warmOnly.d1) / spans,
    ll: (full.ll - warmOnly.ll) / spans,
  };
}

const minus = (a: Counts, b: Counts): Counts => ({
  instructions: a.instructions - b.instructions,
  i1: a.i1 - b.i1,
  d1: a.d1 - b.d1,
  ll: a.ll - b.ll,
});
const ratio = (now: number, base: number) => (base === 0 ? '–' : (now / base).toFixed(3));

async function main(): Promise<void> {
  try {
    execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
  } catch {
    console.error('valgrind is not installed (apt-get install valgrind)');
    process.exit(2);
  }
  const baseRev = flagValues('base')[0] ?? 'HEAD';
  const rounds = flagNumber('rounds') ?? 2;
  const cacheSim = process.argv.includes('--cache-sim');
  ensureBuilt();
  const work = mkdtempSync(join(tmpdir(), 'spanstat-instructions-'));
  const baseTree = buildBaseTree(baseRev);
  try {
    const stream = new BatchStream(buildTemplates({ templates: 16, spansPerBatch: 512, seed: 7 }));
    const parts: Buffer[] = [];
    let spans = 0;
    for (let i = 0; i < (rounds + 1) * BODIES_PER_ROUND; i++) {
      const body = Buffer.from(stream.next());
      // Spans of the measured rounds only (the runner reports the same count).
      if (i >= BODIES_PER_ROUND) spans += countTraceSpans(body);
      const length = Buffer.alloc(4);
      length.writeUInt32LE(body.length);
      parts.push(length, body);
    }
    const bodies = join(work, 'bodies.bin');
    writeFileSync(bodies, Buffer.concat(parts));

    const trees = [
      { name: `base (${baseRev})`, dist: baseTree.dist },
      { name: 'work tree', dist: join(REPO_ROOT, 'dist') },
    ];
    const rows: { name: string; decode: Counts; pipeline: Counts; total: Counts }[] = [];
    const n = (x: number, width = 6) => Math.round(x).toString().padStart(width);
    const f = (x: number) => x.toFixed(1).padStart(6);
    for (const tree of trees) {
      const decode = await perSpan(tree.dist, bodies, 'decode', rounds, spans, cacheSim);
      const total = await perSpan(tree.dist, bodies, 'pipeline', rounds, spans, cacheSim);
      const pipeline = minus(total, decode);
      rows.push({ name: tree.name, decode, pipeline, total });
      console.log(
        `${tree.name.padEnd(24)} decode ${n(decode.instructions)}  pipeline ${n(pipeline.instructions)}  total ${n(total.instructions)} instructions/span`,
      );
      if (cacheSim)
        console.log(
          `${''.padEnd(24)} misses/span: I1 decode ${f(decode.i1)} pipeline ${f(pipeline.i1)}; D1 decode ${f(decode.d1)} pipeline ${f(pipeline.d1)}; LL data decode ${f(decode.ll)} pipeline ${f(pipeline.ll)}`,
        );
    }
    const [base, now] = rows;
    console.log(
      `work tree / base: decode ${ratio(now.decode.instructions, base.decode.instructions)}, pipeline ${ratio(now.pipeline.instructions, base.pipeline.instructions)}, total ${ratio(now.total.instructions, base.total.instructions)} (${spans} spans measured)`,
    );
    if (cacheSim)
      console.log(
        `misses, work tree / base: I1 pipeline ${ratio(now.pipeline.i1, base.pipeline.i1)}, total ${ratio(now.total.i1, base.total.i1)}; D1 pipeline ${ratio(now.pipeline.d1, base.pipeline.d1)}, total ${ratio(now.total.d1, base.total.d1)}; LL data pipeline ${ratio(now.pipeline.ll, base.pipeline.ll)}, total ${ratio(now.total.ll, base.total.ll)}`,
      );
  } finally {
    baseTree.remove();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
