/**
 * End-to-end ingest of the work tree against a git revision, by wall clock: both builds' sidecars
 * (the CLI, as shipped: its V8 flags, its 1 MiB semi-space) take turns on core 0 with the ingest
 * bench's sender on core 1, in alternating order, and each round compares spans processed per
 * CPU-second of the sidecar. The figure for a change the instruction counts cannot judge alone — one
 * about GC, memory or I/O, or one that trades instructions for cache misses (the chunked pipeline:
 * +3.4% instructions, 1.11–1.16× end to end in three runs of ten rounds or fewer). The VM drifts ~2×
 * within minutes, so only the paired per-round ratios mean anything, and ±10% needs ten rounds or more.
 *
 *   npx tsx bench/ingest-ab.ts [--base HEAD] [--rounds 10] [--seconds 6]
 *
 * A developer tool, not part of `npm run bench`; ~30 s per round.
 */
import { join } from 'node:path';
import { REPO_ROOT } from '../scripts/lib/demo-stack';
import { measureEndToEnd } from './ingest.bench';
import { buildBaseTree } from './lib/base-tree';
import { flagNumber, flagValues } from './lib/flags';
import { BatchStream, buildTemplates } from './lib/otlp-batches';
import { CORE_UNDER_TEST, ensureBuilt, pinSelfToLoadCore } from './lib/setup';
import { startSidecarProcess } from './lib/sidecar-process';
import { median } from './lib/stats';

/** Spans processed per CPU-second of a sidecar built in `dist`, over `seconds` after a warm-up. */
async function perCpuSecond(dist: string, stream: BatchStream, seconds: number): Promise<number> {
  const sidecar = await startSidecarProcess({ core: CORE_UNDER_TEST, cliPath: join(dist, 'cli', 'main.js') });
  try {
    const run = await measureEndToEnd(sidecar, stream, seconds, 4);
    if (run.failedSpans > 0 || run.failures > 0) throw new Error(`${dist}: ${run.failedSpans} spans failed`);
    return run.rate.perCpuSecond;
  } finally {
    await sidecar.stop();
  }
}

async function main(): Promise<void> {
  const baseRev = flagValues('base')[0] ?? 'HEAD';
  const rounds = flagNumber('rounds') ?? 10;
  const seconds = flagNumber('seconds') ?? 6;
  ensureBuilt();
  pinSelfToLoadCore();
  const base = buildBaseTree(baseRev);
  try {
    const stream = new BatchStream(buildTemplates({ templates: 16, spansPerBatch: 512, seed: 7 }));
    const trees = { base: base.dist, work: join(REPO_ROOT, 'dist') };
    const rates = { base: [] as number[], work: [] as number[] };
    const ratios: number[] = [];
    const k = (x: number) => `${(x / 1000).toFixed(0)}k`;
    for (let round = 0; round < rounds; round++) {
      // Alternate who goes first, so a drift within a round favours neither.
      const order = round % 2 === 0 ? (['base', 'work'] as const) : (['work', 'base'] as const);
      for (const name of order) rates[name].push(await perCpuSecond(trees[name], stream, seconds));
      const ratio = rates.work[round] / rates.base[round];
      ratios.push(ratio);
      console.log(
        `round ${round + 1}: base ${k(rates.base[round])}, work tree ${k(rates.work[round])} spans per CPU-s → ${ratio.toFixed(2)}`,
      );
    }
    const ahead = ratios.filter((r) => r > 1).length;
    console.log(
      `work tree / base (${baseRev}): paired median ${median(ratios).toFixed(3)} (${ahead} of ${rounds} rounds ahead); ` +
        `medians ${k(median(rates.base))} → ${k(median(rates.work))} spans per CPU-s`,
    );
  } finally {
    base.remove();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
