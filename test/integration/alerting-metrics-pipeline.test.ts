/**
 * The metrics exporter, the alert rules, the dashboards and the Alertmanager config together, with
 * the real Prometheus and Alertmanager: an in-process /metrics fed with spans that carry each seeded
 * problem is scraped every second; the shipped rules (with `for:` cut to 0s) must fire and reach a
 * webhook with their annotations, and every dashboard query must return data.
 */

import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dashboardQueries, renderDashboards } from '../../grafana/generator';
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
import { createSpanstatMetrics, SPANSTAT_BASE_URL, type SpanstatMetrics } from '../../src/metrics';
import type { RequestSummary } from '../../src/model/request-summary';
import { type AlertWebhook, listen, startAlertWebhook, waitFor } from '../helpers/alerting';

const CONFIG = join(__dirname, '..', '..', 'config');
const base = { traceId: 't', spanId: 's', parentSpanId: '', startMs: 0, error: false };
const ACTION =
  'Batch the item lookups: SELECT … WHERE order_id = ANY($1). One query instead of one per order.';
const TITLE = 'N+1 in GET /api/customers/:id/recent-orders: 10 queries per request';

let metrics: SpanstatMetrics;
let metricsServer: Server;
let webhook: AlertWebhook;
let prometheus: PromServer | undefined;
let alertmanager: PromServer | undefined;
let feeder: NodeJS.Timeout;
let refused = 0;

function request(over: Partial<RequestSummary>): RequestSummary {
  return {
    service: 'shop',
    traceId: 't',
    method: 'GET',
    route: '/api/customers/:id',
    status: 200,
    error: false,
    durationMs: 5,
    dbMs: 2,
    cacheMs: 0,
    poolWaitMs: 0,
    queries: 1,
    cacheOps: 0,
    fingerprints: [{ fingerprint: 'fp_customer', calls: 1, totalMs: 2 }],
    namespaces: [],
    ...over,
  };
}

/** One tick (100 ms) of traffic with every seeded problem in it. */
function feed(m: SpanstatMetrics, tick: number): void {
  const db = (fingerprint: string, statement: string, durationMs: number) =>
    m.recordDbCall({
      ...base,
      type: 'db',
      service: 'shop',
      system: 'postgresql',
      fingerprint,
      statement,
      operation: 'SELECT',
      table: 'orders',
      durationMs,
    });
  // Unindexed filter: 150 ms per call → slow query (p95 > 100 ms).
  db('fp_by_ref', 'SELECT id, customer_id FROM orders WHERE reference = $1', 150);
  db('fp_customer', 'SELECT id, name FROM customers WHERE id = $1', 1);
  for (let i = 0; i < 10; i++) db('fp_items', 'SELECT product_id FROM order_items WHERE order_id = $1', 2);
  m.recordRequest(request({}));
  // N+1, and slow enough to break the 200 ms SLO.
  m.recordRequest(
    request({
      route: '/api/customers/:id/recent-orders',
      durationMs: 260,
      dbMs: 40,
      queries: 11,
      fingerprints: [{ fingerprint: 'fp_items', calls: 10, totalMs: 20 }],
    }),
  );
  // Every fifth invoice fails.
  m.recordRequest(request({ route: '/api/orders/:id/invoice', status: tick % 5 === 0 ? 500 : 200 }));
  // quote:* hits 1 key in 5 (20%: critical), product:* 9 in 10.
  const read = (namespace: string, hits: number, misses: number) =>
    m.recordCacheCall({
      ...base,
      type: 'cache',
      service: 'shop',
      system: 'redis',
      command: 'get',
      namespace,
      read: true,
      write: false,
      hits,
      misses,
      durationMs: 0.3,
    });
  for (let i = 0; i < 5; i++) read('quote:*', i === 0 ? 1 : 0, i === 0 ? 0 : 1);
  for (let i = 0; i < 10; i++) read('product:*', i === 0 ? 0 : 1, i === 0 ? 1 : 0);
  const set = (namespace: string, ttlSeconds?: number) =>
    m.recordCacheCall({
      ...base,
      type: 'cache',
      service: 'shop',
      system: 'redis',
      command: 'set',
      namespace,
      read: false,
      write: true,
      hits: 0,
      misses: 0,
      ttlSeconds,
      durationMs: 0.2,
    });
  set('quote:*');
  // session:* written with a plain SET (no expiry), nothing expiring or deleting it.
  set('session:*', -1);
  m.recordPoolConnect({
    ...base,
    type: 'pool-connect',
    service: 'shop',
    system: 'postgresql',
    pool: 'db:5432/shop',
    durationMs: 8,
    poolInUse: 10,
    poolMax: 10,
  });
  // The preload's 5-s usage sample: the pool full, checkouts queued behind it.
  m.recordPoolUsage({
    ...base,
    type: 'pool-usage',
    service: 'shop',
    system: 'postgresql',
    pool: 'db:5432/shop',
    poolInUse: 10,
    poolMax: 10,
    poolWaiting: 4,
    durationMs: 0,
  });
  refused += 5;
}

beforeAll(async () => {
  ensurePromToolsInstalled();
  metrics = createSpanstatMetrics({
    maxSeriesPerMetric: 2000,
    maxStatementChars: 200,
    nPlusOneMinCalls: 5,
    version: 'test',
  });
  metrics.setRecommendations(() => [
    {
      service: 'shop',
      id: 'rec-n1',
      kind: 'n-plus-one',
      severity: 'warning',
      target: 'GET /api/customers/:id/recent-orders',
      title: TITLE,
      action: ACTION,
    },
  ]);
  metrics.setHealth(() => ({
    spansReceived: refused * 10,
    spansRejected: 0,
    requestsRefused: { overloaded: refused, too_large: 0, unsupported_media: 0 },
    spansDropped: 0,
    decodeErrors: 0,
    queueDepth: 3,
    openTraces: 7,
    forwardedSpans: { sent: refused * 10, dropped: 0, rejected: 0 },
  }));
  metrics.setPreloadSpansLost(() => new Map([['shop', 0]]));
  // A version that appeared with this scrape history: the dashboards' Deploys annotation marks it.
  metrics.setServiceVersions(() => [{ service: 'shop', version: '1.4.2' }]);
  // A lock sampler's counts (the sidecar feeds them from PgLockSampler), growing as the scrapes go.
  metrics.setLockActivity(() => ({
    lockWaitSeconds: refused * 0.5,
    idleInTransactionSeconds: 12,
    samples: refused + 1,
  }));
  metricsServer = createServer((_req, res) => {
    metrics.scrape().then((text) => res.end(text));
  });
  const metricsPort = await listen(metricsServer);
  webhook = await startAlertWebhook();
  let tick = 0;
  feed(metrics, tick++);
  feeder = setInterval(() => feed(metrics, tick++), 100);

  alertmanager = await startAlertmanager({
    config: testAlertmanagerConfig(readFileSync(join(CONFIG, 'alertmanager.yml'), 'utf8'), webhook.url),
  });
  prometheus = await startPrometheus({
    config: testPrometheusConfig({
      targets: [`127.0.0.1:${metricsPort}`],
      ruleFiles: ['alerts.yml'],
      alertmanager: `127.0.0.1:${alertmanager.port}`,
    }),
    files: { 'alerts.yml': fastAlertRules(readFileSync(join(CONFIG, 'alerts.yml'), 'utf8')) },
  });
});

afterAll(async () => {
  clearInterval(feeder);
  await prometheus?.stop();
  await alertmanager?.stop();
  await webhook?.close();
  await new Promise((r) => metricsServer?.close(r));
  await metrics?.shutdown();
});

const EXPECTED = [
  'SpanstatSlowQuery',
  'SpanstatNPlusOne',
  'SpanstatPoolSaturated',
  'SpanstatCacheHitRateLow',
  'SpanstatCacheKeysWithoutExpiry',
  'SpanstatEndpointSlow',
  'SpanstatEndpointErrors',
  'SpanstatRecommendation',
  'SpanstatOtlpRefused',
];

describe('alerting on spanstat metrics with real Prometheus and Alertmanager', () => {
  it('Prometheus scrapes the exporter without errors', async () => {
    const up = await waitFor('a successful scrape', async () => {
      const r = await promQuery(prometheus?.url ?? '', 'up{job="spanstat"}');
      return r[0]?.value[1] === '1' ? r : undefined;
    });
    expect(up).toHaveLength(1);
    const series = await promQuery(prometheus?.url ?? '', 'count({__name__=~"spanstat_.+"})');
    expect(Number(series[0].value[1])).toBeGreaterThan(50);
  });

  it('fires every rule whose problem the traffic carries, and no other', async () => {
    const firing = await waitFor('the seeded alerts to fire', async () => {
      const alerts = (await promAlerts(prometheus?.url ?? '')).filter((a) => a.state === 'firing');
      const names = new Set(alerts.map((a) => a.labels.alertname));
      return EXPECTED.every((n) => names.has(n)) ? alerts : undefined;
    });
    const names = [...new Set(firing.map((a) => a.labels.alertname))].sort();
    expect(names).toEqual([...EXPECTED].sort());
    const cache = firing.filter((a) => a.labels.alertname === 'SpanstatCacheHitRateLow');
    expect(cache.map((a) => [a.labels.namespace, a.labels.severity])).toEqual([['quote:*', 'critical']]);
    const noExpiry = firing.filter((a) => a.labels.alertname === 'SpanstatCacheKeysWithoutExpiry');
    expect(noExpiry.map((a) => [a.labels.namespace, a.labels.severity])).toEqual([['session:*', 'warning']]);
    const slow = firing.find((a) => a.labels.alertname === 'SpanstatSlowQuery');
    expect(slow?.labels).toMatchObject({ fingerprint: 'fp_by_ref', severity: 'warning' });
    expect(slow?.annotations.summary).toBe(
      'Slow query in shop: SELECT id, customer_id FROM orders WHERE reference = $1',
    );
    const slowRoutes = firing
      .filter((a) => a.labels.alertname === 'SpanstatEndpointSlow')
      .map((a) => a.labels.route);
    expect(slowRoutes).toEqual(['/api/customers/:id/recent-orders']);
  });

  it('Alertmanager delivers the notifications to the webhook with the recommendation text', async () => {
    const delivered = await waitFor('webhook deliveries', async () => {
      const names = new Set(webhook.received.map((a) => a.labels.alertname));
      return EXPECTED.every((n) => names.has(n)) ? webhook.received : undefined;
    });
    const rec = delivered.find((a) => a.labels.alertname === 'SpanstatRecommendation');
    expect(rec?.status).toBe('firing');
    expect(rec?.labels).toMatchObject({
      kind: 'n-plus-one',
      severity: 'warning',
      target: 'GET /api/customers/:id/recent-orders',
    });
    expect(rec?.annotations.action).toBe(ACTION);
    expect(rec?.annotations.description).toBe(
      `${TITLE} (evidence: ${SPANSTAT_BASE_URL}/api/v1/recommendations?service=shop&kind=n-plus-one)`,
    );
    expect(rec?.annotations.dashboard).toBe(
      'http://localhost:3000/d/spanstat-recommendations?var-service=shop',
    );
    const n1 = delivered.find((a) => a.labels.alertname === 'SpanstatNPlusOne');
    expect(n1?.annotations.summary).toBe(
      'N+1 queries on GET /api/customers/:id/recent-orders (shop): SELECT product_id FROM order_items WHERE order_id = $1',
    );
    expect(n1?.annotations.action).toContain('= ANY($1)');
  });

  it('every dashboard query returns at least one series', async () => {
    const empty: string[] = [];
    let checked = 0;
    for (const [file, json] of renderDashboards()) {
      for (const { panel, expr } of dashboardQueries(json)) {
        if (panel.startsWith('$')) continue; // variables: label_values() is Grafana syntax, not PromQL
        const promql = expr
          .replaceAll('$service', '.*')
          .replaceAll('$__rate_interval', '10s')
          .replaceAll('$__range', '1m');
        const result = await promQuery(prometheus?.url ?? '', promql);
        checked++;
        if (result.length === 0) empty.push(`${file} / ${panel}: ${expr}`);
      }
    }
    expect(checked).toBeGreaterThan(30);
    expect(empty).toEqual([]);
  });

  it("the queries-per-request panel's p95 reads whole counts: 1 for a one-query route, 11 within its bucket", async () => {
    const json = renderDashboards().get('spanstat-endpoints.json') ?? '';
    const p95 = dashboardQueries(json).find(
      (q) => q.panel === 'Queries per request' && q.expr.includes('0.95'),
    );
    const promql = (p95?.expr ?? '').replaceAll('$service', '.*').replaceAll('$__rate_interval', '10s');
    const byRoute = new Map(
      (await promQuery(prometheus?.url ?? '', promql)).map((s) => [s.metric.route, Number(s.value[1])]),
    );
    // histogram_quantile alone read 0.95 and 19.5 (buckets 0–1 and 10–20 before).
    expect(byRoute.get('/api/customers/:id')).toBe(1);
    expect(byRoute.get('/api/orders/:id/invoice')).toBe(1);
    const nPlusOne = byRoute.get('/api/customers/:id/recent-orders') ?? 0;
    expect(nPlusOne).toBeGreaterThanOrEqual(11);
    expect(nPlusOne).toBeLessThanOrEqual(15);
  });
});
