/**
 * Figure 4, accuracy: 1M DB-call durations (four statement shapes with different latency
 * distributions) plus 200k request and 200k cache-call durations go through the aggregator over 20
 * simulated minutes, so the 15-minute ring folds buckets into the `all` totals on the way. The
 * reports' p50/p95/p99 are compared with the exact order statistics, their counts with the exact
 * counts.
 *
 *   npx tsx bench/accuracy.bench.ts [--calls 1000000]
 *
 * Exact quantile convention: the value at 0-based rank floor(q × (n − 1)) of the sorted durations,
 * the one src/aggregate/sketch.ts documents. Target: every quantile within 1%, counts equal.
 */
import { Aggregator } from '../src/aggregate/aggregator';
import { DEFAULTS } from '../src/config/defaults';
import type { CacheCall, DbCall } from '../src/model/classified';
import { cacheReport, endpointReport, queryReport } from '../src/reports';
import { requestSummary } from '../test/fixtures/request-summary';
import { type BenchResult, figure, pct, reportStandalone, si } from './lib/figures';
import { flagNumber } from './lib/flags';
import { relativeError, seededRandom } from './lib/stats';

type Sampler = () => number;

function normal(rand: () => number): number {
  // Box–Muller; 1 − u keeps log() away from 0.
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

/** Latency shapes seen in practice, in ms. */
function samplers(rand: () => number): Record<string, Sampler> {
  return {
    // Point lookup: log-normal around 1.5 ms.
    lognormal: () => 1.5 * Math.exp(0.8 * normal(rand)),
    // Buffer-cache hits and disk reads: 90% near 0.3 ms, 10% near 40 ms.
    bimodal: () => (rand() < 0.9 ? 0.3 * Math.exp(0.3 * normal(rand)) : 40 * Math.exp(0.4 * normal(rand))),
    // Heavy tail (Pareto α = 1.5 from 2 ms, capped at 60 s).
    pareto: () => Math.min(60_000, 2 / (1 - rand()) ** (1 / 1.5)),
    // Flat 0.05–5 ms.
    uniform: () => 0.05 + rand() * 4.95,
  };
}

interface Check {
  table: string;
  key: string;
  count: { want: number; got: number };
  quantiles: { q: number; want: number; got: number; error: number }[];
}

/** Exact value at 0-based rank floor(q × (n − 1)). */
function exactLower(sorted: Float64Array, q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))];
}

function check(
  table: string,
  key: string,
  values: number[],
  count: number,
  got: Record<number, number>,
): Check {
  const sorted = Float64Array.from(values).sort();
  return {
    table,
    key,
    count: { want: values.length, got: count },
    quantiles: Object.entries(got).map(([q, v]) => {
      const want = exactLower(sorted, Number(q));
      return { q: Number(q), want, got: v, error: relativeError(v, want) };
    }),
  };
}

export async function runAccuracyBench(
  options: { calls?: number; log?: (line: string) => void } = {},
): Promise<BenchResult> {
  const log = options.log ?? console.log;
  const started = performance.now();
  const calls = options.calls ?? 1_000_000;
  const others = Math.round(calls / 5);
  const rand = seededRandom(11);
  const shapes = samplers(rand);
  const names = Object.keys(shapes);
  let now = Date.UTC(2026, 10, 1);
  const agg = new Aggregator({ ...DEFAULTS.aggregation }, () => now);
  // 20 simulated minutes for all records: buckets older than 15 min are folded into `all`.
  const stepMs = (20 * 60_000) / (calls + 2 * others);

  const db = new Map<string, number[]>(names.map((n) => [n, []]));
  const dbErrors = new Map<string, number>(names.map((n) => [n, 0]));
  const base = {
    service: 'shop-api',
    traceId: '0af7651916cd43dd8448eb211c80319c',
    parentSpanId: '',
    startMs: 0,
    error: false,
  };
  for (let i = 0; i < calls; i++) {
    const name = names[i % names.length];
    const ms = shapes[name]();
    const error = rand() < 0.01;
    db.get(name)?.push(ms);
    if (error) dbErrors.set(name, (dbErrors.get(name) ?? 0) + 1);
    const call: DbCall = {
      ...base,
      spanId: 'b7ad6b7169203331',
      durationMs: ms,
      error,
      type: 'db',
      system: 'postgresql',
      fingerprint: `fp-${name}`,
      statement: `SELECT * FROM ${name} WHERE id = $1`,
      operation: 'SELECT',
      table: name,
    };
    agg.recordDbCall(call);
    now += stepMs;
  }

  const routes = ['/api/products/:id', '/api/quotes/:code'];
  const endpointValues = new Map<string, number[]>(routes.map((r) => [r, []]));
  const cacheValues: number[] = [];
  for (let i = 0; i < others; i++) {
    const route = routes[i % routes.length];
    const ms = (i % 2 === 0 ? shapes.lognormal : shapes.bimodal)() * 4;
    endpointValues.get(route)?.push(ms);
    agg.recordRequest(
      requestSummary({ service: 'shop-api', traceId: 'ab'.repeat(16), route, durationMs: ms }),
    );
    now += stepMs;
    const cms = shapes.bimodal() / 3;
    cacheValues.push(cms);
    const cache: CacheCall = {
      ...base,
      spanId: 'c7ad6b7169203331',
      durationMs: cms,
      type: 'cache',
      system: 'redis',
      command: 'get',
      namespace: 'product:*',
      read: true,
      write: false,
      hits: 1,
      misses: 0,
    };
    agg.recordCacheCall(cache);
    now += stepMs;
  }

  const checks: Check[] = [];
  let countsExact = true;
  for (const row of queryReport(agg, { window: 'all' }).rows) {
    const name = row.table;
    const values = db.get(name) ?? [];
    const c = check('queries', name, values, row.calls, { 0.5: row.p50Ms, 0.95: row.p95Ms, 0.99: row.p99Ms });
    checks.push(c);
    if (row.calls !== values.length || row.errors !== dbErrors.get(name)) countsExact = false;
  }
  for (const row of endpointReport(agg, { window: 'all' }).rows) {
    const values = endpointValues.get(row.route) ?? [];
    checks.push(
      check('endpoints', row.route, values, row.requests, {
        0.5: row.p50Ms,
        0.95: row.p95Ms,
        0.99: row.p99Ms,
      }),
    );
    if (row.requests !== values.length) countsExact = false;
  }
  for (const row of cacheReport(agg, { window: 'all' }).rows) {
    checks.push(check('cache', row.namespace, cacheValues, row.calls, { 0.5: row.p50Ms, 0.99: row.p99Ms }));
    if (row.calls !== cacheValues.length || row.hits !== cacheValues.length) countsExact = false;
  }
  const rowsExpected = names.length + routes.length + 1;
  if (checks.length !== rowsExpected) countsExact = false;
  const recorded = checks.reduce((n, c) => n + c.count.got, 0);
  const worst = checks.flatMap((c) =>
    c.quantiles.map((q) => ({ ...q, where: `${c.table} ${c.key} p${q.q * 100}` })),
  );
  worst.sort((a, b) => b.error - a.error);
  const maxError = worst[0]?.error ?? Number.NaN;
  log(
    `accuracy: ${si(recorded)} durations, worst error ${pct(maxError, 2)} (${worst[0]?.where}), counts ${countsExact ? 'exact' : 'WRONG'}`,
  );

  return {
    name: 'accuracy',
    figures: [
      figure(
        'accuracy.quantiles',
        `p50/p95/p99 vs exact (${si(calls)} DB calls + ${si(2 * others)} others)`,
        '≤ 1% error',
        `max ${pct(maxError, 2)} (${worst[0]?.where ?? '-'})`,
        maxError <= 0.01,
      ),
      figure(
        'accuracy.counts',
        'calls/errors/requests counts',
        'exact',
        countsExact ? `exact (${checks.length} rows)` : 'mismatch',
        countsExact,
      ),
    ],
    raw: { calls, others, checks, worst: worst.slice(0, 5) },
    durationMs: performance.now() - started,
  };
}

if (require.main === module) {
  runAccuracyBench({ calls: flagNumber('calls') })
    .then(reportStandalone)
    .catch((err) => {
      console.error(err);
      process.exitCode = 1;
    });
}
