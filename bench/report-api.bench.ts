/**
 * Figure 5, report API latency with 10k fingerprints: the built sidecar (pinned to one core)
 * ingests 10k distinct statement shapes called from 50 routes, then one client times sequential
 * GETs of the reports the CLI, the page and dashboards ask for, and of the full 10k-row report.
 *
 *   npx tsx bench/report-api.bench.ts [--fingerprints 10000] [--requests 100]
 *
 * maxQueryRows is raised to fit every fingerprint (the default, 2000, would fold the rest into
 * the overflow row). Target: p99 ≤ 50 ms.
 */
import { Agent } from 'node:http';
import { SpanKind } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { cpuTimeMs } from './lib/cpu';
import { type BenchResult, type Figure, figure, reportStandalone } from './lib/figures';
import { flagNumber } from './lib/flags';
import { getJson, OtlpPoster, type TimedGet, timedGet } from './lib/http';
import { encodeSpans, readableSpan } from './lib/otlp-batches';
import { CORE_UNDER_TEST, ensureBuilt, pinSelfToLoadCore } from './lib/setup';
import { startSidecarProcess } from './lib/sidecar-process';
import { median, quantileOf, seededRandom } from './lib/stats';

const ROUTES = 50;
const QUERIES_PER_REQUEST = 5;

/** 0 → a, 25 → z, 26 → ba …: a table-name suffix without digits. */
function letters(n: number): string {
  let s = '';
  do {
    s = String.fromCharCode(97 + (n % 26)) + s;
    n = Math.floor(n / 26);
  } while (n > 0);
  return s;
}

/** Bodies of requests (1 server span + 5 DB spans) that call every one of `fingerprints` shapes `rounds` times. */
function fingerprintBodies(fingerprints: number, rounds: number): { bodies: Buffer[]; spans: number } {
  const rand = seededRandom(5);
  const hex = (bytes: number) => {
    let s = '';
    for (let i = 0; i < bytes; i++)
      s += Math.floor(rand() * 256)
        .toString(16)
        .padStart(2, '0');
    return s;
  };
  const bodies: Buffer[] = [];
  let batch: ReadableSpan[] = [];
  let spans = 0;
  let clock = 1_767_000_000;
  let shape = 0;
  const requests = Math.ceil((fingerprints * rounds) / QUERIES_PER_REQUEST);
  for (let r = 0; r < requests; r++) {
    const traceId = hex(16);
    const rootId = hex(8);
    const start: [number, number] = [clock++, 0];
    const route = `/api/r${r % ROUTES}/:id`;
    let offset = 100_000;
    for (let q = 0; q < QUERIES_PER_REQUEST; q++) {
      const i = shape++ % fingerprints;
      const durationNs = 100_000 + Math.floor(rand() * 5_000_000);
      batch.push(
        readableSpan({
          name: 'pg.query:SELECT shop',
          kind: SpanKind.CLIENT,
          traceId,
          spanId: hex(8),
          parentSpanId: rootId,
          start: [start[0], offset],
          durationNs,
          attributes: {
            'db.system.name': 'postgresql',
            'db.namespace': 'shop',
            // A distinct table name per i, in letters: libpg-query's fingerprint ignores trailing
            // digits of table names (partitions), so `t_97` and `t_194` would be one shape.
            'db.query.text': `SELECT id, name, total FROM t_${letters(i)} WHERE id = $1 AND k > ${Math.floor(rand() * 1000)}`,
            'server.address': '127.0.0.1',
            'server.port': 5432,
          },
          scope: '@opentelemetry/instrumentation-pg',
        }),
      );
      offset += durationNs;
    }
    batch.push(
      readableSpan({
        name: `GET ${route}`,
        kind: SpanKind.SERVER,
        traceId,
        spanId: rootId,
        start,
        durationNs: offset + 300_000,
        attributes: {
          'http.request.method': 'GET',
          'http.route': route,
          'url.path': route.replace(':id', String(r)),
          'http.response.status_code': 200,
        },
        scope: '@opentelemetry/instrumentation-http',
      }),
    );
    if (batch.length >= 510) {
      spans += batch.length;
      bodies.push(encodeSpans(batch));
      batch = [];
    }
  }
  if (batch.length) {
    spans += batch.length;
    bodies.push(encodeSpans(batch));
  }
  return { bodies, spans };
}

export interface ReportApiOptions {
  fingerprints?: number;
  requests?: number;
  log?: (line: string) => void;
}

const FULL_REPORT = '/api/v1/reports/queries';
const SCRAPES = 10;

interface EndpointTiming {
  path: string;
  /** Asked with Accept-Encoding: gzip. */
  gzip: boolean;
  p50Ms: number;
  p99Ms: number;
  /** Sidecar CPU time per request (10-ms clock ticks, averaged): the latency floor on an idle core. */
  cpuMsPerRequest: number;
  maxMs: number;
  /** Body bytes on the wire, and after gunzip. */
  bytes: number;
  decodedBytes: number;
  rows?: number;
}

export async function runReportApiBench(options: ReportApiOptions = {}): Promise<BenchResult> {
  const log = options.log ?? console.log;
  const started = performance.now();
  ensureBuilt(log);
  pinSelfToLoadCore();
  const fingerprints = options.fingerprints ?? 10_000;
  const requests = options.requests ?? 100;
  const { bodies, spans } = fingerprintBodies(fingerprints, 4);
  const sidecar = await startSidecarProcess({
    core: CORE_UNDER_TEST,
    env: {
      SPANSTAT_AGGREGATION_MAX_QUERY_ROWS: String(Math.max(2_000, Math.ceil(fingerprints * 1.2))),
      SPANSTAT_SQL_CACHE_ENTRIES: String(Math.max(50_000, fingerprints * 2)),
    },
  });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const timings: EndpointTiming[] = [];
  const coldMs: number[] = [];
  let scrape: (TimedGet & { cpuMs: number }) | undefined;
  let rowsInReport = 0;
  try {
    const poster = new OtlpPoster(sidecar.receiverUrl, 2);
    for (const body of bodies) {
      const res = await poster.post(body);
      if (res.status !== 200) throw new Error(`ingest refused: ${res.status} ${res.error ?? ''}`);
    }
    poster.close();
    await sidecar.waitProcessed(spans, 120_000);
    // Let the assembler summarise the last traces (idle timeout) so the endpoint tables are full.
    await new Promise((r) => setTimeout(r, 2_500));
    const base = sidecar.apiUrl;
    rowsInReport = (await getJson<{ totalRows: number }>(`${base}/api/v1/reports/queries?limit=1`)).totalRows;
    log(`report-api: ${rowsInReport} query rows after ${spans} spans`);
    // The first request of a view builds, serializes and gzips it (both caches cold): one per window,
    // before anything else asks for it. Later ones are served from the cache until it expires.
    for (const window of ['15m', '5m', '1m', 'all']) {
      const t = await timedGet(agent, `${base}${FULL_REPORT}?window=${window}`, { gzip: true });
      if (t.status !== 200) throw new Error(`GET ${FULL_REPORT}?window=${window}: ${t.status}`);
      coldMs.push(t.ms);
    }
    log(
      `report-api: ${FULL_REPORT}, first request of a view: ${coldMs.map((ms) => ms.toFixed(0)).join(', ')} ms`,
    );
    // Asked for with gzip, as the CLI (fetch), the page (a browser) and Grafana (Go) ask; the full
    // report also as it is, as `curl` without --compressed gets it.
    const gets: { path: string; gzip: boolean }[] = [
      '/api/v1/reports/queries?limit=20',
      '/api/v1/reports/queries?limit=50&sort=p95Ms',
      '/api/v1/reports/queries?window=5m&limit=50&sort=p99Ms',
      '/api/v1/reports/endpoint-queries?limit=50',
      '/api/v1/reports/endpoints',
      // The page's first section: merges the routes' sketches per service on every build.
      '/api/v1/reports/services?limit=50',
      FULL_REPORT,
    ].map((path) => ({ path, gzip: true }));
    gets.push({ path: FULL_REPORT, gzip: false });
    for (const { path, gzip } of gets) {
      const url = `${base}${path}`;
      for (let i = 0; i < 5; i++) await timedGet(agent, url, { gzip });
      const ms: number[] = [];
      let bytes = 0;
      let decodedBytes = 0;
      const cpu0 = cpuTimeMs(sidecar.pid);
      for (let i = 0; i < requests; i++) {
        const t = await timedGet(agent, url, { gzip });
        if (t.status !== 200) throw new Error(`GET ${path}: ${t.status}`);
        ms.push(t.ms);
        bytes = t.bytes;
        decodedBytes = t.decodedBytes;
      }
      const cpuMsPerRequest = (cpuTimeMs(sidecar.pid) - cpu0) / requests;
      timings.push({
        path,
        gzip,
        p50Ms: median(ms),
        p99Ms: quantileOf(ms, 0.99),
        cpuMsPerRequest,
        maxMs: Math.max(...ms),
        bytes,
        decodedBytes,
      });
      log(
        `report-api: ${path}${gzip ? '' : ' (as it is)'} p50 ${median(ms).toFixed(1)} ms p99 ${quantileOf(ms, 0.99).toFixed(1)} ms, sidecar CPU ${cpuMsPerRequest.toFixed(1)} ms/request (${bytes} B${bytes !== decodedBytes ? ` gzipped, ${decodedBytes} B of JSON` : ''})`,
      );
    }
    // What a Prometheus scrape costs the sidecar at the series cap (2000 per metric, the default):
    // exporter-prometheus's collect and serializer, on the event loop.
    const scrapeMs: number[] = [];
    const cpu0 = cpuTimeMs(sidecar.pid);
    for (let i = 0; i < SCRAPES; i++) {
      const t = await timedGet(agent, `${base}/metrics`, { gzip: true });
      if (t.status !== 200) throw new Error(`GET /metrics: ${t.status}`);
      scrapeMs.push(t.ms);
      scrape = { ...t, cpuMs: 0 };
    }
    if (scrape) scrape.cpuMs = (cpuTimeMs(sidecar.pid) - cpu0) / SCRAPES;
    scrape = scrape && { ...scrape, ms: median(scrapeMs) };
    log(
      `report-api: /metrics p50 ${median(scrapeMs).toFixed(0)} ms, max ${Math.max(...scrapeMs).toFixed(0)} ms (${scrape?.bytes} B gzipped, ${scrape?.decodedBytes} B of text)`,
    );
  } finally {
    agent.destroy();
    await sidecar.stop();
  }
  const limited = timings.filter((t) => t.path !== FULL_REPORT);
  const worstLimited = limited.reduce((a, b) => (b.p99Ms > a.p99Ms ? b : a));
  const fullReport = timings.find((t) => t.path === FULL_REPORT && t.gzip);
  const fullUncompressed = timings.find((t) => t.path === FULL_REPORT && !t.gzip);
  const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  const figures: Figure[] = [
    figure(
      'report-api.limited',
      `report API p99, ${rowsInReport} fingerprints (CLI/page/dashboard queries)`,
      '≤ 50 ms',
      `${worstLimited.p99Ms.toFixed(1)} ms (worst: ${worstLimited.path.replace('/api/v1/reports/', '')}; CPU ${worstLimited.cpuMsPerRequest.toFixed(1)} ms/req)`,
      worstLimited.p99Ms <= 50 && rowsInReport >= fingerprints,
      rowsInReport < fingerprints
        ? `only ${rowsInReport} of ${fingerprints} fingerprints had rows`
        : undefined,
    ),
  ];
  if (fullReport) {
    figures.push(
      figure(
        'report-api.full',
        `report API p99, full report (${rowsInReport} rows, ${mib(fullReport.decodedBytes)}), gzip`,
        '≤ 50 ms',
        `${fullReport.p99Ms.toFixed(1)} ms (p50 ${fullReport.p50Ms.toFixed(1)}; ${mib(fullReport.bytes)} gzipped, gunzip included; CPU ${fullReport.cpuMsPerRequest.toFixed(1)} ms/req)`,
        fullReport.p99Ms <= 50,
        `${requests} requests one after another, served from the cache but for its rebuilds (at least 1 s apart, 20× the rebuild's cost when longer); the first request of a view waits for its build: ${coldMs.map((ms) => ms.toFixed(0)).join(', ')} ms in this run`,
      ),
    );
  }
  if (fullUncompressed) {
    figures.push(
      figure(
        'report-api.full-uncompressed',
        'report API p99, full report as it is (a client without gzip)',
        'context',
        `${fullUncompressed.p99Ms.toFixed(1)} ms (p50 ${fullUncompressed.p50Ms.toFixed(1)}; CPU ${fullUncompressed.cpuMsPerRequest.toFixed(1)} ms/req)`,
        null,
        'curl without --compressed: the body is 6× the bytes, and the client parses as it reads (no gunzip)',
      ),
    );
  }
  if (scrape) {
    figures.push(
      figure(
        'report-api.metrics-scrape',
        '/metrics scrape at the series cap (2000 per metric)',
        'context',
        `p50 ${scrape.ms.toFixed(0)} ms, sidecar CPU ${scrape.cpuMs.toFixed(0)} ms/scrape; ${mib(scrape.decodedBytes)} of text, ${mib(scrape.bytes)} gzipped`,
        null,
        "exporter-prometheus's collect and serializer on the event loop, once per scrape (15 s in config/prometheus.yml)",
      ),
    );
  }
  return {
    name: 'report-api',
    figures,
    raw: {
      fingerprints,
      rowsInReport,
      spans,
      requestsPerPath: requests,
      timings,
      firstRequestOfViewMs: coldMs,
    },
    durationMs: performance.now() - started,
  };
}

if (require.main === module) {
  runReportApiBench({ fingerprints: flagNumber('fingerprints'), requests: flagNumber('requests') })
    .then(reportStandalone)
    .catch((err) => {
      console.error(err);
      process.exitCode = 1;
    });
}
