/**
 * Background jobs end to end: a worker with no HTTP server runs `runJob('send-digest', …)` with an
 * N+1 against a real PostgreSQL, under the built preload, exporting to an in-process sidecar. The
 * sidecar shows the job as an endpoint row (`JOB send-digest`, one request per run) and the advisor
 * recommends batching the per-item query for it, worded per run.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalServer, startPostgres } from '../../scripts/lib/local-servers';
import type { EndpointRow, Report } from '../../src/reports/types';
import type { RunningSidecar } from '../../src/sidecar/sidecar';
import { assertBuilt, REPO_ROOT, startApp } from '../fixtures/preload-app/harness';
import { getJson, startTestSidecar, waitFor } from '../helpers/sidecar';

const SERVICE = 'digest-worker';
const RUNS = 6;
const SUBSCRIBERS = 8;
const JOB_MODULE = join(REPO_ROOT, 'dist', 'job.js');
const CLI = join(REPO_ROOT, 'dist', 'cli', 'main.js');

/** `spanstat <args>` against the test sidecar: its stdout. */
async function cli(...args: string[]): Promise<string> {
  const run = promisify(execFile)(
    process.execPath,
    [CLI, ...args, '--api', sidecar.apiUrl, '--service', SERVICE],
    {
      encoding: 'utf8',
      timeout: 20_000,
    },
  );
  return (await run).stdout;
}

let pg: LocalServer;
let sidecar: RunningSidecar;

beforeAll(async () => {
  assertBuilt();
  [pg, sidecar] = await Promise.all([
    startPostgres(),
    // A run's queries reach the sidecar an export (100 ms) or more before its root span: the test
    // sidecar's 300-ms assembly wait dropped a run's queries from it once under the suite's load.
    startTestSidecar({ advisor: { intervalSeconds: 3600 }, assembly: { idleMs: 3_000 } }),
  ]);
  const db = new Client({ connectionString: pg.url });
  await db.connect();
  await db.query('CREATE TABLE subscribers (id int PRIMARY KEY, email text NOT NULL)');
  await db.query(
    `INSERT INTO subscribers SELECT g, 'reader' || g || '@example.com' FROM generate_series(1, ${SUBSCRIBERS}) g`,
  );
  await db.end();
});

afterAll(async () => {
  await sidecar?.shutdown();
  await pg?.stop();
});

function workerEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PG_URL: pg.url, JOB_RUNS: String(RUNS), SPANSTAT_JOB_MODULE: JOB_MODULE, ...extra };
}

describe('a job worker without an HTTP server', () => {
  it('runs its jobs unchanged without the preload', async () => {
    const worker = await startApp({ script: 'job-worker.js', preload: false, env: workerEnv() });
    const exit = await worker.exited;
    expect(worker.stderr()).toBe('');
    expect(exit.code).toBe(0);
    // The failing job's rejection passes through as it is (pg's undefined_table code).
    expect(worker.stdout()).toContain(`job-done sent=${RUNS * SUBSCRIBERS} failed=42P01`);
  });

  it('shows each job as an endpoint row, one request per run, and the advisor finds its N+1', async () => {
    const worker = await startApp({
      script: 'job-worker.js',
      env: workerEnv({
        OTEL_EXPORTER_OTLP_ENDPOINT: sidecar.receiverUrl,
        OTEL_BSP_SCHEDULE_DELAY: '100',
        OTEL_SERVICE_NAME: SERVICE,
      }),
    });
    const exit = await worker.exited;
    expect(exit.code).toBe(0);
    expect(worker.stdout()).toContain(`job-done sent=${RUNS * SUBSCRIBERS} failed=42P01`);

    const url = `${sidecar.apiUrl}/api/v1/reports/endpoints?service=${SERVICE}`;
    const rows = await waitFor(async () => {
      const report = await getJson<Report<EndpointRow>>(url);
      const runs = report.rows.reduce((n, r) => n + r.requests, 0);
      return runs === RUNS + 1 ? report.rows : undefined;
    });
    const digest = rows?.find((r) => r.method === 'JOB' && r.route === 'send-digest');
    expect(digest).toMatchObject({ requests: RUNS, errors: 0, serverErrors: 0 });
    // The subscriber list, then one look-up per subscriber: every run's queries are its own.
    expect(digest?.queriesPerRequest).toBe(1 + SUBSCRIBERS);
    expect(digest?.dbMsPerRequest).toBeGreaterThan(0);
    const prune = rows?.find((r) => r.method === 'JOB' && r.route === 'prune-digests');
    expect(prune).toMatchObject({ requests: 1, errors: 1, errorRate: 1 });
    expect(rows?.filter((r) => r.method !== 'JOB')).toEqual([]);

    const advisor = sidecar.advisor;
    if (advisor === undefined) throw new Error('the sidecar has no advisor');
    await advisor.evaluateNow();
    const nPlusOne = advisor
      .list({ kind: 'n-plus-one', state: 'active' })
      .filter((r) => r.service === SERVICE && r.target.route === 'JOB send-digest');
    expect(nPlusOne).toHaveLength(1);
    const [rec] = nPlusOne;
    expect(rec.target.statement).toBe('SELECT email FROM subscribers WHERE id = $1');
    expect(rec.title).toBe(
      `N+1 in JOB send-digest: SELECT email FROM subscribers WHERE id = $1 runs up to ${SUBSCRIBERS}× per run`,
    );
    expect(rec.evidence).toMatchObject({
      routeRequests: RUNS,
      requestsAffected: RUNS,
      maxCallsPerRequest: SUBSCRIBERS,
    });
    expect(rec.action).toContain('SELECT email FROM subscribers WHERE id = ANY($1)');
    expect(rec.action).toContain('of runs run');
    expect(rec.action).not.toContain('request');
    // No parameter value or row content reaches the advice.
    expect(JSON.stringify(rec)).not.toMatch(/@example\.com|reader\d/);

    // The CLI shows the same: a JOB row per job, and the N+1 advice for the job.
    const table = await cli('report', 'endpoints');
    expect(table).toMatch(new RegExp(`^JOB +send-digest +${RUNS} `, 'm'));
    expect(table).toMatch(/^JOB +prune-digests +1 +[\d.]+ +100\.0% /m);
    expect(await cli('advise', '--kind', 'n-plus-one')).toContain(rec.title);
  });
});
