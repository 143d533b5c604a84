/**
 * Figure 3, memory: the built sidecar (default config, pinned to one core) ingests a stream in
 * which every SQL statement carries inline literals — 1M distinct raw texts before any repeats —
 * and Redis keys cycle through 100k distinct ids, as fast as it accepts them. RSS is sampled
 * every 250 ms against the spans processed; "flat" is the least-squares slope over the second
 * half of the run, and the end RSS is extrapolated to 10M spans with it.
 *
 *   npx tsx bench/memory.bench.ts [--spans 3000000] [--senders 4] [--node-arg=--max-old-space-size=96 …]
 *
 * The sidecar runs with the CLI's V8 heap flags (src/cli/v8-flags.ts); `SPANSTAT_V8_FLAGS= npx tsx
 * bench/memory.bench.ts` measures V8's defaults instead.
 *
 * The full 10M spans take ~2 minutes or more on this machine; the default run is scaled down and
 * says so. Target: RSS ≤ 150 MB throughout and at 10M (extrapolated when scaled).
 */
import { type BenchResult, figure, reportStandalone, SIDECAR_RSS_TARGET_MB, si } from './lib/figures';
import { flagNumber } from './lib/flags';
import { OtlpPoster } from './lib/http';
import { BatchStream, buildTemplates } from './lib/otlp-batches';
import { CORE_UNDER_TEST, ensureBuilt, pinSelfToLoadCore } from './lib/setup';
import { sleep, startSidecarProcess } from './lib/sidecar-process';
import { slope } from './lib/stats';

export interface MemoryOptions {
  spans?: number;
  senders?: number;
  /** Extra node flags for the sidecar (e.g. --max-old-space-size=96) to try a fix. */
  nodeArgs?: string[];
  log?: (line: string) => void;
}

const TARGET_SPANS = 10_000_000;
const DISTINCT_SQL = 1_000_000;
const DISTINCT_KEYS = 100_000;
/** Key namespaces in the templates (otlp-batches KEY_NAMESPACES). */
const KEY_NAMESPACE_COUNT = 5;

interface Sample {
  tMs: number;
  processed: number;
  rssMB: number;
  pending: number;
}

export async function runMemoryBench(options: MemoryOptions = {}): Promise<BenchResult> {
  const log = options.log ?? console.log;
  const started = performance.now();
  ensureBuilt(log);
  pinSelfToLoadCore();
  const total = options.spans ?? 3_000_000;
  const senders = options.senders ?? 4;
  const templates = buildTemplates({ templates: 16, spansPerBatch: 512, seed: 3, literalSqlOnly: true });
  const stream = new BatchStream(templates, {
    sqlValues: DISTINCT_SQL,
    keyValues: DISTINCT_KEYS / KEY_NAMESPACE_COUNT,
  });
  const sidecar = await startSidecarProcess({ core: CORE_UNDER_TEST, nodeArgs: options.nodeArgs });
  const samples: Sample[] = [];
  const startRss = sidecar.rssMB();
  let refused = 0;
  let failures = 0;
  let sent = 0;
  try {
    const poster = new OtlpPoster(sidecar.receiverUrl, senders);
    const t0 = performance.now();
    const sender = async () => {
      while (stream.spans < total) {
        const body = stream.next();
        for (;;) {
          const res = await poster.post(body);
          if (res.status === 200) break;
          if (res.status === 503 || res.status === 429) {
            refused++;
            await sleep(5);
            continue;
          }
          failures++;
          break;
        }
      }
    };
    let done = false;
    const sampler = (async () => {
      let lastLog = 0;
      while (!done) {
        const h = await sidecar.health();
        const s = {
          tMs: performance.now() - t0,
          processed: h.pipeline.spansProcessed,
          rssMB: sidecar.rssMB(),
          pending: h.pipeline.pendingSpans,
        };
        samples.push(s);
        if (s.tMs - lastLog > 5_000) {
          lastLog = s.tMs;
          log(`memory: ${si(s.processed)} spans, RSS ${s.rssMB.toFixed(0)} MB, pending ${s.pending}`);
        }
        await sleep(250);
      }
    })();
    await Promise.all(Array.from({ length: senders }, sender));
    sent = stream.spans;
    const received = (await sidecar.health()).pipeline.spansReceived;
    await sidecar.waitProcessed(received, 120_000);
    done = true;
    await sampler;
    samples.push({ tMs: performance.now() - t0, processed: received, rssMB: sidecar.rssMB(), pending: 0 });
    poster.close();
  } finally {
    await sidecar.stop();
  }

  const half = samples.filter((s) => s.processed >= sent / 2);
  const perMillion = slope(
    half.map((s) => s.processed / 1e6),
    half.map((s) => s.rssMB),
  );
  const maxRss = Math.max(...samples.map((s) => s.rssMB));
  const endRss = samples[samples.length - 1].rssMB;
  const scaled = sent < TARGET_SPANS;
  const projected = scaled ? endRss + Math.max(0, perMillion) * ((TARGET_SPANS - sent) / 1e6) : endRss;
  const seconds = (samples[samples.length - 1].tMs || 1) / 1000;
  log(
    `memory: ${si(sent)} spans in ${seconds.toFixed(0)} s, ${si(stream.distinctSql)} distinct SQL texts, ${si(stream.distinctKeys)} distinct keys; RSS max ${maxRss.toFixed(0)} MB, slope ${perMillion.toFixed(2)} MB/M spans`,
  );
  const flat = perMillion <= 2;
  return {
    name: 'memory',
    figures: [
      figure(
        'memory.rss-max',
        `sidecar RSS, ${si(sent)} spans, ${si(stream.distinctSql)} raw SQL texts, ${si(stream.distinctKeys)} keys`,
        `≤ ${SIDECAR_RSS_TARGET_MB} MB`,
        `max ${maxRss.toFixed(0)} MB (start ${startRss.toFixed(0)}, end ${endRss.toFixed(0)})`,
        maxRss <= SIDECAR_RSS_TARGET_MB,
      ),
      figure(
        'memory.rss-slope',
        `RSS slope over the 2nd half${scaled ? ', projected to 10M spans' : ''}`,
        `flat (≤ 2 MB/M spans), ≤ ${SIDECAR_RSS_TARGET_MB} MB at 10M`,
        `${perMillion.toFixed(2)} MB/M spans${scaled ? ` → ${projected.toFixed(0)} MB at 10M` : ''}`,
        flat && projected <= SIDECAR_RSS_TARGET_MB,
        scaled
          ? `scaled to ${si(sent)} spans to fit the run in minutes; pass --spans 10000000 for the full run`
          : undefined,
      ),
    ],
    raw: {
      spans: sent,
      seconds,
      spansPerSecond: sent / seconds,
      distinctSqlTexts: stream.distinctSql,
      distinctRedisKeys: stream.distinctKeys,
      refused,
      failures,
      nodeArgs: options.nodeArgs ?? [],
      startRssMB: startRss,
      maxRssMB: maxRss,
      endRssMB: endRss,
      slopeMBPerMillionSpans: perMillion,
      projectedRssAt10M: projected,
      samples: samples.filter((_, i) => i % 4 === 0),
    },
    durationMs: performance.now() - started,
  };
}

if (require.main === module) {
  const nodeArgs = process.argv
    .filter((a) => a.startsWith('--node-arg='))
    .map((a) => a.slice('--node-arg='.length));
  runMemoryBench({ spans: flagNumber('spans'), senders: flagNumber('senders'), nodeArgs })
    .then(reportStandalone)
    .catch((err) => {
      console.error(err);
      process.exitCode = 1;
    });
}
