/**
 * Figure 2, sidecar ingest: OTLP/HTTP protobuf end to end into the built sidecar pinned to one
 * core, against the raw decode rate of the same bodies (the sidecar's forEachTraceSpan, in this process) and
 * the pipeline alone (classify + aggregate + assemble, the sidecar's own components, in process). The
 * in-process figures time the built code (dist/), like the sidecar process runs it.
 * For context, protobufjs's full decode of the same bodies too: DESIGN.md's 140–180k spans/s
 * decode limit is that kind of decoder, about half as fast as spanstat's own.
 *
 *   npx tsx bench/ingest.bench.ts [--seconds 8] [--senders 4] [--no-forward]
 *   BENCH_SIDECAR_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" … profiles the sidecar (any node flags)
 *
 * Targets: end to end ≥100k spans/s and ≥60% of the raw decode rate; pipeline ≥600k spans/s.
 * Context (unless --no-forward): the sidecar's CPU at 100k spans/s with `forward` off, uncompressed,
 * gzip and OTLP/gRPC with gzip, relaying to a sink that answers 200: what relaying every body upstream
 * costs on the same core.
 */
import type { DecodedSpan } from '../src/model/span';
import { countSpansWithProtobufjs } from '../test/fixtures/otlp/trace-proto';
import { coreMeter, cpuTimeMs, judged, type Rate, rate, selfCpuMs } from './lib/cpu';
import { type BenchResult, type Figure, figure, pct, reportStandalone, si } from './lib/figures';
import { flagNumber } from './lib/flags';
import { OtlpPoster } from './lib/http';
import { BatchStream, buildTemplates } from './lib/otlp-batches';
import { startOtlpGrpcSink, startOtlpSink } from './lib/otlp-sink';
import { builtModule, CORE_UNDER_TEST, ensureBuilt, pinSelfToLoadCore } from './lib/setup';
import { type SidecarProcess, sleep, startSidecarProcess } from './lib/sidecar-process';

export interface IngestOptions {
  /** Measured seconds of end-to-end ingest (after warm-up). */
  seconds?: number;
  /** POSTs in flight at once. */
  senders?: number;
  /** Also measure the sidecar's CPU at 100k spans/s with forwarding off, uncompressed, gzip and gRPC (default true). */
  forward?: boolean;
  log?: (line: string) => void;
}

const SPANS_PER_BATCH = 512;
const TEMPLATES = 16;

/** Median by the judged value (wall-clock, or CPU-normalised when the process was starved). */
function medianRate(rates: Rate[]): Rate {
  const sorted = [...rates].sort((a, b) => judged(a).value - judged(b).value);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Decodes one body, returns its span count (so the work cannot be optimised away). */
type Decoder = (body: Buffer) => number;

/** The sidecar's modules this process times, from dist/ (see builtModule), loaded once. */
let built: ReturnType<typeof loadBuiltSidecar> | undefined;
function builtSidecar() {
  built ??= loadBuiltSidecar();
  return built;
}

function loadBuiltSidecar() {
  return {
    ...builtModule<typeof import('../src/config')>('config'),
    ...builtModule<typeof import('../src/model/span')>('model/span'),
    ...builtModule<typeof import('../src/receiver/decode-protobuf')>('receiver/decode-protobuf'),
    ...builtModule<typeof import('../src/receiver/protobuf-batch')>('receiver/protobuf-batch'),
    ...builtModule<typeof import('../src/sidecar/sidecar')>('sidecar/sidecar'),
  };
}

/** The sidecar's own decode of a body, as its pipeline runs it (only the attributes it reads). */
function spanstatDecoder(): Decoder {
  const { forEachTraceSpan, READ_ATTRIBUTES } = builtSidecar();
  return (body) => {
    let spans = 0;
    forEachTraceSpan(
      body,
      () => {
        spans++;
      },
      READ_ATTRIBUTES,
    );
    return spans;
  };
}

/** Decoded spans as the sidecar's pipeline receives them. */
function decodedAsInSidecar(body: Buffer): DecodedSpan[] {
  const { forEachTraceSpan, READ_ATTRIBUTES } = builtSidecar();
  const spans: DecodedSpan[] = [];
  forEachTraceSpan(body, (span) => spans.push(span), READ_ATTRIBUTES);
  return spans;
}

/** protobufjs's full decode from the OTLP schema: the general-purpose decoder DESIGN.md's 140–180k anchor is. */
const protobufjsDecoder: Decoder = countSpansWithProtobufjs;

/** Raw decode rate of the same kind of bodies in this process: median of rounds. */
export function measureDecode(
  bodies: readonly Buffer[],
  decode: Decoder = spanstatDecoder(),
  rounds = 3,
  roundMs = 1500,
): { median: Rate; rounds: Rate[] } {
  for (let i = 0; i < bodies.length * 2; i++) decode(bodies[i % bodies.length]);
  const rates: Rate[] = [];
  for (let r = 0; r < rounds; r++) {
    let spans = 0;
    let i = 0;
    const c0 = selfCpuMs();
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < roundMs) {
      spans += decode(bodies[i++ % bodies.length]);
      t = performance.now();
    }
    rates.push(rate(spans, t - t0, selfCpuMs() - c0));
  }
  return { median: medianRate(rates), rounds: rates };
}

/**
 * Pipeline alone: each body is decoded first (not timed), then the sidecar's pipeline (built by
 * startSidecar, in this process) classifies, aggregates and assembles its spans synchronously (timed).
 * One body at a time, as the sidecar holds a body as wire bytes until its pipeline decodes it: decoding
 * a whole round (82k spans) beforehand kept those spans alive through the timed part, and every
 * young-generation GC copied them (614 against 186 ms of scavenges for the same spans, a pinned probe in
 * session 13), which halved the rate measured. Median of rounds, spans/s.
 */
export async function measurePipeline(
  stream: BatchStream,
  rounds = 3,
  batchesPerRound = 160,
): Promise<{ median: Rate; rounds: Rate[] }> {
  const { loadConfig, spanBatchOf, startSidecar } = builtSidecar();
  const config = loadConfig({
    env: {},
    overrides: { receiver: { port: 0 }, api: { port: 0 }, log: { level: 'silent' } },
  });
  const silent = { info() {}, warn() {}, error() {}, debug() {}, fatal() {}, trace() {} };
  const sidecar = await startSidecar(config, silent as unknown as Parameters<typeof startSidecar>[1]);
  const { pipeline } = sidecar;
  try {
    const rates: Rate[] = [];
    // Round 0 is a warm-up (JIT, first parse of every statement shape); it is not counted.
    for (let r = 0; r <= rounds; r++) {
      let spans = 0;
      let wallMs = 0;
      let cpuMs = 0;
      for (let b = 0; b <= batchesPerRound; b++) {
        // The extra last step times the assembler's flush of the round's open traces.
        const batch = b < batchesPerRound ? decodedAsInSidecar(stream.next()) : [];
        const c0 = selfCpuMs();
        const t0 = performance.now();
        if (batch.length > 0) {
          pipeline.enqueue(spanBatchOf(batch));
          pipeline.drainAll();
        } else pipeline.assembler.flush();
        wallMs += performance.now() - t0;
        cpuMs += selfCpuMs() - c0;
        spans += batch.length;
      }
      if (r > 0) rates.push(rate(spans, wallMs, cpuMs));
    }
    return { median: medianRate(rates), rounds: rates };
  } finally {
    await sidecar.shutdown();
  }
}

export interface IngestRun {
  rate: Rate;
  /** How busy each core was during the window (all processes), 0..1. */
  cores: number[];
  posts: number;
  refused: number;
  failures: number;
  series: { tMs: number; processed: number }[];
  processedTotal: number;
  failedSpans: number;
}

/** Keeps `senders` POSTs in flight until `stop` is set; a refused batch is resent after a short pause. */
function sendLoop(
  poster: OtlpPoster,
  stream: BatchStream,
  counts: { posts: number; refused: number; failures: number },
  stop: { now: boolean },
) {
  return async () => {
    let body = stream.next();
    while (!stop.now) {
      const res = await poster.post(body);
      counts.posts++;
      if (res.status === 200) {
        body = stream.next();
      } else if (res.status === 503 || res.status === 429) {
        counts.refused++;
        await sleep(5);
      } else {
        counts.failures++;
        body = stream.next();
      }
    }
  };
}

export async function measureEndToEnd(
  sidecar: SidecarProcess,
  stream: BatchStream,
  seconds: number,
  senders: number,
): Promise<IngestRun> {
  const poster = new OtlpPoster(sidecar.receiverUrl, senders);
  const counts = { posts: 0, refused: 0, failures: 0 };
  const stop = { now: false };
  const loops = Array.from({ length: senders }, () => sendLoop(poster, stream, counts, stop)());
  try {
    await sleep(2000); // warm-up: JIT, first parse of every statement shape
    const series: { tMs: number; processed: number }[] = [];
    const start = await sidecar.health();
    const t0 = performance.now();
    const cpu0 = cpuTimeMs(sidecar.pid);
    const cores = coreMeter();
    series.push({ tMs: 0, processed: start.pipeline.spansProcessed });
    while (performance.now() - t0 < seconds * 1000) {
      await sleep(500);
      const h = await sidecar.health();
      series.push({ tMs: performance.now() - t0, processed: h.pipeline.spansProcessed });
    }
    const last = series[series.length - 1];
    const measured = rate(last.processed - series[0].processed, last.tMs, cpuTimeMs(sidecar.pid) - cpu0);
    const coreBusy = cores();
    stop.now = true;
    await Promise.all(loops);
    const received = (await sidecar.health()).pipeline.spansReceived;
    const done = await sidecar.waitProcessed(received, 30_000);
    return {
      rate: measured,
      cores: coreBusy,
      ...counts,
      series,
      processedTotal: done.pipeline.spansProcessed,
      failedSpans: done.pipeline.spansFailed,
    };
  } finally {
    stop.now = true;
    await Promise.allSettled(loops);
    poster.close();
  }
}

/** Offered rate of the forwarding rows: the end-to-end target, below saturation, so every body can be relayed. */
const FORWARD_RATE = 100_000;
const FORWARD_ROUNDS = 2;
const FORWARD_SECONDS = 5;
/** `grpc`: OTLP/gRPC with gzip (grpc-js's own, zlib's default level). */
const FORWARD_MODES = ['off', 'none', 'gzip', 'grpc'] as const;
type ForwardMode = (typeof FORWARD_MODES)[number];

interface ForwardRun {
  mode: ForwardMode;
  /** The sidecar's CPU over the measured seconds, in cores. */
  cpuShare: number;
  /** Spans accepted, and spans the forwarder dropped (queue full), over the measured seconds. */
  spansAccepted: number;
  spansDropped: number;
  /** The forwarder's counters at the end, once every accepted span was accounted for. */
  forward?: { spansSent: number; spansDropped: number; spansRejected: number; posts: number };
}

/** Posts `stream`'s bodies at `spansPerSecond` (paced, at most 16 in flight) until `stop` is set. */
async function sendAtRate(
  poster: OtlpPoster,
  stream: BatchStream,
  spansPerSecond: number,
  stop: { now: boolean },
): Promise<void> {
  const inFlight = new Set<Promise<unknown>>();
  const t0 = performance.now();
  let spansSent = 0;
  while (!stop.now) {
    const due = ((performance.now() - t0) / 1000) * spansPerSecond;
    while (spansSent < due && inFlight.size < 16) {
      const body = stream.next();
      spansSent += SPANS_PER_BATCH;
      const p = poster.post(body).finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    await sleep(2);
  }
  await Promise.allSettled(inFlight);
}

/**
 * What forwarding costs: the sidecar's CPU at a fixed FORWARD_RATE with forwarding off, uncompressed,
 * gzip and gRPC gzip, in interleaved rounds, each relaying to a sink that answers 200. At saturation instead,
 * the receivers would take CPU from the forwarder and its queue would overflow by design.
 */
async function measureForwarding(stream: BatchStream, log: (line: string) => void): Promise<ForwardRun[]> {
  const runs: ForwardRun[] = [];
  for (let round = 0; round < FORWARD_ROUNDS; round++) {
    for (const mode of FORWARD_MODES) {
      const sink = mode === 'grpc' ? await startOtlpGrpcSink() : await startOtlpSink();
      const env: Record<string, string> =
        mode === 'off'
          ? {}
          : mode === 'grpc'
            ? { SPANSTAT_FORWARD_ENDPOINT: sink.url, SPANSTAT_FORWARD_PROTOCOL: 'grpc' }
            : { SPANSTAT_FORWARD_ENDPOINT: `${sink.url}/v1/traces`, SPANSTAT_FORWARD_COMPRESSION: mode };
      const sidecar = await startSidecarProcess({ core: CORE_UNDER_TEST, env });
      const poster = new OtlpPoster(sidecar.receiverUrl, 16);
      const stop = { now: false };
      const sending = sendAtRate(poster, stream, FORWARD_RATE, stop);
      try {
        await sleep(3000); // warm-up: JIT, and the forwarder's start-up backlog
        // Accepted and dropped from one /healthz read each time, so both counts cover the same window.
        const counts = async () => {
          const h = await sidecar.health();
          const f = h.forward as ForwardRun['forward'];
          return { accepted: h.receiver.spansAccepted, dropped: f?.spansDropped ?? 0 };
        };
        const start = await counts();
        const cpu0 = cpuTimeMs(sidecar.pid);
        const t0 = performance.now();
        await sleep(FORWARD_SECONDS * 1000);
        const cpuShare = (cpuTimeMs(sidecar.pid) - cpu0) / (performance.now() - t0);
        const end = await counts();
        const run: ForwardRun = {
          mode,
          cpuShare,
          spansAccepted: end.accepted - start.accepted,
          spansDropped: end.dropped - start.dropped,
        };
        stop.now = true;
        await sending;
        // Every accepted span is either relayed, dropped or refused: wait until all are accounted for.
        const deadline = Date.now() + 30_000;
        while (mode !== 'off') {
          const h = await sidecar.health();
          run.forward = h.forward as ForwardRun['forward'];
          const f = run.forward as NonNullable<ForwardRun['forward']>;
          if (
            f.spansSent + f.spansDropped + f.spansRejected >= h.receiver.spansAccepted ||
            Date.now() > deadline
          )
            break;
          await sleep(50);
        }
        runs.push(run);
        log(
          `ingest: at ${si(FORWARD_RATE)} spans/s, forwarding ${mode}: ${pct(cpuShare, 0)} of a core` +
            (run.forward
              ? `; ${pct(run.spansDropped / run.spansAccepted, 1)} dropped while measured; ${run.forward.posts} POSTs in all`
              : ''),
        );
      } finally {
        stop.now = true;
        await sending;
        poster.close();
        await sidecar.stop();
        sink.close();
      }
    }
  }
  return runs;
}

export async function runIngestBench(options: IngestOptions = {}): Promise<BenchResult> {
  const log = options.log ?? console.log;
  const started = performance.now();
  ensureBuilt(log);
  const pinnedSelf = pinSelfToLoadCore();
  const seconds = options.seconds ?? 8;
  const senders = options.senders ?? 4;

  log(`ingest: encoding ${TEMPLATES} × ${SPANS_PER_BATCH}-span templates with ProtobufTraceSerializer…`);
  const templates = buildTemplates({ templates: TEMPLATES, spansPerBatch: SPANS_PER_BATCH, seed: 7 });
  const bytesPerSpan =
    templates.reduce((n, t) => n + t.body.length, 0) / templates.reduce((n, t) => n + t.spans, 0);
  const stream = new BatchStream(templates);

  const decodeBodies = Array.from({ length: 64 }, () => stream.next());
  // The decode rates are measured before and again after the end-to-end run and the median of all
  // rounds is used: this VM's speed drifts within a minute, and the ratio must compare like with like.
  const decodeBefore = measureDecode(decodeBodies);
  log(`ingest: raw decode ${describe(decodeBefore.median)}`);
  const generalBefore = measureDecode(decodeBodies, protobufjsDecoder);
  log(`ingest: protobufjs full decode ${describe(generalBefore.median)}`);
  const pipelineBefore = await measurePipeline(stream);
  log(`ingest: pipeline alone ${describe(pipelineBefore.median)}`);

  const sidecar = await startSidecarProcess({
    core: CORE_UNDER_TEST,
    nodeArgs: process.env.BENCH_SIDECAR_NODE_ARGS?.split(' ').filter(Boolean),
  });
  let e2e: IngestRun;
  try {
    e2e = await measureEndToEnd(sidecar, stream, seconds, senders);
  } finally {
    await sidecar.stop();
  }
  log(`ingest: end to end ${describe(e2e.rate)}`);
  const forwarding = options.forward === false ? [] : await measureForwarding(stream, log);
  const decodeAfter = measureDecode(decodeBodies);
  const generalAfter = measureDecode(decodeBodies, protobufjsDecoder);
  log(
    `ingest: raw decode again ${describe(decodeAfter.median)}; protobufjs ${describe(generalAfter.median)}`,
  );
  // The pipeline alone too: in `npm run bench`, right after the preload bench, it read 546–561k spans/s
  // before the end-to-end run where a run of this bench alone read 1.03–1.09M (the first raw decode
  // read 447k, then 789k after it, in the same run).
  const pipelineAfter = await measurePipeline(stream);
  log(`ingest: pipeline alone again ${describe(pipelineAfter.median)}`);
  const bothRuns = (a: { rounds: Rate[] }, b: { rounds: Rate[] }) => {
    const rounds = [...a.rounds, ...b.rounds];
    return { median: medianRate(rounds), rounds };
  };
  const decode = bothRuns(decodeBefore, decodeAfter);
  const generalDecode = bothRuns(generalBefore, generalAfter);
  const pipeline = bothRuns(pipelineBefore, pipelineAfter);

  const endToEnd = judged(e2e.rate);
  const decodeRate = judged(decode.median);
  const pipelineRate = judged(pipeline.median);
  // Both sides per CPU-second when either was starved, so the ratio compares like with like.
  const normalised = endToEnd.normalised || decodeRate.normalised;
  const ratio = normalised
    ? e2e.rate.perCpuSecond / decode.median.perCpuSecond
    : e2e.rate.wall / decode.median.wall;
  const generalRatio = normalised
    ? e2e.rate.perCpuSecond / generalDecode.median.perCpuSecond
    : e2e.rate.wall / generalDecode.median.wall;
  const starvedNote = (what: string, r: Rate, coreBusy?: number) =>
    coreBusy !== undefined && coreBusy < 0.95
      ? `${what} had ${pct(r.cpuShare, 0)} of its core and the core was ${pct(coreBusy, 0)} busy: the sender was the limit; judged per CPU-second`
      : `${what} had ${pct(r.cpuShare, 0)} of a core (other processes took the rest): judged per CPU-second`;
  const figures: Figure[] = [
    figure(
      'ingest.end-to-end',
      'sidecar ingest, OTLP/HTTP protobuf, 1 core',
      '≥ 100k spans/s',
      `${si(endToEnd.value)} spans/s${endToEnd.normalised ? ' per CPU-s' : ''}`,
      endToEnd.value >= 100_000,
      endToEnd.normalised ? starvedNote('the sidecar', e2e.rate, e2e.cores[CORE_UNDER_TEST]) : undefined,
    ),
    figure(
      'ingest.vs-decode',
      'ingest / raw decode of the same bodies',
      '≥ 60%',
      `${pct(ratio, 0)} (decode ${si(normalised ? decode.median.perCpuSecond : decode.median.wall)} spans/s${normalised ? ' per CPU-s' : ''})`,
      ratio >= 0.6,
    ),
    figure(
      'ingest.vs-protobufjs',
      'ingest / protobufjs full decode of the same bodies',
      'context',
      `${pct(generalRatio, 0)} (protobufjs ${si(normalised ? generalDecode.median.perCpuSecond : generalDecode.median.wall)} spans/s${normalised ? ' per CPU-s' : ''})`,
      null,
      "the general-purpose decoder DESIGN.md's 140–180k spans/s decode limit was measured with; the row above compares with spanstat's own decoder, ~2× faster",
    ),
    figure(
      'ingest.pipeline',
      'pipeline alone (classify+aggregate+assemble)',
      '≥ 600k spans/s',
      `${si(pipelineRate.value)} spans/s${pipelineRate.normalised ? ' per CPU-s' : ''}`,
      pipelineRate.value >= 600_000,
      pipelineRate.normalised ? starvedNote('the bench process', pipeline.median) : undefined,
    ),
  ];
  if (forwarding.length > 0) {
    const meanCpu = (mode: ForwardMode) => {
      const shares = forwarding.filter((f) => f.mode === mode).map((f) => f.cpuShare);
      return shares.reduce((a, b) => a + b, 0) / shares.length;
    };
    const off = meanCpu('off');
    const loss = (mode: ForwardMode) => {
      const runs = forwarding.filter((f) => f.mode === mode);
      const dropped = runs.reduce((n, f) => n + f.spansDropped, 0);
      return dropped === 0
        ? ''
        : ` (${pct(dropped / runs.reduce((n, f) => n + f.spansAccepted, 0), 1)} dropped)`;
    };
    figures.push(
      figure(
        'ingest.forwarding',
        `sidecar CPU at ${si(FORWARD_RATE)} spans/s, forward off / on`,
        'context',
        `${pct(off, 0)} / uncompressed ${pct(meanCpu('none'), 0)}${loss('none')}, gzip ${pct(meanCpu('gzip'), 0)}${loss('gzip')}, ` +
          `gRPC gzip ${pct(meanCpu('grpc'), 0)}${loss('grpc')} of a core`,
        null,
        `means of ${FORWARD_ROUNDS} interleaved rounds, ${FORWARD_SECONDS} s each after a 3-s warm-up, relaying to a sink that answers 200; ` +
          'a span is dropped when the forward queue (16 MiB) is full: the receivers come first',
      ),
    );
  }
  if (e2e.failedSpans > 0 || e2e.failures > 0) {
    figures.push(
      figure(
        'ingest.errors',
        'ingest errors',
        '0',
        `${e2e.failures} failed posts, ${e2e.failedSpans} failed spans`,
        false,
      ),
    );
  }
  return {
    name: 'ingest',
    figures,
    raw: {
      pinned: pinnedSelf,
      spansPerBatch: SPANS_PER_BATCH,
      bytesPerSpan,
      decode,
      generalDecode,
      pipeline,
      endToEnd: e2e,
      forwarding,
      seconds,
      senders,
    },
    durationMs: performance.now() - started,
  };
}

function describe(r: Rate): string {
  return `${si(r.wall)} spans/s, ${si(r.perCpuSecond)} per CPU-s (${pct(r.cpuShare, 0)} of a core)`;
}

if (require.main === module) {
  runIngestBench({
    seconds: flagNumber('seconds'),
    senders: flagNumber('senders'),
    forward: !process.argv.includes('--no-forward'),
  })
    .then(reportStandalone)
    .catch((err) => {
      console.error(err);
      process.exitCode = 1;
    });
}
