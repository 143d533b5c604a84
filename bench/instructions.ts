/**
 * Instructions per span of the sidecar's decode and pipeline, counted by valgrind (cachegrind),
 * for the work tree against a git revision: a before/after figure that holds still on this shared
 * VM, where CPU time per span swings 2x between minutes and A/B runs need many rounds to agree.
 *
 *   npx tsx bench/instructions.ts [--base HEAD] [--rounds 2]
 *
 * Both trees run the same recorded bodies (the ingest bench's mix, no body repeated, so every SQL
 * literal is new) through `instruction-runner.js` under cachegrind with V8 made deterministic
 * (`--predictable`: one thread, no time-driven GC; fixed hash and random seeds; a fixed clock). A run
 * of the warm-up round alone is subtracted, so start-up and JIT warm-up cancel out. Two builds of the
 * same code differed by 0.4% on decode and 1.5% on the pipeline (3.5% on the pipeline with
 * `--single-threaded` instead of `--predictable`), so read pipeline changes under ~3% as noise.
 * Instructions are not time (cache misses and GC pauses weigh differently), so use it to see a
 * change, and the wall-clock benches to state throughput.
 *
 * Needs valgrind (`apt-get install valgrind`); a developer tool, not part of `npm run bench`.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../scripts/lib/demo-stack';
import { countTraceSpans } from '../src/receiver/check-protobuf';
import { CACHEGRIND, instructionsIn, V8_DETERMINISM } from './lib/cachegrind';
import { flagNumber, flagValues } from './lib/flags';
import { BatchStream, buildTemplates } from './lib/otlp-batches';
import { ensureBuilt } from './lib/setup';

const run = promisify(execFile);
const BODIES_PER_ROUND = 160;
const RUNNER = join(__dirname, 'lib', 'instruction-runner.js');

/** Instructions the whole process executed, from cachegrind's summary. */
async function instructions(dist: string, bodies: string, mode: string, rounds: number): Promise<number> {
  const { stderr } = await run(
    CACHEGRIND[0],
    [...CACHEGRIND.slice(1), process.execPath, ...V8_DETERMINISM, RUNNER, dist, bodies, mode, String(rounds)],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  return instructionsIn(stderr);
}

/** Instructions per span of one mode: a run of `rounds` measured rounds minus the warm-up alone. */
async function perSpan(dist: string, bodies: string, mode: string, rounds: number, spans: number) {
  const [warmOnly, full] = await Promise.all([
    instructions(dist, bodies, mode, 0),
    instructions(dist, bodies, mode, rounds),
  ]);
  return (full - warmOnly) / spans;
}

async function main(): Promise<void> {
  try {
    execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
  } catch {
    console.error('valgrind is not installed (apt-get install valgrind)');
    process.exit(2);
  }
  const baseRev = flagValues('base')[0] ?? 'HEAD';
  const rounds = flagNumber('rounds') ?? 2;
  ensureBuilt();
  const work = mkdtempSync(join(tmpdir(), 'spanstat-instructions-'));
  const baseTree = join(work, 'base');
  try {
    execFileSync('git', ['-C', REPO_ROOT, 'worktree', 'add', '--detach', baseTree, baseRev], {
      stdio: 'ignore',
    });
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(baseTree, 'node_modules'));
    execFileSync(process.execPath, [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', baseTree]);

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
      { name: `base (${baseRev})`, dist: join(baseTree, 'dist') },
      { name: 'work tree', dist: join(REPO_ROOT, 'dist') },
    ];
    const rows: { name: string; decode: number; pipeline: number }[] = [];
    for (const tree of trees) {
      const decode = await perSpan(tree.dist, bodies, 'decode', rounds, spans);
      const total = await perSpan(tree.dist, bodies, 'pipeline', rounds, spans);
      rows.push({ name: tree.name, decode, pipeline: total - decode });
      console.log(
        `${tree.name.padEnd(24)} decode ${Math.round(decode).toString().padStart(6)}  pipeline ${Math.round(
          total - decode,
        )
          .toString()
          .padStart(6)}  total ${Math.round(total).toString().padStart(6)} instructions/span`,
      );
    }
    const [base, now] = rows;
    console.log(
      `work tree / base: decode ${(now.decode / base.decode).toFixed(3)}, pipeline ${(now.pipeline / base.pipeline).toFixed(3)}, total ${((now.decode + now.pipeline) / (base.decode + base.pipeline)).toFixed(3)} (${spans} spans measured)`,
    );
  } finally {
    execFileSync('git', ['-C', REPO_ROOT, 'worktree', 'remove', '--force', baseTree], { stdio: 'ignore' });
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
