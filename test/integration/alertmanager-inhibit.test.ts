import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ensurePromToolsInstalled,
  type PromServer,
  startAlertmanager,
  testAlertmanagerConfig,
} from '../../scripts/lib/prom-servers';

// The shipped Alertmanager config's inhibit rule, in a real Alertmanager: a critical alert holds back
// the warning about the same thing, and nothing else.
const CONFIG = join(__dirname, '..', '..', 'config');
let alertmanager: PromServer;

beforeAll(async () => {
  ensurePromToolsInstalled();
  alertmanager = await startAlertmanager({
    config: testAlertmanagerConfig(
      readFileSync(join(CONFIG, 'alertmanager.yml'), 'utf8'),
      'http://127.0.0.1:9/unused',
    ),
  });
}, 60_000);

afterAll(async () => {
  await alertmanager?.stop();
});

interface AmAlert {
  labels: Record<string, string>;
  status: { state: string };
}

describe('the shipped inhibit rule', () => {
  it('holds back a warning behind the critical alert about the same thing, and no other warning', async () => {
    const base = `http://127.0.0.1:${alertmanager.port}/api/v2/alerts`;
    const alert = (labels: Record<string, string>) => ({ labels: { service: 'shop', ...labels } });
    const posted = await fetch(base, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([
        alert({ alertname: 'SpanstatRecommendation', id: 'endpoint-errors:1', severity: 'critical' }),
        // The same recommendation at warning, as another pod's sidecar sees it (the alert has no instance).
        alert({ alertname: 'SpanstatRecommendation', id: 'endpoint-errors:1', severity: 'warning' }),
        alert({ alertname: 'SpanstatRecommendation', id: 'missing-index:2', severity: 'warning' }),
        alert({ alertname: 'SpanstatCacheHitRateLow', namespace: 'user:*', severity: 'critical' }),
        alert({ alertname: 'SpanstatCacheHitRateLow', namespace: 'user:*', severity: 'warning' }),
      ]),
    });
    expect(posted.status).toBe(200);
    const stateOf = async (match: Record<string, string>) => {
      const alerts = (await (await fetch(base)).json()) as AmAlert[];
      const found = alerts.find((a) => Object.entries(match).every(([k, v]) => a.labels[k] === v));
      return found?.status.state;
    };
    // Inhibition is computed as alerts are listed; give Alertmanager a moment to take them in.
    const deadline = Date.now() + 10_000;
    while ((await stateOf({ namespace: 'user:*', severity: 'warning' })) !== 'suppressed') {
      if (Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(await stateOf({ namespace: 'user:*', severity: 'warning' })).toBe('suppressed');
    expect(await stateOf({ id: 'endpoint-errors:1', severity: 'warning' })).toBe('suppressed');
    // The CREATE INDEX advice is another recommendation: it must reach the receivers.
    expect(await stateOf({ id: 'missing-index:2' })).toBe('active');
  });
});
