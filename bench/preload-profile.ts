/**
 * Where the demo app's CPU goes under load, by JavaScript function: `perf` samples with V8's JIT dump,
 * so optimised code keeps its names (`--perf-basic-prof` maps misattributed code whose address V8 had
 * reused, a daily event on this app, which deoptimises steadily). Each sample counts for the first
 * JavaScript frame on its stack, natives called from it included (an inline-cache miss counts for
 * the function that missed). This is how the String.prototype finding in BENCHMARKS.md was made.
 *
 *   npx tsx bench/preload-profile.ts [--preload <path>|none] [--seconds 20] [--connections 10] [--top 25] [--callers Builtins_LoadIC]
 *                                    [--inside _implicitHeader] [--stack writevGeneric] [--node <path>|24]
 *
 * The app runs pinned to core 0 under `perf record -k mono -g` (from its start: `perf inject` needs the
 * JIT dump's mapping, so start-up and the warm-up are in the samples too, and per-request figures
 * divide by every request answered), the preload bench's route at saturation drives it (autocannon, 10 connections unless --connections, one request in four a
 * cache miss), and spans go to an in-process sink. Prints µs of app CPU per request by function (the
 * preload's own and OpenTelemetry's frames marked) and, with --callers, which functions call a native
 * function, with --inside, the leaf frames of one JS function's samples, and with --stack, the JS
 * call chains (four frames) that lead to one JS function's samples. Needs `perf` (linux-perf) with permission to profile (root, or perf_event_paranoid ≤ 1);
 * a developer tool, not part of `npm run bench`; ~1 min.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PRELOAD_PATH, REPO_ROOT } from '../scripts/lib/demo-stack';
import { nodeBinary } from '../scripts/lib/node-binary';
import { startDemoApp, startDemoData } from './lib/demo-app-process';
import { flagNumber, flagValues } from './lib/flags';
import { runAutocannon } from './lib/load';
import { startOtlpSink } from './lib/otlp-sink';
import { CORE_UNDER_TEST, ensureBuilt, pinSelfToLoadCore } from './lib/setup';
import { quotePaths } from './preload-overhead.bench';

const SAMPLE_HZ = 2000;
const WARM_UP_SECONDS = 8;
const OURS = /dist\/preload\/|@opentelemetry\/|node:internal\/async_hooks|node:async_hooks/;

/** Stacks (leaf first) of every sample in a perf data file, JIT frames named. */
function samples(dataFile: string): string[][] {
  const text = execFileSync('perf', ['script', '-i', dataFile, '-F', 'ip,sym'], {
    maxBuffer: 1 << 30,
    stdio: ['ignore', 'pipe', 'ignore'],
  }).toString();
  return text
    .split('\n\n')
    .map((block) =>
      block
        .split('\n')
        .map((line) => line.trim().replace(/^[0-9a-f]+\s+/, ''))
        .filter((frame) => frame !== ''),
    )
    .filter((stack) => stack.length > 0);
}

const isJs = (frame: string) => /^(JS|Eval|Function|LazyCompile):/.test(frame);
const short = (frame: string) => frame.replace(`${REPO_ROOT}/`, '').replace('node_modules/', 'nm/');

function countBy(stacks: string[][], key: (stack: string[]) => string | undefined): Map<string, number> {
  const counts = new Map<string, number>();
  for (const stack of stacks) {
    const k = key(stack);
    if (k !== undefined) counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return counts;
}

async function main(): Promise<void> {
  ensureBuilt();
  pinSelfToLoadCore();
  const preloadFlag = flagValues('preload')[0] ?? PRELOAD_PATH;
  const preload = preloadFlag === 'none' ? undefined : preloadFlag;
  const seconds = flagNumber('seconds') ?? 20;
  const connections = flagNumber('connections') ?? 10;
  const top = flagNumber('top') ?? 25;
  const callersOf = flagValues('callers')[0];
  const insideOf = flagValues('inside')[0];
  const stackOf = flagValues('stack')[0];
  const scratch = mkdtempSync(join(tmpdir(), 'spanstat-profile-'));
  const dataFile = join(scratch, 'perf.data');

  const sink = await startOtlpSink();
  const data = await startDemoData();
  let requests = 0;
  try {
    const app = await startDemoApp({
      data,
      preload,
      node: nodeBinary(flagValues('node')[0], console.log),
      wrapper: [
        'taskset',
        '-c',
        String(CORE_UNDER_TEST),
        'perf',
        'record',
        '-k',
        'mono',
        '-F',
        String(SAMPLE_HZ),
        '-g',
        '-o',
        dataFile,
        '--',
      ],
      nodeArgs: ['--perf-prof', '--interpreted-frames-native-stack'],
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
        OTEL_LOG_LEVEL: 'error',
      },
      stopTimeoutMs: 60_000,
    });
    const paths = quotePaths(4, Math.floor(Math.random() * 36 ** 6));
    try {
      const warmUp = await runAutocannon({
        url: app.url,
        path: paths.path,
        connections,
        seconds: WARM_UP_SECONDS,
      });
      paths.nextRun();
      const run = await runAutocannon({ url: app.url, path: paths.path, connections, seconds });
      requests = warmUp.ok + run.ok;
      console.log(`${preload ? 'preload' : 'no preload'}: ${Math.round(run.rps)} req/s, ${run.ok} answered`);
    } finally {
      await app.stop();
    }
    const injected = join(scratch, 'perf.jit.data');
    execFileSync('perf', ['inject', '--jit', '-i', dataFile, '-o', injected], {
      cwd: scratch,
      stdio: 'ignore',
    });

    const stacks = samples(injected);
    const usPerSample = 1e6 / SAMPLE_HZ;
    const perRequest = (n: number) => (n * usPerSample) / Math.max(1, requests);
    const byFrame = countBy(stacks, (stack) => stack.find(isJs) ?? `[native] ${stack[0]}`);
    let ours = 0;
    for (const [frame, n] of byFrame) if (OURS.test(frame)) ours += n;
    console.log(
      `\napp CPU sampled: ${perRequest(stacks.length).toFixed(0)} µs/request; preload, OpenTelemetry and async_hooks frames: ${perRequest(ours).toFixed(1)} µs/request (*)`,
    );
    console.log(`\n${'µs/request'.padStart(10)}  first JavaScript frame (natives it called included)`);
    for (const [frame, n] of [...byFrame].sort((a, b) => b[1] - a[1]).slice(0, top))
      console.log(
        `${perRequest(n).toFixed(2).padStart(10)}  ${OURS.test(frame) ? '* ' : '  '}${short(frame).slice(0, 110)}`,
      );
    if (callersOf) {
      const callers = countBy(stacks, (stack) =>
        stack[0].startsWith(callersOf) ? (stack.find(isJs) ?? '?') : undefined,
      );
      console.log(`\ncallers of ${callersOf}:`);
      for (const [frame, n] of [...callers].sort((a, b) => b[1] - a[1]).slice(0, top))
        console.log(`${perRequest(n).toFixed(2).padStart(10)}  ${short(frame).slice(0, 110)}`);
    }
    if (insideOf) {
      const leaves = countBy(stacks, (stack) =>
        stack.find(isJs)?.includes(insideOf) ? stack[0] : undefined,
      );
      console.log(`\nleaf frames of samples in ${insideOf}:`);
      for (const [frame, n] of [...leaves].sort((a, b) => b[1] - a[1]).slice(0, top))
        console.log(`${perRequest(n).toFixed(2).padStart(10)}  ${short(frame).slice(0, 110)}`);
    }
    if (stackOf) {
      const chains = countBy(stacks, (stack) => {
        const js = stack.filter(isJs);
        return js[0]?.includes(stackOf)
          ? js
              .slice(1, 5)
              .map((frame) => short(frame).replace(/^JS:\*?/, ''))
              .join(' ← ')
          : undefined;
      });
      console.log(`\nJS callers of ${stackOf} (nearest first):`);
      for (const [chain, n] of [...chains].sort((a, b) => b[1] - a[1]).slice(0, top))
        console.log(`${perRequest(n).toFixed(2).padStart(10)}  ${chain.slice(0, 300)}`);
    }
  } finally {
    await data.stop();
    sink.close();
    rmSync(scratch, { recursive: true, force: true });
    // The JIT dump lands in the app's working directory and `perf inject` writes one .so per
    // function beside it.
    for (const file of readdirSync(REPO_ROOT))
      if (/^jit-\d+\.dump$|^jitted-\d+-\d+\.so$/.test(file)) rmSync(join(REPO_ROOT, file), { force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
