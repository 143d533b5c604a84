/**
 * Closed-loop HTTP load with autocannon, in this process. autocannon's own histogram keeps whole
 * milliseconds, too coarse for a 1 ms target, so every 2xx response time (float ms, from its
 * `response` event) is kept here and the percentiles are exact.
 */
import { quantileSorted } from './stats';

interface AutocannonResult {
  requests: { total: number };
  duration: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

interface AutocannonInstance extends PromiseLike<AutocannonResult> {
  on(event: 'response', listener: (client: unknown, status: number, bytes: number, ms: number) => void): void;
}

type Autocannon = (options: Record<string, unknown>) => AutocannonInstance;

// autocannon ships no types; this is the part used here.
const autocannon = require('autocannon') as Autocannon;

export interface LoadRunOptions {
  url: string;
  /** Path of each request, from a request counter (so every request can differ). */
  path: (n: number) => string;
  connections: number;
  seconds: number;
}

export interface LoadRunResult {
  requests: number;
  /** 2xx responses. */
  ok: number;
  /** 2xx responses per second over the run. */
  rps: number;
  non2xx: number;
  errors: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  seconds: number;
}

export async function runAutocannon(options: LoadRunOptions): Promise<LoadRunResult> {
  let n = 0;
  const times: number[] = [];
  const instance = autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.seconds,
    requests: [
      {
        method: 'GET',
        setupRequest: (req: { path: string }) => {
          req.path = options.path(n++);
          return req;
        },
      },
    ],
  });
  instance.on('response', (_client, status, _bytes, ms) => {
    if (status >= 200 && status < 300) times.push(ms);
  });
  const result = await instance;
  const sorted = Float64Array.from(times).sort();
  return {
    requests: result.requests.total,
    ok: sorted.length,
    rps: sorted.length / (result.duration || options.seconds),
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    p50Ms: quantileSorted(sorted, 0.5),
    p90Ms: quantileSorted(sorted, 0.9),
    p99Ms: quantileSorted(sorted, 0.99),
    maxMs: sorted.length ? sorted[sorted.length - 1] : Number.NaN,
    seconds: result.duration || options.seconds,
  };
}
