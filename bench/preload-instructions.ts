/**
 * Instructions per request the preload adds to the demo app, counted by valgrind (cachegrind): a
 * figure for the preload's cost far steadier than time on this VM, where app CPU per request swings
 * ±30% between 5-s rounds and the throughput loss of the preload bench between 22% and 42%. Runs of
 * one build still spread ~±5% (event-loop turns vary with timing): run it alone, more than once.
 *
 *   npx tsx bench/preload-instructions.ts [--requests 400] [--variant name=<preload path>|none] …
 *
 * The demo app runs under cachegrind with V8 made deterministic (see V8_DETERMINISM); this process
 * sends the preload bench's route sequentially — GET /api/quotes/:code, one request in four
 * a new code (Redis GET miss, one PostgreSQL query, Redis SET), the other three the code just made
 * (GET hits) — and stops the app. Two runs per variant, of WARM_UP + N and WARM_UP + 2N requests;
 * their difference over N is the app's instructions per request, start-up and exit excluded. Spans
 * go to an in-process sink that answers 200, in full 512-span batches as at saturation (the 60-s
 * schedule delay never fires at valgrind's pace first). Sequential requests cost more instructions
 * each than a saturated app batching its I/O, so compare variants, not absolute counts.
 *
 * Needs valgrind (`apt-get install valgrind`); a developer tool, not part of `npm run bench`; ~4 min
 * per variant with the defaults.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PRELOAD_PATH } from '../scripts/lib/demo-stack';
import { CACHEGRIND, instructionsIn, V8_DETERMINISM } from './lib/cachegrind';
import { type DemoData, startDemoApp, startDemoData } from './lib/demo-app-process';
import { flagValues } from './lib/flags';
import { ensureBuilt } from './lib/setup';

/**
 * Requests before the counted ones: with 100 (and without --predictable) the preload read +40% where
 * the CPU probe reads +17–21% — its code not yet optimised, presumably; with 1500 it read +19%.
 */
const WARM_UP = 1500;

/** The app's whole-run instruction count after serving `requests` quote requests. */
async function countRun(
  data: DemoData,
  preload: string | undefined,
  otlpUrl: string,
  requests: number,
  seed: number,
) {
  const app = await startDemoApp({
    data,
    preload,
    wrapper: CACHEGRIND,
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
  return instructionsIn(app.tail());
}

async function main(): Promise<void> {
  ensureBuilt();
  const requests = Number(flagValues('requests')[0] ?? 400);
  const variants = new Map<string, string | undefined>();
  for (const spec of flagValues('variant')) {
    const [name, path] = spec.includes('=') ? spec.split('=', 2) : [spec, spec];
    variants.set(name, path === 'none' ? undefined : path);
  }
  if (variants.size === 0) {
    variants.set('none', undefined);
    variants.set('spanstat', PRELOAD_PATH);
  }
  const sink = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end());
  });
  await new Promise<void>((done) => sink.listen(0, '127.0.0.1', done));
  const otlpUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
  const data = await startDemoData();
  try {
    const perRequest = new Map<string, number>();
    let seed = 36 ** 5;
    for (const [name, preload] of variants) {
      // Fresh codes per run, the same sequence shape in both runs of every variant.
      seed += 100_000;
      const short = await countRun(data, preload, otlpUrl, WARM_UP + requests, seed);
      seed += 100_000;
      const long = await countRun(data, preload, otlpUrl, WARM_UP + 2 * requests, seed);
      perRequest.set(name, (long - short) / requests);
      console.log(
        `${name.padEnd(12)} ${Math.round((long - short) / requests)
          .toString()
          .padStart(9)} instructions/request`,
      );
    }
    const first = [...perRequest.values()][0];
    for (const [name, n] of perRequest)
      console.log(
        `${name.padEnd(12)} ${((n / first - 1) * 100).toFixed(1).padStart(6)}% vs ${[...perRequest.keys()][0]}`,
      );
  } finally {
    await data.stop();
    sink.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
