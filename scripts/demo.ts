/**
 * `npm run demo`: starts PostgreSQL, Redis, the sidecar and the instrumented demo app, drives the
 * demo mix for `--duration` seconds, then prints spanstat's reports and stops everything.
 *
 *   npm run demo -- --duration 30 --concurrency 8 [--keep]
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import type { AdvisorStatus } from '../src/advise/advisor';
import { fetchJson } from '../src/cli/fetch-json';
import { CLI_PATH, DEMO_APP_DIR, type DemoStack, REPO_ROOT, startDemoStack } from './lib/demo-stack';
import { type LoadProgress, type LoadResult, runLoad } from './lib/load-driver';
import { ensureServersInstalled } from './lib/local-servers';

interface DemoOptions {
  duration: number;
  concurrency: number;
  settle: number;
  keep: boolean;
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number greater than 0');
  return n;
}

function progressLine(p: LoadProgress, totalMs: number): string {
  const seconds = Math.min(p.elapsedMs, totalMs) / 1000;
  return `load ${seconds.toFixed(0).padStart(3)}/${(totalMs / 1000).toFixed(0)} s  ${String(p.requests).padStart(7)} requests  ${p.rps.toFixed(0).padStart(5)} req/s  ${String(p.errors).padStart(5)} errors`;
}

function printLoadSummary(result: LoadResult): void {
  console.log(`\nload driver: ${result.requests} requests, ${result.errors} errors (5xx or no answer)`);
  for (const [route, counts] of Object.entries(result.byRoute).sort(([a], [b]) => a.localeCompare(b))) {
    const statuses = Object.entries(counts.statuses)
      .map(([status, n]) => `${status}×${n}`)
      .join(' ');
    const failed = counts.networkErrors ? ` no-answer×${counts.networkErrors}` : '';
    console.log(`  ${route.padEnd(40)} ${String(counts.requests).padStart(7)}  ${statuses}${failed}`);
  }
  for (const sample of result.errorSamples) console.log(`  e.g. ${sample}`);
}

/** Runs `spanstat <args>`; resolves with its exit code and output (never rejects). */
function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [CLI_PATH, ...args],
      { cwd: REPO_ROOT, timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

/**
 * HTTP requests the sidecar's endpoint report has counted (the demo's own /healthz and the app's job
 * runs, `JOB refresh-digest`, aside: the driver did not send those); 0 when unreachable.
 */
async function sidecarRequests(apiUrl: string): Promise<number> {
  const report = await fetchJson(`${apiUrl}/api/v1/reports/endpoints?window=all&limit=1000`);
  if (!report.ok) return 0;
  const rows =
    (report.body as { rows?: Array<{ method: string; route: string; requests: number }> }).rows ?? [];
  return rows
    .filter((r) => r.route !== '/healthz' && r.method !== 'JOB')
    .reduce((sum, r) => sum + r.requests, 0);
}

/** Calls `probe` every 500 ms until `done` says its answer will do or `deadlineMs` passes; the last answer. */
async function pollUntil<T>(
  probe: () => Promise<T>,
  done: (answer: T) => boolean,
  deadlineMs: number,
): Promise<T> {
  let answer = await probe();
  while (!done(answer) && Date.now() < deadlineMs) {
    await new Promise((r) => setTimeout(r, 500));
    answer = await probe();
  }
  return answer;
}

/**
 * The preload exports in batches (OTEL_BSP_SCHEDULE_DELAY, 5 s by default), so the last spans land
 * seconds after the load stops: wait until the sidecar has counted every request the driver sent
 * (or the exporter's delay has surely passed), then give open traces `settleSeconds` to be summarised.
 */
async function waitForSidecar(apiUrl: string, sent: number, settleSeconds: number): Promise<void> {
  const seen = await pollUntil(
    () => sidecarRequests(apiUrl),
    (n) => n >= sent,
    Date.now() + 15_000,
  );
  if (seen < sent)
    console.log(`\nnote: the sidecar has counted ${seen} of ${sent} requests (spans dropped or late)`);
  await new Promise((r) => setTimeout(r, settleSeconds * 1000));
}

/** The advisor's status from the recommendations endpoint; undefined when unreachable or off. */
async function advisorStatus(apiUrl: string): Promise<AdvisorStatus | undefined> {
  const answer = await fetchJson(`${apiUrl}/api/v1/recommendations`);
  return answer.ok ? (answer.body as { advisor: AdvisorStatus }).advisor : undefined;
}

/**
 * The advisor evaluates at startup and then every intervalSeconds (30 s by default), so after a short
 * load its last evaluation predates the data: wait for one that began after `sinceMs` (it reads its
 * input when it begins, and lastEvaluatedMs is when it ended), at most an interval and a few seconds.
 */
async function waitForAdvisor(apiUrl: string, sinceMs: number): Promise<void> {
  const fresh = (s: AdvisorStatus | undefined) =>
    !s || (s.lastEvaluatedMs ?? 0) - (s.lastDurationMs ?? 0) >= sinceMs;
  const first = await advisorStatus(apiUrl);
  if (fresh(first)) return;
  const intervalSeconds = (first as AdvisorStatus).intervalSeconds;
  console.log(`\nwaiting for the advisor's next evaluation (every ${intervalSeconds} s)`);
  const status = await pollUntil(() => advisorStatus(apiUrl), fresh, sinceMs + (intervalSeconds + 5) * 1000);
  if (!fresh(status))
    console.log('note: the advisor has not evaluated since the spans arrived; the advice may predate them');
}

async function printReports(apiUrl: string): Promise<void> {
  for (const report of ['services', 'queries', 'cache', 'endpoints']) {
    console.log(`\n== spanstat report ${report} ==`);
    const { code, stdout, stderr } = await runCli(['report', report, '--api', apiUrl]);
    process.stdout.write(stdout);
    if (code !== 0) console.log(`(report ${report} failed with exit code ${code}) ${stderr.trim()}`);
  }
  // What stands at the end of the run; what the warm-up raised and the load then cleared is one line.
  const advice = await runCli(['advise', '--api', apiUrl, '--state', 'active']);
  // Older CLIs have no `advise`: skip it silently.
  if (/unknown command/i.test(advice.stderr)) return;
  console.log('\n== spanstat advise --state active ==');
  process.stdout.write(advice.stdout);
  if (advice.code !== 0) console.log(`(advise failed with exit code ${advice.code}) ${advice.stderr.trim()}`);
  const resolved = await fetchJson(`${apiUrl}/api/v1/recommendations?state=resolved`);
  const count = resolved.ok ? (resolved.body as { recommendations: unknown[] }).recommendations.length : 0;
  if (count > 0)
    console.log(
      `\n(${count} more raised earlier in the run and resolved since: spanstat advise --state resolved --api ${apiUrl})`,
    );
}

async function drive(
  stack: DemoStack,
  options: DemoOptions,
): Promise<{ result: LoadResult; interrupted: boolean }> {
  const totalMs = options.duration * 1000;
  const tty = process.stdout.isTTY;
  let lastPrinted = 0;
  // On Ctrl-C the stack is being stopped: stop the load too instead of counting refused requests.
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once('SIGINT', onSigint);
  const result = await runLoad(stack.appUrl, {
    durationMs: totalMs,
    concurrency: options.concurrency,
    progressEveryMs: 500,
    signal: abort.signal,
    onProgress: (p) => {
      if (abort.signal.aborted) return;
      if (tty) {
        process.stdout.write(`\r${progressLine(p, totalMs)}`);
      } else if (p.elapsedMs - lastPrinted >= 5_000 || p.elapsedMs >= totalMs) {
        lastPrinted = p.elapsedMs;
        console.log(progressLine(p, totalMs));
      }
    },
  });
  process.off('SIGINT', onSigint);
  if (tty) process.stdout.write('\n');
  return { result, interrupted: abort.signal.aborted };
}

async function main(): Promise<void> {
  const program = new Command('demo')
    .description('run the spanstat demo: servers, sidecar, instrumented demo app, load, reports')
    .option('--duration <seconds>', 'how long to drive load', positiveNumber, 30)
    .option('--concurrency <n>', 'concurrent request loops', positiveNumber, 8)
    .option(
      '--settle <seconds>',
      'wait after the load so the sidecar finishes open traces',
      positiveNumber,
      3,
    )
    .option('--keep', 'leave everything running after the reports until Ctrl-C', false)
    .parse();
  const options = program.opts<DemoOptions>();

  ensureServersInstalled();
  const started = Date.now();
  const stack = await startDemoStack({
    log: (line) => console.log(line),
    stopOnSignals: true,
    sidecarArgs: ['--config', join(DEMO_APP_DIR, 'spanstat.yaml')],
  });
  try {
    const apiUrl = stack.apiUrl as string;
    console.log(
      `\ndriving load for ${options.duration} s with ${options.concurrency} loops against ${stack.appUrl}`,
    );
    const { result, interrupted } = await drive(stack, options);
    printLoadSummary(result);
    // The stack's own SIGINT handler is stopping everything and exits when done.
    if (interrupted) await new Promise(() => {});
    if (result.requests === 0)
      throw new Error(`no request was answered; demo app output:\n${stack.output().app}`);
    const answered = Object.values(result.byRoute).reduce((n, c) => n + c.requests - c.networkErrors, 0);
    await waitForSidecar(apiUrl, answered, options.settle);
    await waitForAdvisor(apiUrl, Date.now());
    await printReports(apiUrl);
    console.log(`\ndemo finished in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    if (options.keep) {
      console.log(`\nstill running — report page: ${apiUrl}/  app: ${stack.appUrl}  (Ctrl-C to stop)`);
      // The sidecar is on a free port, not the CLI's default 9464.
      console.log(
        `the CLI reads it with: npx spanstat report queries --api ${apiUrl}  (or SPANSTAT_API_URL=${apiUrl})`,
      );
      await new Promise(() => {});
    }
  } finally {
    await stack.stop();
  }
}

main().catch((err: Error) => {
  console.error(`\ndemo failed: ${err.message}`);
  process.exit(1);
});
