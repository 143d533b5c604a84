import { describe, expect, it } from 'vitest';
import { Advisor } from '../../src/advise/advisor';
import { evaluate } from '../../src/advise/evaluate';
import type { AdvisorConfig, AdvisorInput, Severity } from '../../src/advise/types';
import { DEFAULTS } from '../../src/config/defaults';
import { recommendationSeries } from '../../src/metrics';
import {
  cacheRow,
  endpointQueryRow,
  endpointRow,
  input,
  poolRow,
  queryRow,
  thresholds,
} from './advise-fixtures';

const config = (o: Partial<AdvisorConfig> = {}): AdvisorConfig =>
  ({ ...structuredClone(DEFAULTS.advisor), intervalSeconds: 3600, ...o }) as AdvisorConfig;

interface Step {
  /** Active recommendations of the kind after this evaluation, as their severities. */
  active: Severity[];
  opened: number;
  resolved: number;
}

/**
 * Runs one evaluation per figure, 30 s apart on a fake clock, with the window's rows made from the
 * figure; returns what each evaluation left active and what it opened and resolved.
 */
async function run(
  figures: number[],
  rows: (figure: number) => AdvisorInput,
  kind: string,
  o: Partial<AdvisorConfig> = {},
): Promise<Step[]> {
  let now = 0;
  let current = rows(figures[0]);
  const advisor = new Advisor(config(o), () => current, undefined, { now: () => now });
  const steps: Step[] = [];
  for (const figure of figures) {
    current = rows(figure);
    now += 30_000;
    const changes = await advisor.evaluateNow();
    steps.push({
      active: advisor.list({ state: 'active' }).flatMap((r) => (r.kind === kind ? [r.severity] : [])),
      opened: changes.opened.filter((r) => r.kind === kind).length,
      resolved: changes.resolved.filter((r) => r.kind === kind).length,
    });
  }
  await advisor.shutdown();
  return steps;
}

const totals = (steps: Step[]) => ({
  opened: steps.reduce((n, s) => n + s.opened, 0),
  resolved: steps.reduce((n, s) => n + s.resolved, 0),
});

/** A namespace with 1000 reads at `hitRate`. */
const cacheAt = (hitRate: number) =>
  input({
    cache: [
      cacheRow({ hits: Math.round(1000 * hitRate), misses: 1000 - Math.round(1000 * hitRate), hitRate }),
    ],
  });
/** A route with 1000 requests, `rate` of them 5xx. */
const errorsAt = (rate: number) =>
  input({ endpoints: [endpointRow({ requests: 1000, serverErrors: Math.round(1000 * rate) })] });
const endpointP95 = (p95Ms: number) => input({ endpoints: [endpointRow({ p95Ms })] });
const queryP95 = (p95Ms: number) => input({ queries: [queryRow({ p95Ms })] });

describe('advisor hysteresis (advisor.clearMargin)', () => {
  it('keeps one cache-hit-rate recommendation while the hit rate hovers around the 80% target', async () => {
    const steps = await run([0.79, 0.81, 0.78, 0.815, 0.795, 0.81, 0.8, 0.79], cacheAt, 'cache-hit-rate');
    expect(steps.map((s) => s.active)).toEqual(Array(8).fill(['warning']));
    expect(totals(steps)).toEqual({ opened: 1, resolved: 0 });
  });

  it('without a margin the same figures open and resolve it at every crossing (what the margin prevents)', async () => {
    const steps = await run([0.79, 0.81, 0.78, 0.815, 0.795, 0.81, 0.8, 0.79], cacheAt, 'cache-hit-rate', {
      clearMargin: 0,
    });
    expect(totals(steps)).toEqual({ opened: 4, resolved: 3 });
  });

  it('clears the cache-hit-rate recommendation on a clear recovery, past the target by the margin', async () => {
    // 80% target, miss rate 20% less 10% of it: clears above 82%.
    const steps = await run([0.75, 0.819, 0.83, 0.83], cacheAt, 'cache-hit-rate');
    expect(steps.map((s) => s.active)).toEqual([['warning'], ['warning'], [], []]);
    expect(totals(steps)).toEqual({ opened: 1, resolved: 1 });
  });

  it('does not raise earlier than the threshold: a hit rate just over the target never opens one', async () => {
    const steps = await run([0.81, 0.805, 0.81], cacheAt, 'cache-hit-rate');
    expect(totals(steps)).toEqual({ opened: 0, resolved: 0 });
  });

  it('keeps one endpoint-errors recommendation while the 5xx rate hovers around 2%, and clears it under 1.8%', async () => {
    const steps = await run(
      [0.021, 0.019, 0.02, 0.0185, 0.022, 0.019, 0.015, 0.019],
      errorsAt,
      'endpoint-errors',
    );
    expect(steps.map((s) => s.active)).toEqual([
      ['warning'],
      ['warning'],
      ['warning'],
      ['warning'],
      ['warning'],
      ['warning'],
      [],
      [],
    ]);
    expect(totals(steps)).toEqual({ opened: 1, resolved: 1 });
  });

  it('holds critical while a p95 hovers around twice the SLO, then steps down and clears with margins', async () => {
    // SLO 200 ms: critical over 400 ms, kept down to 360 ms; warning kept down to 180 ms.
    const steps = await run([410, 390, 420, 365, 355, 210, 190, 185, 170], endpointP95, 'endpoint-slow');
    expect(steps.map((s) => s.active)).toEqual([
      ['critical'],
      ['critical'],
      ['critical'],
      ['critical'],
      ['warning'],
      ['warning'],
      ['warning'],
      ['warning'],
      [],
    ]);
    expect(totals(steps)).toEqual({ opened: 1, resolved: 1 });
  });

  it('escalates to critical at once: hysteresis only slows the way back', async () => {
    const steps = await run([250, 401, 250], endpointP95, 'endpoint-slow');
    expect(steps.map((s) => s.active)).toEqual([['warning'], ['critical'], ['warning']]);
  });

  it('keeps a slow query open and its severity steady around both the 100-ms and the 500-ms line (cleared under 90 and 450 ms)', async () => {
    const steps = await run([510, 495, 505, 455, 440, 101, 99, 95, 89], queryP95, 'slow-query');
    expect(steps.map((s) => s.active)).toEqual([
      ['critical'],
      ['critical'],
      ['critical'],
      ['critical'],
      ['warning'],
      ['warning'],
      ['warning'],
      ['warning'],
      [],
    ]);
    expect(totals(steps)).toEqual({ opened: 1, resolved: 1 });
  });

  it('keeps the spanstat_recommendation series at 1 while a 5xx rate hovers (what alert rules read)', async () => {
    let now = 0;
    let rate = 0.021;
    const advisor = new Advisor(config(), () => errorsAt(rate), undefined, { now: () => now });
    const seriesCounts: number[] = [];
    for (const r of [0.021, 0.019, 0.0205, 0.0195]) {
      rate = r;
      now += 30_000;
      await advisor.evaluateNow();
      seriesCounts.push(recommendationSeries(advisor.list({ state: 'active' })).length);
    }
    await advisor.shutdown();
    expect(seriesCounts).toEqual([1, 1, 1, 1]);
  });

  it('leaves evaluate() without a store as it was: the threshold alone decides', () => {
    expect(evaluate(errorsAt(0.019), thresholds(), 0)).toEqual([]);
    expect(evaluate(errorsAt(0.02), thresholds(), 0).map((r) => r.kind)).toEqual(['endpoint-errors']);
  });
});

describe('advisor hysteresis on N+1 severity', () => {
  /** A route whose 20 affected requests repeat one look-up 10×, costing `repeatMs` per request. */
  const nPlusOneAt = (repeatMs: number) =>
    input({
      endpointQueries: [
        endpointQueryRow({
          requestsOverThreshold: 20,
          maxCallsPerRequest: 10,
          meanCallsPerRequest: 10,
          overThresholdMs: 20 * repeatMs,
        }),
      ],
    });

  it('keeps warning while the repeat time hovers around 50 ms, and steps down to info under 45 ms', async () => {
    const steps = await run([52, 48, 51, 46, 49, 44, 48], nPlusOneAt, 'n-plus-one');
    expect(steps.map((s) => s.active)).toEqual([
      ['warning'],
      ['warning'],
      ['warning'],
      ['warning'],
      ['warning'],
      ['info'],
      ['info'],
    ]);
    expect(totals(steps)).toEqual({ opened: 1, resolved: 0 });
  });

  it('without a margin the same figures flip its severity at every crossing', async () => {
    const steps = await run([52, 48, 51, 46], nPlusOneAt, 'n-plus-one', { clearMargin: 0 });
    expect(steps.map((s) => s.active)).toEqual([['warning'], ['info'], ['warning'], ['info']]);
  });
});

describe('advisor hysteresis on top consumers', () => {
  /** One statement taking `share` of the service's DB time (2 s of it in the window). */
  const topAt = (share: number) => input({ queries: [queryRow({ shareOfDbTime: share, totalMs: 2_000 })] });

  it('keeps one top-consumer recommendation while its share hovers around 30%, and clears it under 27%', async () => {
    const steps = await run([0.31, 0.29, 0.305, 0.28, 0.26], topAt, 'top-consumer');
    expect(steps.map((s) => s.active)).toEqual([['info'], ['info'], ['info'], ['info'], []]);
    expect(totals(steps)).toEqual({ opened: 1, resolved: 1 });
  });

  it('keeps warning while the share hovers around 60%, and steps down to info under 54%', async () => {
    const steps = await run([0.61, 0.58, 0.6, 0.55, 0.53], topAt, 'top-consumer');
    expect(steps.map((s) => s.active)).toEqual([
      ['warning'],
      ['warning'],
      ['warning'],
      ['warning'],
      ['info'],
    ]);
  });

  it('without a margin the same figures open and resolve it, and flip its severity, at every crossing', async () => {
    const open = await run([0.31, 0.29, 0.305, 0.28], topAt, 'top-consumer', { clearMargin: 0 });
    expect(totals(open)).toEqual({ opened: 2, resolved: 2 });
    const severity = await run([0.61, 0.58, 0.6], topAt, 'top-consumer', { clearMargin: 0 });
    expect(severity.map((s) => s.active)).toEqual([['warning'], ['info'], ['warning']]);
  });
});

describe('advisor hysteresis on pools', () => {
  /** A pool that ran out of clients, its checkouts waiting `p95WaitMs` at p95. */
  const poolWait = (p95WaitMs: number) =>
    input({ pools: [poolRow({ p95WaitMs, saturatedConnects: 5, maxInUseRatio: 0.4 })] });

  it('keeps one pool-saturation recommendation while the p95 wait hovers around 20 ms, and clears it under 18 ms', async () => {
    const steps = await run([21, 19, 20.5, 18.5, 19.5, 17], poolWait, 'pool-saturation');
    expect(steps.map((s) => s.active)).toEqual([
      ['warning'],
      ['warning'],
      ['warning'],
      ['warning'],
      ['warning'],
      [],
    ]);
    expect(totals(steps)).toEqual({ opened: 1, resolved: 1 });
  });
});
