/**
 * Figure 6, overload. Part 1: the built sidecar (default config, pinned to one core) is offered 3×
 * its sustainable ingest rate, open loop, for 10 s. Every refusal must be a 429/503 with
 * Retry-After, RSS must stay under the 150 MB cap, the process must live, and once the excess
 * stops it must accept again by itself. Part 2: the demo app under the spanstat preload exports
 * to a receiver that refuses everything with `503, Retry-After: 1` (then, as a control, to one that
 * accepts everything: the app's own heap growth under the same load); the exporter must honour the
 * pause (≤ ~1 attempt per second) and the app's RSS must not grow while it serves load.
 *
 *   npx tsx bench/overload.bench.ts [--sustainable 100000] [--seconds 10] [--preload-seconds 60] [--no-preload] [--no-control]
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PRELOAD_PATH } from '../scripts/lib/demo-stack';
import { cpuTimeMs, rate, rssMB } from './lib/cpu';
import { type AppProcess, type DemoData, startDemoApp, startDemoData } from './lib/demo-app-process';
import {
  type BenchResult,
  type Figure,
  figure,
  notMeasured,
  pct,
  reportStandalone,
  SIDECAR_RSS_TARGET_MB,
  si,
} from './lib/figures';
import { flagNumber } from './lib/flags';
import { OtlpPoster, type PostResult } from './lib/http';
import { runAutocannon } from './lib/load';
import { BatchStream, buildTemplates } from './lib/otlp-batches';
import { CORE_UNDER_TEST, ensureBuilt, pinSelfToLoadCore } from './lib/setup';
import { type SidecarProcess, sleep, startSidecarProcess } from './lib/sidecar-process';
import { slope } from './lib/stats';

export interface OverloadOptions {
  /** Sustainable ingest rate (spans/s), e.g. from the ingest bench; measured here when absent. */
  sustainable?: number;
  seconds?: number;
  /** Part 2's measured stretch (after its 10-s warm-up). */
  preloadSeconds?: number;
  /** Part 2's control run, exports accepted (`--no-control` skips it). */
  control?: boolean;
  preload?: boolean;
  log?: (line: string) => void;
}

const OVERLOAD_FACTOR = 3;
/**
 * Part 2 judges the app's RSS by the slope of a line fitted over its stretch: V8's heap saws by
 * 20–30 MB between collections (139–165 MB within seconds in one run), so the two edges of a 10-s
 * stretch read anywhere from −10 to +16 MB and its slope ±40 MB/min on an exporter holding at most
 * its 2048-span queue. Session 30's runs: 30 s fitted +5.5 MB/min, 60 s +0.2 MB/min. 60 s fits the
 * line over many saw teeth; an exporter keeping each refused batch (~2.5 spans of ~300 B per request
 * at ~1.4k requests/s) would climb ~60 MB/min.
 */
const PRELOAD_SECONDS = 60;
const RSS_SLOPE_LIMIT_MB_PER_MIN = 10;
/** Client-side cap on POSTs in flight, so the load generator itself cannot run away. */
const MAX_IN_FLIGHT = 256;

interface Tally {
  ok: number;
  refused: number;
  refusedWithRetryAfter: number;
  other: Record<string, number>;
  skipped: number;
}

function tally(): Tally {
  return { ok: 0, refused: 0, refusedWithRetryAfter: 0, other: {}, skipped: 0 };
}

function count(t: Tally, res: PostResult): void {
  if (res.status === 200) t.ok++;
  else if (res.status === 503 || res.status === 429) {
    t.refused++;
    if (res.retryAfter !== undefined && res.retryAfter > 0) t.refusedWithRetryAfter++;
  } else {
    const key = res.status === 0 ? `error ${res.error ?? ''}`.trim() : String(res.status);
    t.other[key] = (t.other[key] ?? 0) + 1;
  }
}

/** Sends batches at `spansPerSecond` for `seconds` without waiting for answers (open loop). */
async function openLoop(
  poster: OtlpPoster,
  stream: BatchStream,
  spansPerSecond: number,
  seconds: number,
  t: Tally,
  spansPerBatch: number,
): Promise<number> {
  const intervalMs = (1000 * spansPerBatch) / spansPerSecond;
  const start = performance.now();
  let sent = 0;
  let inFlight = 0;
  while (performance.now() - start < seconds * 1000) {
    const due = Math.floor((performance.now() - start) / intervalMs) + 1;
    while (sent < due) {
      sent++;
      if (inFlight >= MAX_IN_FLIGHT) {
        t.skipped++;
        continue;
      }
      inFlight++;
      void poster.post(stream.next()).then((res) => {
        inFlight--;
        count(t, res);
      });
    }
    await sleep(Math.max(1, intervalMs / 2));
  }
  const elapsedMs = performance.now() - start;
  while (inFlight > 0) await sleep(10);
  return ((sent - t.skipped) * spansPerBatch * 1000) / elapsedMs;
}

/**
 * Closed-loop maximum for a few seconds: spans the sidecar processes per CPU-second, i.e. what it
 * sustains with its core to itself (the wall-clock rate when it had the core).
 */
async function measureSustainable(sidecar: SidecarProcess, stream: BatchStream): Promise<number> {
  const poster = new OtlpPoster(sidecar.receiverUrl, 4);
  let stop = false;
  const loop = async () => {
    while (!stop) {
      const res = await poster.post(stream.next());
      if (res.status !== 200) await sleep(5);
    }
  };
  const loops = Array.from({ length: 4 }, loop);
  await sleep(1500);
  const a = await sidecar.health();
  const cpu0 = cpuTimeMs(sidecar.pid);
  const t0 = performance.now();
  await sleep(4000);
  const b = await sidecar.health();
  const measured = rate(
    b.pipeline.spansProcessed - a.pipeline.spansProcessed,
    performance.now() - t0,
    cpuTimeMs(sidecar.pid) - cpu0,
  );
  stop = true;
  await Promise.all(loops);
  poster.close();
  await sidecar.waitProcessed(b.pipeline.spansReceived, 60_000).catch(() => undefined);
  return Math.max(measured.wall, Number.isFinite(measured.perCpuSecond) ? measured.perCpuSecond : 0);
}

async function sidecarOverload(options: OverloadOptions, log: (line: string) => void) {
  const templates = buildTemplates({ templates: 16, spansPerBatch: 512, seed: 9 });
  const spansPerBatch = templates.reduce((n, t) => n + t.spans, 0) / templates.length;
  const stream = new BatchStream(templates);
  const sidecar = await startSidecarProcess({ core: CORE_UNDER_TEST });
  const seconds = options.seconds ?? 10;
  const rss: { tMs: number; rss: number; pending: number }[] = [];
  try {
    const sustainable = options.sustainable ?? (await measureSustainable(sidecar, stream));
    log(`overload: sustainable ${si(sustainable)} spans/s; offering ${OVERLOAD_FACTOR}× for ${seconds} s`);
    let sampling = true;
    const t0 = performance.now();
    const sampler = (async () => {
      while (sampling) {
        const h = await sidecar.health().catch(() => undefined);
        rss.push({
          tMs: performance.now() - t0,
          rss: sidecar.rssMB(),
          pending: h?.pipeline.pendingSpans ?? -1,
        });
        await sleep(250);
      }
    })();
    const poster = new OtlpPoster(sidecar.receiverUrl, MAX_IN_FLIGHT);
    const overload = tally();
    const offered = await openLoop(
      poster,
      stream,
      OVERLOAD_FACTOR * sustainable,
      seconds,
      overload,
      spansPerBatch,
    );
    const aliveAfterOverload = sidecar.alive();
    log(
      `overload: offered ${si(offered)} spans/s: ${overload.ok} accepted, ${overload.refused} refused (${overload.refusedWithRetryAfter} with Retry-After), other ${JSON.stringify(overload.other)}`,
    );
    // Recovery: half the sustainable rate, open loop; measure how soon posts are accepted again.
    const endOverload = performance.now();
    const recovery = tally();
    let firstOkMs = Number.NaN;
    const probe = async () => {
      while (Number.isNaN(firstOkMs) && performance.now() - endOverload < 30_000) {
        const res = await poster.post(stream.next());
        if (res.status === 200) firstOkMs = performance.now() - endOverload;
        else await sleep(20);
      }
    };
    await probe();
    await openLoop(poster, stream, sustainable / 2, 5, recovery, spansPerBatch);
    const health = await sidecar.health();
    await sidecar.waitProcessed(health.pipeline.spansReceived, 60_000).catch(() => undefined);
    sampling = false;
    await sampler;
    poster.close();
    const maxRss = Math.max(...rss.map((s) => s.rss));
    return {
      sustainable,
      offered,
      overload,
      recovery,
      firstOkMs,
      alive: aliveAfterOverload && sidecar.alive(),
      maxRss,
      maxPending: Math.max(...rss.map((s) => s.pending)),
      rss: rss.filter((_, i) => i % 2 === 0),
    };
  } finally {
    await sidecar.stop();
  }
}

/**
 * An OTLP receiver that counts the export attempts and refuses every one with 503 + Retry-After: 1, or
 * (the control run) accepts every one with 200 and an empty ExportTraceServiceResponse.
 */
async function countingReceiver(
  refuse: boolean,
): Promise<{ url: string; attempts: number[]; server: Server }> {
  const attempts: number[] = [];
  const t0 = performance.now();
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      attempts.push(performance.now() - t0);
      if (refuse) res.writeHead(503, { 'Retry-After': '1', 'Content-Type': 'application/x-protobuf' });
      else res.writeHead(200, { 'Content-Type': 'application/x-protobuf' });
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, attempts, server };
}

/**
 * The demo app under the preload, loaded for `seconds` after a warm-up while it exports to a receiver
 * that refuses everything (or, `refuse` false, the control: one that accepts everything); its export
 * attempts and its RSS, with the slope of a line fitted over the stretch.
 */
async function preloadExporting(refuse: boolean, seconds: number, log: (line: string) => void) {
  let data: DemoData | undefined;
  let app: AppProcess | undefined;
  const receiver = await countingReceiver(refuse);
  try {
    data = await startDemoData();
    app = await startDemoApp({
      data,
      preload: PRELOAD_PATH,
      core: CORE_UNDER_TEST,
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_SERVICE_NAME: refuse ? 'bench-refused' : 'bench-accepted',
        OTEL_LOG_LEVEL: 'error',
      },
    });
    const pid = app.pid;
    const samples: { tMs: number; rss: number }[] = [];
    let sampling = true;
    const t0 = performance.now();
    const sampler = (async () => {
      while (sampling) {
        samples.push({ tMs: performance.now() - t0, rss: rssMB(pid) });
        await sleep(250);
      }
    })();
    let offset = Math.floor(Math.random() * 36 ** 6);
    // Warm-up (JIT, heap growing to its working size, the exporter already refused), then the measured stretch.
    // 10 s: after 5 s V8 was still growing the app's heap (124 → 135 MB over the next 10 s in one run),
    // which read as exporter growth although the exporter holds at most its bounded queue.
    const warm = await runAutocannon({
      url: app.url,
      path: (n) => `/api/quotes/R${(offset + n).toString(36).toUpperCase()}`,
      connections: 4,
      seconds: 10,
    });
    offset += warm.requests + 1;
    const attemptsBefore = receiver.attempts.length;
    const tMeasure = performance.now();
    const load = await runAutocannon({
      url: app.url,
      path: (n) => `/api/quotes/R${(offset + n).toString(36).toUpperCase()}`,
      connections: 4,
      seconds,
    });
    const measuredSeconds = (performance.now() - tMeasure) / 1000;
    sampling = false;
    await sampler;
    const attempts = receiver.attempts.length - attemptsBefore;
    const later = samples.filter((s) => s.tMs >= tMeasure - t0);
    const measuredFrom = tMeasure - t0;
    const fitted = (xs: { tMs: number; rss: number }[]) =>
      slope(
        xs.map((s) => s.tMs / 60_000),
        xs.map((s) => s.rss),
      );
    const rssSlopePerMin = fitted(later);
    // Mean of the first and last 2 s of the stretch, so one GC's sawtooth does not decide.
    const edge = Math.max(1, Math.floor(later.length / (measuredSeconds / 2)));
    const meanRss = (xs: { rss: number }[]) => xs.reduce((n, x) => n + x.rss, 0) / Math.max(1, xs.length);
    const result = {
      seconds: measuredSeconds,
      requests: load.requests,
      rps: load.rps,
      non2xx: load.non2xx + load.errors,
      exportAttempts: attempts,
      attemptsPerSecond: attempts / measuredSeconds,
      rssStart: meanRss(later.slice(0, edge)),
      rssEnd: meanRss(later.slice(-edge)),
      rssMax: Math.max(...later.map((s) => s.rss)),
      rssSlopeMBPerMin: rssSlopePerMin,
      // V8 may still be sizing the heap early in the stretch: the second half alone, for context.
      rssSlopeSecondHalfMBPerMin: fitted(later.slice(Math.floor(later.length / 2))),
      // One sample a second, from the measured stretch's start, for reading the saw by eye.
      rssPerSecond: later
        .filter((_, i) => i % 4 === 0)
        .map((s) => [Math.round((s.tMs - measuredFrom) / 100) / 10, Math.round(s.rss * 10) / 10]),
    };
    log(
      `overload: preload vs ${refuse ? 'refusing' : 'accepting'} receiver: ${result.requests} requests served, ${attempts} export attempts in ${measuredSeconds.toFixed(0)} s, app RSS ${result.rssStart.toFixed(0)} → ${result.rssEnd.toFixed(0)} MB`,
    );
    return result;
  } finally {
    await app?.stop();
    await data?.stop();
    await new Promise((resolve) => receiver.server.close(resolve));
  }
}

export async function runOverloadBench(options: OverloadOptions = {}): Promise<BenchResult> {
  const log = options.log ?? console.log;
  const started = performance.now();
  ensureBuilt(log);
  pinSelfToLoadCore();
  const s = await sidecarOverload(options, log);
  const refusedRight = s.overload.refused > 0 && s.overload.refusedWithRetryAfter === s.overload.refused;
  const otherFailures = Object.values(s.overload.other).reduce((a, b) => a + b, 0);
  const recoveryOtherFailures = Object.values(s.recovery.other).reduce((a, b) => a + b, 0);
  const recovered = !Number.isNaN(s.firstOkMs) && s.recovery.refused === 0 && recoveryOtherFailures === 0;
  const figures: Figure[] = [
    figure(
      'overload.refusals',
      `sidecar at ${(s.offered / s.sustainable).toFixed(1)}× sustainable (${si(s.offered)} spans/s offered)`,
      '429/503 + Retry-After, no other errors',
      `${s.overload.refused} refused (${s.overload.refusedWithRetryAfter} with Retry-After), ${s.overload.ok} accepted, ${otherFailures} other`,
      refusedRight && otherFailures === 0,
      s.offered < 2.5 * s.sustainable
        ? `the load generator reached only ${(s.offered / s.sustainable).toFixed(1)}× the sustainable rate`
        : undefined,
    ),
    figure(
      'overload.memory',
      'sidecar RSS under overload',
      `≤ ${SIDECAR_RSS_TARGET_MB} MB, alive`,
      `max ${s.maxRss.toFixed(0)} MB (pending ≤ ${si(s.maxPending)} spans), ${s.alive ? 'alive' : 'CRASHED'}`,
      s.maxRss <= SIDECAR_RSS_TARGET_MB && s.alive,
    ),
    figure(
      'overload.recovery',
      'recovery after overload',
      'accepts again by itself',
      Number.isNaN(s.firstOkMs)
        ? 'never accepted again'
        : `first 200 after ${(s.firstOkMs / 1000).toFixed(1)} s; then ${s.recovery.ok} ok, ${s.recovery.refused} refused at 0.5×`,
      recovered,
    ),
  ];
  let preload: Awaited<ReturnType<typeof preloadExporting>> | undefined;
  let control: Awaited<ReturnType<typeof preloadExporting>> | undefined;
  if (options.preload !== false) {
    const seconds = options.preloadSeconds ?? PRELOAD_SECONDS;
    const sign = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(1)}`;
    try {
      preload = await preloadExporting(true, seconds, log);
      figures.push(
        figure(
          'overload.preload-retry',
          'preload exporter vs 503 Retry-After: 1',
          `≤ 1.5 attempts/s, app RSS flat (fitted ≤ ${RSS_SLOPE_LIMIT_MB_PER_MIN} MB/min), app serves`,
          `${preload.attemptsPerSecond.toFixed(2)} attempts/s; RSS ${sign(preload.rssSlopeMBPerMin)} MB/min over ${preload.seconds.toFixed(0)} s, ${sign(preload.rssSlopeSecondHalfMBPerMin)} over its 2nd half (${preload.rssStart.toFixed(0)} → ${preload.rssEnd.toFixed(0)} MB, max ${preload.rssMax.toFixed(0)}); ${preload.rps.toFixed(0)} req/s, ${preload.non2xx} errors`,
          preload.attemptsPerSecond <= 1.5 &&
            preload.rssSlopeMBPerMin <= RSS_SLOPE_LIMIT_MB_PER_MIN &&
            preload.non2xx === 0 &&
            preload.requests > 0,
        ),
      );
      if (options.control !== false) {
        // The same app and load exporting to a receiver that accepts: the app's own heap growth, which
        // the refused run's slope includes.
        control = await preloadExporting(false, seconds, log);
        figures.push(
          figure(
            'overload.preload-retry-control',
            'preload app RSS, exports accepted (control)',
            'context',
            `RSS ${sign(control.rssSlopeMBPerMin)} MB/min over ${control.seconds.toFixed(0)} s, ${sign(control.rssSlopeSecondHalfMBPerMin)} over its 2nd half (${control.rssStart.toFixed(0)} → ${control.rssEnd.toFixed(0)} MB, max ${control.rssMax.toFixed(0)}); refused − accepted ${sign(preload.rssSlopeMBPerMin - control.rssSlopeMBPerMin)} MB/min; ${control.rps.toFixed(0)} req/s, ${control.exportAttempts} exports`,
            null,
          ),
        );
      }
    } catch (err) {
      figures.push(
        notMeasured(
          'overload.preload-retry',
          'preload exporter vs 503 Retry-After: 1',
          '≤ 1.5 attempts/s',
          (err as Error).message.split('\n')[0],
        ),
      );
    }
  }
  return {
    name: 'overload',
    figures,
    raw: {
      sidecar: s,
      preload,
      control,
      factor: OVERLOAD_FACTOR,
      shareRefused: pct(s.overload.refused / Math.max(1, s.overload.refused + s.overload.ok)),
    },
    durationMs: performance.now() - started,
  };
}

if (require.main === module) {
  runOverloadBench({
    sustainable: flagNumber('sustainable'),
    seconds: flagNumber('seconds'),
    preloadSeconds: flagNumber('preload-seconds'),
    preload: !process.argv.includes('--no-preload'),
    control: !process.argv.includes('--no-control'),
  })
    .then(reportStandalone)
    .catch((err) => {
      console.error(err);
      process.exitCode = 1;
    });
}
