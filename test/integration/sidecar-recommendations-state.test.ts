/**
 * A sidecar's recommendations through a rollout, with real components: the built sidecar CLI as a process
 * with `--state-file`, the Express + pg + ioredis orders app of test/fixtures/deploy-app under the built
 * preload (its N+1 release) against a real PostgreSQL and Redis, a real Prometheus scraping the sidecar
 * every second with config/alerts.yml (`for:` cut to 0s, keep_firing_for as shipped) and a real
 * Alertmanager (config/alertmanager.yml) notifying a webhook here. The advisor raises an N+1, its alert
 * fires; the sidecar is stopped by SIGTERM and a new one — another port, so another `instance`, as a new
 * pod's — starts on the same state file with no app sending to it. The recommendation is served at once
 * with its id and first-seen time, on /metrics too, and the alert carries on: the same alert (same
 * activeAt), one of it, and no resolved notification.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_PATH, type SidecarProcess, startSidecarProcess } from '../../scripts/lib/demo-stack';
import { freePort, type LocalServer, startPostgres, startRedis } from '../../scripts/lib/local-servers';
import {
  ensurePromToolsInstalled,
  fastAlertRules,
  type PromServer,
  promAlerts,
  promQuery,
  startAlertmanager,
  startPrometheus,
  testAlertmanagerConfig,
  testPrometheusConfig,
} from '../../scripts/lib/prom-servers';
import type { Recommendation } from '../../src/advise/types';
import { assertBuilt, REPO_ROOT, startApp } from '../fixtures/preload-app/harness';
import { type AlertWebhook, startAlertWebhook, waitFor } from '../helpers/alerting';
import { SECRET_CUSTOMER, SECRET_REFERENCE, seedOrders } from '../helpers/orders-db';
import { getJson } from '../helpers/sidecar';

const SERVICE = 'orders-fixture';
const CONFIG = join(REPO_ROOT, 'config');
const APP_DIR = join(REPO_ROOT, 'test', 'fixtures', 'deploy-app');

let pg: LocalServer;
let redis: LocalServer;
let prometheus: PromServer | undefined;
let alertmanager: PromServer | undefined;
let webhook: AlertWebhook | undefined;
let work: string;
/** The old pod's sidecar API port and the new pod's, both scraped from the start. */
let ports: [number, number];
const running: { stop(): Promise<void> }[] = [];

beforeAll(async () => {
  assertBuilt();
  ensurePromToolsInstalled();
  [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
  await seedOrders(pg.url);
  work = mkdtempSync(join(tmpdir(), 'spanstat-recs-state-'));
  ports = [await freePort(), await freePort()];
  webhook = await startAlertWebhook();
  alertmanager = await startAlertmanager({
    config: testAlertmanagerConfig(readFileSync(join(CONFIG, 'alertmanager.yml'), 'utf8'), webhook.url),
  });
  prometheus = await startPrometheus({
    config: testPrometheusConfig({
      targets: ports.map((p) => `127.0.0.1:${p}`),
      ruleFiles: ['alerts.yml'],
      alertmanager: `127.0.0.1:${alertmanager.port}`,
    }),
    files: { 'alerts.yml': fastAlertRules(readFileSync(join(CONFIG, 'alerts.yml'), 'utf8')) },
  });
}, 120_000);

afterAll(async () => {
  await Promise.all(running.map((r) => r.stop()));
  await prometheus?.stop();
  await alertmanager?.stop();
  await webhook?.close();
  await Promise.all([pg?.stop(), redis?.stop()]);
  if (work) rmSync(work, { recursive: true, force: true });
}, 60_000);

async function sidecar(stateFile: string, apiPort: number): Promise<SidecarProcess> {
  const started = await startSidecarProcess({
    args: ['--state-file', stateFile],
    apiPort,
    env: { SPANSTAT_ADVISOR_INTERVAL_SECONDS: '1', SPANSTAT_ASSEMBLY_IDLE_MS: '3000' },
  });
  running.push(started.child);
  return started;
}

async function activeNPlusOne(s: SidecarProcess): Promise<Recommendation[]> {
  const body = await getJson<{ recommendations: Recommendation[] }>(
    `${s.apiUrl}/api/v1/recommendations?service=${SERVICE}&kind=n-plus-one&state=active`,
  );
  return body.recommendations;
}

/** Prometheus's SpanstatRecommendation alerts about `id`. */
async function alertsAbout(id: string) {
  const alerts = await promAlerts(prometheus?.url ?? '');
  return alerts.filter((a) => a.labels.alertname === 'SpanstatRecommendation' && a.labels.id === id);
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('recommendations across a sidecar rollout (state.file)', () => {
  it('are served at once by the new sidecar, and their alert neither resolves nor fires anew', async () => {
    const stateFile = join(work, 'state.json');
    const first = await sidecar(stateFile, ports[0]);
    // The N+1 release: each order's 10 items read one by one.
    const app = await startApp({
      script: 'orders-app.js',
      dir: APP_DIR,
      env: {
        PG_URL: pg.url,
        REDIS_URL: redis.url,
        OTEL_EXPORTER_OTLP_ENDPOINT: first.receiverUrl,
        OTEL_BSP_SCHEDULE_DELAY: '100',
        ITEMS_LOOP: '1',
      },
    });
    running.push(app);
    for (let i = 0; i < 20; i++) expect(await app.get(`/orders/${1 + (i % 5)}`)).toBe(200);
    const [raised] = await waitFor('the N+1 recommendation', async () => {
      const list = await activeNPlusOne(first);
      return list.length > 0 ? list : undefined;
    });
    await app.stop();
    const firing = await waitFor('its alert firing and notified', async () => {
      const [alert] = await alertsAbout(raised.id);
      const notified = webhook?.received.some((a) => a.labels.id === raised.id && a.status === 'firing');
      return alert?.state === 'firing' && notified ? alert : undefined;
    });
    expect(firing.labels.instance).toBeUndefined();
    expect(firing.annotations.description).toBe(
      `${raised.title} (evidence: http://localhost:9464/api/v1/recommendations?service=${SERVICE}&kind=n-plus-one)`,
    );

    // The rollout: SIGTERM (the state file is written after the drain), then the new pod's sidecar.
    await first.child.stop();
    expect(first.child.process.exitCode, first.child.tail()).toBe(0);
    const saved = readFileSync(stateFile, 'utf8');
    expect(JSON.parse(saved)).toMatchObject({
      formatVersion: 2,
      recommendations: { entries: [expect.objectContaining({ id: raised.id, state: 'active' })] },
    });
    for (const secret of [SECRET_REFERENCE, SECRET_CUSTOMER]) expect(saved).not.toContain(secret);
    const second = await sidecar(stateFile, ports[1]);

    // At once, with no span received: the same id, kind, target and first-seen time, on the API and /metrics.
    const [restored] = await activeNPlusOne(second);
    expect(restored).toMatchObject({
      id: raised.id,
      kind: 'n-plus-one',
      severity: raised.severity,
      target: raised.target,
      firstSeenMs: raised.firstSeenMs,
      state: 'active',
    });
    const metrics = await (await fetch(`${second.apiUrl}/metrics`)).text();
    expect(metrics).toMatch(
      new RegExp(`^spanstat_recommendation_active\\{[^}]*id="${raised.id}"[^}]*\\} 1$`, 'm'),
    );
    expect(second.child.tail()).toContain(`1 active recommendations restored from ${stateFile}`);
    const advise = spawnSync(process.execPath, [CLI_PATH, 'advise', '--api', second.apiUrl], {
      encoding: 'utf8',
    });
    expect(advise.status, advise.stderr).toBe(0);
    expect(advise.stdout).toContain(raised.id.slice(0, 8));
    expect(advise.stdout).toContain(raised.title);

    // Prometheus reads it from the new instance; the alert is the one that fired before the rollout.
    await waitFor('the new sidecar scraped with the recommendation', async () => {
      const series = await promQuery(
        prometheus?.url ?? '',
        `spanstat_recommendation_active{id="${raised.id}",instance="127.0.0.1:${ports[1]}"}`,
      );
      return series.length > 0 ? series : undefined;
    });
    // Rule evaluations (every second) and Alertmanager's flushes (every second) after it.
    await delay(5_000);
    const after = await alertsAbout(raised.id);
    expect(after.map((a) => [a.state, a.activeAt])).toEqual([['firing', firing.activeAt]]);
    const notices = (webhook?.received ?? [])
      .filter((a) => a.labels.alertname === 'SpanstatRecommendation' && a.labels.id === raised.id)
      .map((a) => a.status);
    expect(notices).not.toContain('resolved');
    await second.child.stop();
  }, 120_000);
});
