/**
 * Quick preload cost probe: app CPU per request (µs) on the demo's pg+redis route, for several
 * preload variants side by side. Not a figure of the bench suite (bench/preload-overhead.bench.ts
 * is); a tool for before/after measurements while optimising the preload. CPU per request is read
 * from /proc, so it holds up on a busy machine better than throughput does.
 *
 *   npx tsx bench/lib/preload-cpu-probe.ts [--rounds 3] [--seconds 5] [--connections 8]
 *     [--variant name=<preload path>|none|stock] … [--env name:KEY=VALUE] [--profile DIR]
 *     [--miss-every 1] [--node <path>|24] [--sidecar]
 *   npx tsx bench/lib/preload-cpu-probe.ts --micro [--base <rev>]   (the span path alone; see micro())
 *
 * Default variants: none, spanstat (dist/preload.js), stock. Spans go to an in-process sink that
 * answers 200 without decoding, so no sidecar CPU competes for the machine; `--sidecar` sends them to
 * the built sidecar on the load core instead, as the preload bench does. `--miss-every 4` is the
 * preload bench's mix (default 1: every request a cache miss and a query).
 */
import { join } from 'node:path';
import { PRELOAD_PATH, REPO_ROOT } from '../../scripts/lib/demo-stack';
import { nodeBinary } from '../../scripts/lib/node-binary';
import { quotePaths } from '../preload-overhead.bench';
import { buildBaseTree } from './base-tree';
import { cpuTimeMs } from './cpu';
import { type AppProcess, startDemoApp, startDemoData } from './demo-app-process';
import { BENCH_ROOT } from './figures';
import { flagNumber, flagValues } from './flags';
import { runAutocannon } from './load';
import { startOtlpSink } from './otlp-sink';
import { CORE_UNDER_TEST, ensureBuilt, pinSelfToLoadCore } from './setup';
import { startSidecarProcess } from './sidecar-process';
import { median } from './stats';

async function main(): Promise<void> {
  pinSelfToLoadCore();
  const rounds = flagNumber('rounds') ?? 3;
  const seconds = flagNumber('seconds') ?? 5;
  const connections = flagNumber('connections') ?? 8;
  const profileDir = flagValues('profile')[0];
  const variants = new Map<string, string | undefined>();
  for (const spec of flagValues('variant')) {
    const [name, path] = spec.includes('=') ? spec.split('=', 2) : [spec, spec];
    variants.set(
      name,
      path === 'none' ? undefined : path === 'stock' ? `${BENCH_ROOT}/stock-otel-preload.js` : path,
    );
  }
  if (variants.size === 0) {
    variants.set('none', undefined);
    variants.set('spanstat', PRELOAD_PATH);
    variants.set('stock', `${BENCH_ROOT}/stock-otel-preload.js`);
  }
  const extraEnv = new Map<string, Record<string, string>>();
  for (const spec of flagValues('env')) {
    const [name, kv] = spec.split(':', 2);
    const [key, value] = kv.split('=', 2);
    extraEnv.set(name, { ...extraEnv.get(name), [key]: value });
  }

  const missEvery = flagNumber('miss-every') ?? 1;
  const node = nodeBinary(flagValues('node')[0], console.log);
  const sink = await startOtlpSink();
  const sidecar = process.argv.includes('--sidecar') ? await startSidecarProcess() : undefined;
  const endpoint = sidecar?.receiverUrl ?? sink.url;

  const data = await startDemoData();
  const apps = new Map<string, AppProcess>();
  const perRequest = new Map<string, number[]>();
  const rps = new Map<string, number[]>();
  try {
    for (const [name, preload] of variants) {
      apps.set(
        name,
        await startDemoApp({
          data,
          preload,
          node,
          core: CORE_UNDER_TEST,
          // `--profile DIR`: a .cpuprofile per app in DIR (read it with cpuprofile-top.ts).
          nodeArgs: profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}/${name}`] : undefined,
          env: {
            OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
            OTEL_LOG_LEVEL: 'error',
            OTEL_SERVICE_NAME: `probe-${name}`,
            ...extraEnv.get(name),
          },
        }),
      );
    }
    const quotes = quotePaths(missEvery, Math.floor(Math.random() * 36 ** 6));
    const once = async (name: string, runSeconds: number) => {
      const app = apps.get(name) as AppProcess;
      const cpu0 = cpuTimeMs(app.pid);
      const result = await runAutocannon({
        url: app.url,
        path: quotes.path,
        connections,
        seconds: runSeconds,
      });
      quotes.nextRun();
      return { us: ((cpuTimeMs(app.pid) - cpu0) * 1000) / Math.max(1, result.ok), rps: result.rps };
    };
    for (const name of variants.keys()) await once(name, 2);
    const names = [...variants.keys()];
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < names.length; i++) {
        const name = names[(i + round) % names.length];
        const { us, rps: r } = await once(name, seconds);
        perRequest.set(name, [...(perRequest.get(name) ?? []), us]);
        rps.set(name, [...(rps.get(name) ?? []), r]);
        console.log(
          `round ${round + 1} ${name.padEnd(12)} ${us.toFixed(0)} µs CPU/request, ${r.toFixed(0)} req/s`,
        );
      }
    }
  } finally {
    for (const app of apps.values()) await app.stop();
    await data.stop();
    await sidecar?.stop();
    sink.close();
  }
  const base = median(perRequest.get(names0(variants)) ?? [Number.NaN]);
  // The minimum too: on a busy machine other processes only ever add CPU time per request.
  const baseMin = Math.min(...(perRequest.get(names0(variants)) ?? [Number.NaN]));
  console.log('\nvariant        µs CPU/request (median)   vs first   (min)  vs first   req/s (median)');
  for (const [name, values] of perRequest) {
    const us = median(values);
    const min = Math.min(...values);
    console.log(
      `${name.padEnd(14)} ${us.toFixed(0).padStart(10)}                ${((us / base - 1) * 100).toFixed(0).padStart(5)}%  ${min.toFixed(0).padStart(5)}  ${((min / baseMin - 1) * 100).toFixed(0).padStart(5)}%   ${median(rps.get(name) ?? []).toFixed(0)}`,
    );
  }
  console.log(`(export requests received: ${sink.requests})`);
}

function names0(variants: Map<string, unknown>): string {
  return [...variants.keys()][0];
}

/**
 * `--micro [--base <rev>]`: the span path alone, in this process, shaped like the demo route's
 * requests — a SERVER span, a Redis GET, and for one request in four a pg query and a Redis SET, all
 * ended and OTLP-encoded in 512-span batches — through the SDK's BasicTracerProvider and the preload's
 * LeanTracerProvider (built `dist/`), and with `--base` through the LeanTracerProvider of that git
 * revision (built in a temporary worktree). CPU time per request, median and best of 12 interleaved
 * runs: hot caches, so it shows work removed, not what the app's cache misses add to it.
 */
function micro(): void {
  ensureBuilt();
  const { ROOT_CONTEXT, SpanKind, trace } =
    require('@opentelemetry/api') as typeof import('@opentelemetry/api');
  type Tracer = import('@opentelemetry/api').Tracer;
  type Attributes = import('@opentelemetry/api').Attributes;
  type Ended = import('@opentelemetry/sdk-trace-base').ReadableSpan;
  type LeanTracerModule = typeof import('../../src/preload/lean-tracer');
  type EncodeModule = typeof import('../../src/preload/otlp-encode');
  const { resourceFromAttributes } =
    require('@opentelemetry/resources') as typeof import('@opentelemetry/resources');
  const sdk = require('@opentelemetry/sdk-trace-base') as typeof import('@opentelemetry/sdk-trace-base');
  const resource = resourceFromAttributes({ 'service.name': 'micro' });

  interface Path {
    tracer: Tracer;
    share: (attributes: Attributes) => Attributes;
  }
  /** A build's tracer, its ended spans encoded by the same build's encoder. */
  const leanPath = (dist: string): Path => {
    const lean = require(join(dist, 'preload/lean-tracer.js')) as LeanTracerModule;
    const { TraceRequestEncoder } = require(join(dist, 'preload/otlp-encode.js')) as EncodeModule;
    const encoder = new TraceRequestEncoder();
    const sink = {
      onEnd(span: Ended) {
        encoder.add(span);
        if (encoder.spans >= 512) encoder.finish();
      },
    };
    return {
      tracer: new lean.LeanTracerProvider(resource, sink).getTracer('m'),
      // Builds before shareAttributes copy the attributes into every span.
      share: lean.shareAttributes ?? ((attributes) => attributes),
    };
  };
  const encode = (require(join(REPO_ROOT, 'dist/preload/otlp-encode.js')) as EncodeModule).encodeTraceRequest;
  let ended: Ended[] = [];
  const sdkSink = {
    onStart() {},
    onEnd(span: Ended) {
      ended.push(span);
      if (ended.length >= 512) {
        encode(ended);
        ended = [];
      }
    },
    forceFlush: async () => {},
    shutdown: async () => {},
  };
  const paths: Record<string, Path> = {
    sdk: {
      tracer: new sdk.BasicTracerProvider({
        resource,
        sampler: new sdk.AlwaysOnSampler(),
        spanProcessors: [sdkSink],
      }).getTracer('m'),
      share: (attributes) => attributes,
    },
    lean: leanPath(join(REPO_ROOT, 'dist')),
  };
  const baseRev = flagValues('base')[0];
  const base = baseRev === undefined ? undefined : buildBaseTree(baseRev);
  try {
    if (base !== undefined) paths[`lean@${baseRev}`] = leanPath(base.dist);
    const request = (tracer: Tracer, redis: Attributes, pg: Attributes, i: number) => {
      const server = tracer.startSpan('GET', {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': 'GET', 'url.path': '/api/quotes/Q1' },
      });
      const ctx = trace.setSpan(ROOT_CONTEXT, server);
      const get = tracer.startSpan('get', { kind: SpanKind.CLIENT, attributes: redis }, ctx);
      get.setAttribute('db.operation.name', 'get');
      get.setAttribute('db.query.text', 'get quote:Q1');
      get.setAttribute('spanstat.cache.hits', i % 4 === 0 ? 0 : 1);
      get.setAttribute('spanstat.cache.misses', i % 4 === 0 ? 1 : 0);
      get.end();
      if (i % 4 === 0) {
        const query = tracer.startSpan(
          'pg.query:SELECT demo',
          { kind: SpanKind.CLIENT, attributes: pg },
          ctx,
        );
        query.setAttribute('db.query.text', 'SELECT code, price FROM quotes WHERE code = $1');
        query.end();
        const set = tracer.startSpan('set', { kind: SpanKind.CLIENT, attributes: redis }, ctx);
        set.setAttribute('db.operation.name', 'set');
        set.setAttribute('db.query.text', 'set quote:Q1 ? EX ?');
        set.setAttribute('spanstat.cache.ttl_seconds', 5);
        set.end();
      }
      server.setAttribute('http.response.status_code', 200);
      server.setAttribute('http.route', '/api/quotes/:code');
      server.updateName('GET /api/quotes/:code');
      server.end();
    };
    const N = 20_000;
    const runs: Record<string, number[]> = {};
    const names = Object.keys(paths);
    // Interleaved, the order rotated: the VM's speed drifts within a minute.
    for (let run = 0; run < 12; run++) {
      for (let k = 0; k < names.length; k++) {
        const name = names[(k + run) % names.length];
        const path = paths[name];
        const redis = path.share({
          'db.system.name': 'redis',
          'server.address': '127.0.0.1',
          'server.port': 6379,
        });
        const pg = path.share({
          'db.system.name': 'postgresql',
          'db.namespace': 'demo',
          'server.address': '127.0.0.1',
          'server.port': 5432,
        });
        const t0 = process.cpuUsage();
        for (let i = 0; i < N; i++) request(path.tracer, redis, pg, i);
        const used = process.cpuUsage(t0);
        // The first two runs warm the JIT up.
        if (run >= 2) runs[name] = [...(runs[name] ?? []), (used.user + used.system) / N];
      }
    }
    for (const [name, us] of Object.entries(runs))
      console.log(
        `${name.padEnd(20)} ${median(us).toFixed(2)} µs CPU per request (best ${Math.min(...us).toFixed(2)}; 2.5 spans, OTLP-encoded)`,
      );
  } finally {
    base?.remove();
  }
}

(process.argv.includes('--micro') ? Promise.resolve().then(micro) : main()).catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
