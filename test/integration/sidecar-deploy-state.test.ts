/**
 * A native sidecar's life at a rollout, with real components: the built sidecar CLI as a process, stopped by
 * SIGTERM and started again; the Express + pg + ioredis orders app of test/fixtures/deploy-app under the
 * built preload, against a real PostgreSQL and Redis. Release 1.4.1 serves, the app and the sidecar stop,
 * the sidecar starts again, and release 1.4.2 (an N+1 over the order's items) serves. With `--state-file`
 * the restarted sidecar compares 1.4.2 with 1.4.1 and the deploy-regression advice names it; without, it
 * starts empty and 1.4.2 has no baseline: no deploy advice (the behaviour this file's first test fixes).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SidecarProcess, startSidecarProcess } from '../../scripts/lib/demo-stack';
import { type LocalServer, startPostgres, startRedis } from '../../scripts/lib/local-servers';
import type { Recommendation } from '../../src/advise/types';
import type { DeploysResponse, ServiceDeploys } from '../../src/deploys';
import { STATE_FORMAT_VERSION } from '../../src/sidecar/state-file';
import { type AppRun, assertBuilt, REPO_ROOT, startApp } from '../fixtures/preload-app/harness';
import { ITEMS, SECRET_CUSTOMER, SECRET_REFERENCE, seedOrders } from '../helpers/orders-db';
import { getJson, waitFor } from '../helpers/sidecar';

const SERVICE = 'orders-fixture';
const APP_DIR = join(REPO_ROOT, 'test', 'fixtures', 'deploy-app');
const REQUESTS = 40;
/** The new release: each order's items read one by one. */
const REGRESSED = { ITEMS_LOOP: '1', OTEL_RESOURCE_ATTRIBUTES: 'service.version=1.4.2' };

let pg: LocalServer;
let redis: LocalServer;
let work: string;
const running: { stop(): Promise<void> }[] = [];

beforeAll(async () => {
  assertBuilt();
  [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
  await seedOrders(pg.url);
  work = mkdtempSync(join(tmpdir(), 'spanstat-deploy-state-'));
});

afterAll(async () => {
  await Promise.all(running.map((r) => r.stop()));
  await Promise.all([pg?.stop(), redis?.stop()]);
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The sidecar CLI, advising every second, deploy routes compared from 20 requests; `--state-file` when given. */
async function sidecar(stateFile?: string): Promise<SidecarProcess> {
  const started = await startSidecarProcess({
    args: stateFile === undefined ? [] : ['--state-file', stateFile],
    env: {
      SPANSTAT_ADVISOR_INTERVAL_SECONDS: '1',
      SPANSTAT_ADVISOR_DEPLOY_MIN_REQUESTS: '20',
      SPANSTAT_ASSEMBLY_IDLE_MS: '3000',
    },
  });
  running.push(started.child);
  return started;
}

/** SIGTERM, as the kubelet stops a pod's native sidecar: the drain ends with the summary line. */
async function stopSidecar(s: SidecarProcess): Promise<void> {
  await s.child.stop();
  expect(s.child.process.exitCode, s.child.tail()).toBe(0);
  expect(s.child.tail()).toContain('spanstat sidecar stopped');
}

async function deploysOf(s: SidecarProcess): Promise<ServiceDeploys | undefined> {
  const body = await getJson<DeploysResponse>(`${s.apiUrl}/api/v1/deploys?service=${SERVICE}`);
  return body.services[0];
}

/** One release of the app: `requests` served, the sidecar holding `total` requests of it, then the app stopped. */
async function release(
  s: SidecarProcess,
  version: string,
  env: Record<string, string>,
  requests: number,
  total = requests,
): Promise<void> {
  const app: AppRun = await startApp({
    script: 'orders-app.js',
    dir: APP_DIR,
    env: {
      PG_URL: pg.url,
      REDIS_URL: redis.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: s.receiverUrl,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      ...env,
    },
  });
  running.push(app);
  for (let i = 0; i < requests; i++) expect(await app.get(`/orders/${1 + (i % 5)}`)).toBe(200);
  const served = await waitFor(async () =>
    (await deploysOf(s))?.versions.find((v) => v.version === version && v.requests === total),
  );
  expect(served, `the sidecar holds ${total} requests of ${version}`).toBeDefined();
  await app.stop();
}

/** The deploy-regression recommendations of an evaluation that began after now (the advisor runs every second). */
async function deployAdvice(s: SidecarProcess): Promise<Recommendation[]> {
  const after = Date.now();
  const url = `${s.apiUrl}/api/v1/recommendations?kind=deploy-regression&state=active`;
  const body = await waitFor(async () => {
    const answer = await getJson<{
      advisor: { lastEvaluatedMs: number | null };
      recommendations: Recommendation[];
    }>(url);
    return (answer.advisor.lastEvaluatedMs ?? 0) > after ? answer : undefined;
  });
  if (body === undefined) throw new Error('the advisor did not evaluate within 15 s');
  return body.recommendations;
}

describe('a sidecar restarted at a rollout', () => {
  it('with --state-file, compares the release deployed after the restart with the one before it', async () => {
    const stateFile = join(work, 'state.json');
    const first = await sidecar(stateFile);
    await release(first, '1.4.1', {}, REQUESTS);
    const before = await deploysOf(first);
    await stopSidecar(first);

    const saved = readFileSync(stateFile, 'utf8');
    expect(JSON.parse(saved)).toMatchObject({
      formatVersion: STATE_FORMAT_VERSION,
      deploys: { services: [{ service: SERVICE, currentVersion: '1.4.1', baselineVersion: null }] },
    });
    for (const secret of [SECRET_REFERENCE, SECRET_CUSTOMER]) expect(saved).not.toContain(secret);

    // The same release after the restart: the history as it was, no new deploy, its version still running.
    const second = await sidecar(stateFile);
    expect(await deploysOf(second)).toMatchObject({
      currentVersion: '1.4.1',
      deployedAtMs: before?.deployedAtMs,
      versions: before?.versions,
    });
    expect(await (await fetch(`${second.apiUrl}/metrics`)).text()).toContain(
      `spanstat_service_version_info{service="${SERVICE}",version="1.4.1"} 1`,
    );
    await release(second, '1.4.1', {}, 5, REQUESTS + 5);
    const same = await deploysOf(second);
    expect(same).toMatchObject({
      currentVersion: '1.4.1',
      deployedAtMs: before?.deployedAtMs,
      previousVersion: null,
    });
    expect(same?.versions).toHaveLength(1);
    expect(await deployAdvice(second)).toEqual([]);
    await stopSidecar(second);

    // The rollout: a new sidecar, then the regressed release.
    const third = await sidecar(stateFile);
    await release(third, '1.4.2', REGRESSED, REQUESTS);
    const advice = await deployAdvice(third);
    expect(advice).toHaveLength(1);
    expect(advice[0]).toMatchObject({
      service: SERVICE,
      target: { type: 'route', value: 'GET /orders/:id' },
    });
    expect(advice[0].evidence, JSON.stringify(advice[0].evidence)).toMatchObject({
      version: '1.4.2',
      baselineVersion: '1.4.1',
      // Read as 1.4.1 ran before the restarts: its 5 requests since are under deploy.minRequests.
      baselineRequests: REQUESTS,
      baselineQueriesPerRequest: 2,
      queriesPerRequest: 2 + ITEMS,
    });
    expect((advice[0].evidence.changedStatements as string[])[0]).toMatch(
      /^`SELECT sku, qty FROM order_items WHERE id = \$1` is new: 10× per request, /,
    );
    expect(advice[0].action).toContain('roll back to 1.4.1');
    expect(await deploysOf(third)).toMatchObject({
      currentVersion: '1.4.2',
      previousVersion: '1.4.1',
      baselineVersion: '1.4.1',
      routes: [
        { baseline: { requests: REQUESTS, queriesPerRequest: 2 }, current: { queriesPerRequest: 2 + ITEMS } },
      ],
    });
    await stopSidecar(third);
    const last = readFileSync(stateFile, 'utf8');
    expect(JSON.parse(last).deploys.services[0]).toMatchObject({
      currentVersion: '1.4.2',
      baselineVersion: '1.4.1',
    });
    for (const secret of [SECRET_REFERENCE, SECRET_CUSTOMER]) expect(last).not.toContain(secret);
  }, 90_000);

  it('starts and stops with a corrupt state file or one it cannot write, saying so once, naming the file', async () => {
    const corrupt = join(work, 'corrupt.json');
    writeFileSync(corrupt, '{"formatVersion": 1, "deploys": {"serv');
    const first = await sidecar(corrupt);
    expect(await deploysOf(first)).toBeUndefined();
    await stopSidecar(first);
    expect(first.child.tail()).toContain(`state file ${corrupt} not used (it is not valid JSON`);
    // Replaced by a valid one at the first save.
    expect(JSON.parse(readFileSync(corrupt, 'utf8'))).toMatchObject({
      formatVersion: STATE_FORMAT_VERSION,
      deploys: { services: [] },
    });

    const unwritable = join(work, 'no-such-directory', 'state.json');
    const second = await sidecar(unwritable);
    await release(second, '1.4.1', {}, 5);
    const health = await getJson<{ state: { loaded: string; saveFailures: number; lastError: string } }>(
      `${second.apiUrl}/healthz`,
    );
    expect(health.state).toMatchObject({ loaded: 'missing', lastError: expect.stringMatching(/ENOENT/) });
    await stopSidecar(second);
    const warnings = second.child
      .tail()
      .split('\n')
      .filter((l) => l.includes('cannot write the state file'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(unwritable);
  }, 60_000);

  it('without a state file, starts empty: the release after the restart has no baseline and no deploy advice', async () => {
    const first = await sidecar();
    await release(first, '1.4.1', {}, REQUESTS);
    await stopSidecar(first);

    const second = await sidecar();
    expect(await deploysOf(second)).toBeUndefined();
    await release(second, '1.4.2', REGRESSED, REQUESTS);
    expect(await deploysOf(second)).toMatchObject({ currentVersion: '1.4.2', baselineVersion: null });
    expect(await deployAdvice(second)).toEqual([]);
    await stopSidecar(second);
  }, 90_000);
});
