/**
 * Drives HTTP requests at the demo app: `runScript` for exact, scripted counts (integration tests)
 * and `runLoad` for a timed, weighted random mix (the demo, benchmarks). Both use one keep-alive
 * agent and read every body, so sockets are reused and counts are per completed request.
 */
import { Agent, request } from 'node:http';
import { type DemoRoute, ROUTES } from '../../examples/demo-app/routes';
import { seededRandom } from './seeded-random';

export { DATASET, type DemoRoute, FAIL_EVERY, RECENT_ORDERS, ROUTES } from '../../examples/demo-app/routes';

export interface RouteCounts {
  requests: number;
  /** Count per HTTP status; network failures are under `networkErrors`, not here. */
  statuses: Record<number, number>;
  /** Requests answered with a 5xx. */
  serverErrors: number;
  /** Requests that got no HTTP answer (refused, reset, timed out). */
  networkErrors: number;
}

export interface LoadResult {
  /** Completed requests, answered or not. */
  requests: number;
  /** 5xx answers plus network failures. */
  errors: number;
  durationMs: number;
  /** Keyed by route key (`GET /api/products/:id`) or, for script steps, the step's `key ?? path`. */
  byRoute: Record<string, RouteCounts>;
  /** First few network error messages, for diagnosis. */
  errorSamples: string[];
}

export interface ScriptStep {
  path: string;
  /** Times to request `path` (default 1). */
  count?: number;
  /** Label the counts are kept under (default: the path). */
  key?: string;
}

export interface ScriptOptions {
  /** Requests in flight at once within a step (default 1: strictly sequential). */
  concurrency?: number;
  timeoutMs?: number;
}

export interface LoadProgress {
  elapsedMs: number;
  requests: number;
  errors: number;
  /** Requests per second since the start. */
  rps: number;
}

export interface LoadOptions {
  durationMs: number;
  /** Concurrent request loops (default 8). */
  concurrency?: number;
  /** Called about every `progressEveryMs` (default 500). */
  onProgress?: (progress: LoadProgress) => void;
  progressEveryMs?: number;
  /** Routes and weights (default: the demo mix). */
  routes?: readonly DemoRoute[];
  /** PRNG seed, so two runs request the same paths in the same order per loop (default 1). */
  seed?: number;
  timeoutMs?: number;
  /** Stops the run early. */
  signal?: AbortSignal;
}

interface Tally {
  result: LoadResult;
  record(key: string, status: number | Error): void;
}

function newTally(): Tally {
  const result: LoadResult = { requests: 0, errors: 0, durationMs: 0, byRoute: {}, errorSamples: [] };
  return {
    result,
    record(key, status) {
      let counts = result.byRoute[key];
      if (!counts) {
        counts = { requests: 0, statuses: {}, serverErrors: 0, networkErrors: 0 };
        result.byRoute[key] = counts;
      }
      counts.requests++;
      result.requests++;
      if (status instanceof Error) {
        counts.networkErrors++;
        result.errors++;
        if (result.errorSamples.length < 5) result.errorSamples.push(`${key}: ${status.message}`);
        return;
      }
      counts.statuses[status] = (counts.statuses[status] ?? 0) + 1;
      if (status >= 500) {
        counts.serverErrors++;
        result.errors++;
      }
    },
  };
}

/** One GET; resolves with the status, or with the Error when no answer came. Never rejects. */
function get(agent: Agent, url: URL, path: string, timeoutMs: number): Promise<number | Error> {
  return new Promise((resolve) => {
    const req = request(
      { agent, host: url.hostname, port: url.port, path, method: 'GET', timeout: timeoutMs },
      (res) => {
        res.resume();
        res.once('end', () => resolve(res.statusCode ?? 0));
        res.once('error', (err) => resolve(err));
      },
    );
    req.once('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.once('error', (err) => resolve(err));
    req.end();
  });
}

/** Runs the steps in order; within a step up to `concurrency` requests are in flight. */
export async function runScript(
  baseUrl: string,
  steps: readonly ScriptStep[],
  options: ScriptOptions = {},
): Promise<LoadResult> {
  const url = new URL(baseUrl);
  const concurrency = Math.max(1, options.concurrency ?? 1);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const tally = newTally();
  const started = performance.now();
  try {
    for (const step of steps) {
      let remaining = step.count ?? 1;
      const key = step.key ?? step.path;
      const loop = async () => {
        while (remaining > 0) {
          remaining--;
          tally.record(key, await get(agent, url, step.path, timeoutMs));
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, remaining) }, loop));
    }
  } finally {
    agent.destroy();
  }
  tally.result.durationMs = performance.now() - started;
  return tally.result;
}

/** Picks a route with probability proportional to its weight. */
export function weightedPicker(routes: readonly DemoRoute[]): (rng: () => number) => DemoRoute {
  const total = routes.reduce((sum, r) => sum + r.weight, 0);
  if (!(total > 0)) throw new Error('load driver: route weights must add up to more than 0');
  let sum = 0;
  const cumulative = routes.map((r) => {
    sum += r.weight / total;
    return sum;
  });
  return (rng) => {
    const x = rng();
    const i = cumulative.findIndex((c) => x < c);
    return routes[i === -1 ? routes.length - 1 : i];
  };
}

/** Runs a weighted random mix for `durationMs` with `concurrency` closed request loops. */
export async function runLoad(baseUrl: string, options: LoadOptions): Promise<LoadResult> {
  const url = new URL(baseUrl);
  const concurrency = Math.max(1, options.concurrency ?? 8);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const pick = weightedPicker(options.routes ?? ROUTES);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const tally = newTally();
  const started = performance.now();
  const deadline = started + options.durationMs;
  const progress = (): LoadProgress => {
    const elapsedMs = performance.now() - started;
    const { requests, errors } = tally.result;
    return { elapsedMs, requests, errors, rps: elapsedMs > 0 ? (requests * 1000) / elapsedMs : 0 };
  };
  const timer = options.onProgress
    ? setInterval(() => options.onProgress?.(progress()), options.progressEveryMs ?? 500)
    : undefined;
  timer?.unref();
  const loop = async (index: number) => {
    const rng = seededRandom((options.seed ?? 1) * 7919 + index);
    while (performance.now() < deadline && !options.signal?.aborted) {
      const route = pick(rng);
      tally.record(route.key, await get(agent, url, route.path(rng), timeoutMs));
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, (_, i) => loop(i)));
  } finally {
    if (timer) clearInterval(timer);
    agent.destroy();
  }
  tally.result.durationMs = performance.now() - started;
  options.onProgress?.(progress());
  return tally.result;
}

export { seededRandom };
