/**
 * Background jobs as units of work: `const { runJob } = require('spanstat/job')`.
 *
 *   setInterval(() => runJob('send-digest', sendDigest), 60_000);
 *   worker.on('message', wrapJob('resize-image', handle));
 *
 * Under the preload (`node --require spanstat/preload`), each run is a root span the sidecar reports
 * like an endpoint: `JOB send-digest`, with run count, percentiles, time split and per-run advice
 * (N+1, SLO). Without the preload this module just calls the function. It loads nothing else, and
 * it never throws errors of its own (save a TypeError when the job is not a function): the function's
 * value, throw or rejection is what the app sees.
 *
 * Job names should be constants; id-like words in them become `:id`, as in routes.
 */

/** startPreload's registration (src/preload/job-root.ts JOBS_KEY): found through globalThis, so any copy works. */
const JOBS_KEY = Symbol.for('spanstat.preload.jobs');

interface JobRunner {
  version: number;
  run<T>(name: string, fn: () => T): T;
}

function registeredRunner(): JobRunner | undefined {
  const runner = (globalThis as Record<symbol, unknown>)[JOBS_KEY] as Partial<JobRunner> | undefined;
  return runner?.version === 1 && typeof runner.run === 'function' ? (runner as JobRunner) : undefined;
}

/**
 * Runs `fn` as one run of the job `name` and returns what it returns. A run ends when fn returns or,
 * when it returns a promise, when that settles; a throw or rejection marks the run failed and passes
 * through (the promise returned then is one derived from fn's). Inside an HTTP request a run is still
 * a unit of its own (a new trace linked to the request), not part of the request's.
 */
export function runJob<T>(name: string, fn: () => T): T {
  if (typeof fn !== 'function') throw notAFunction('runJob', fn);
  const runner = registeredRunner();
  if (runner === undefined) return fn();
  let called = false;
  try {
    return runner.run(name, () => {
      called = true;
      return fn();
    });
  } catch (err) {
    // fn's own throw passes through; a failure of the runner before fn ran must not reach the app.
    if (called) throw err;
    return fn();
  }
}

/** `fn` as a function whose every call is a run of the job `name` (for handlers and callbacks). */
export function wrapJob<A extends unknown[], R>(name: string, fn: (...args: A) => R): (...args: A) => R {
  if (typeof fn !== 'function') throw notAFunction('wrapJob', fn);
  return function job(this: unknown, ...args: A): R {
    return runJob(name, () => fn.apply(this, args));
  };
}

/**
 * The one error of our own: a job that is not a function, said at the call that got it (the job's
 * name is left out, as it may hold data). Untraced, it would fail the same way at `fn()`, as
 * "fn is not a function", and under the preload also as a failed run of the job.
 */
function notAFunction(api: string, fn: unknown): TypeError {
  const received = fn === null ? 'null' : typeof fn;
  return new TypeError(`spanstat/job: ${api}(name, fn) needs fn to be a function, received ${received}`);
}
