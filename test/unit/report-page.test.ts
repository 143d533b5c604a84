import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { renderReportPage } from '../../src/api/report-page';

interface FakeElement {
  innerHTML: string;
  textContent: string;
  value: string;
  onchange?: () => void;
}

/**
 * Runs the page's script against a fake document and a fetch that answers from `answers` (path
 * prefix → [status, body]; an Error is a network failure), and returns the sections' HTML. `values`
 * presets form fields (`service`), `fetched` collects the paths the page asked for.
 */
async function renderWith(
  answers: Record<string, [number, unknown] | Error>,
  values: Record<string, string> = {},
  fetched: string[] = [],
): Promise<Record<string, string>> {
  const script = /<script>([\s\S]*)<\/script>/.exec(renderReportPage())?.[1];
  if (script === undefined) throw new Error('no script in the page');
  const elements = new Map<string, FakeElement>();
  const document = {
    getElementById(id: string): FakeElement {
      let el = elements.get(id);
      if (!el) {
        el = { innerHTML: '', textContent: '', value: values[id] ?? (id === 'window' ? 'all' : '') };
        elements.set(id, el);
      }
      return el;
    },
  };
  const fetch = async (path: string) => {
    fetched.push(path);
    const key = Object.keys(answers).find((prefix) => path.startsWith(prefix));
    const answer = key === undefined ? new Error(`unexpected ${path}`) : answers[key];
    if (answer instanceof Error) throw answer;
    return { ok: answer[0] < 400, status: answer[0], json: async () => answer[1] };
  };
  runInNewContext(script, {
    document,
    fetch,
    setInterval: () => 0,
    Date,
    Promise,
    Object,
    String,
    Number,
    encodeURIComponent,
  });
  // refresh() awaits its fetches: let them settle.
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
  return Object.fromEntries([...elements].map(([id, el]) => [id, el.innerHTML || el.textContent]));
}

const emptyReport: [number, unknown] = [200, { rows: [], totalRows: 0 }];

describe('report page', () => {
  it('shows an API error as the error, not as an empty report', async () => {
    const html = await renderWith({
      '/api/v1/reports/endpoints': [
        400,
        { error: { code: 'SPANSTAT_ERR_API_BAD_PARAM', message: "bad 'window'" } },
      ],
      '/api/v1/reports/queries': new Error('connection refused'),
      '/api/v1/reports/': emptyReport,
      '/api/v1/recommendations': [
        200,
        { recommendations: [], advisor: { lastEvaluatedMs: null, intervalSeconds: 30 } },
      ],
      '/healthz': [200, {}],
    });
    expect(html.endpoints).toContain("400 bad 'window'");
    expect(html.queries).toContain('sidecar unreachable');
    expect(html.queries).toContain('connection refused');
    expect(html.cache).toContain('no data yet');
    expect(html.recommendations).toContain('the advisor has not evaluated yet (every 30 s)');
  });

  it('lists the services the sidecar has data from, and shows only the one chosen', async () => {
    const answers: Record<string, [number, unknown]> = {
      '/api/v1/reports/': emptyReport,
      '/api/v1/recommendations': [200, { recommendations: [] }],
      '/api/v1/deploys': [200, { services: [] }],
      '/healthz': [200, { services: ['shop', 'billing <eu>'] }],
    };
    const all: string[] = [];
    const html = await renderWith(answers, {}, all);
    expect(html.service).toBe(
      '<option value="">all</option><option value="billing &lt;eu&gt;">billing &lt;eu&gt;</option>' +
        '<option value="shop">shop</option>',
    );
    expect(all.filter((path) => path.includes('service='))).toEqual([]);

    const one: string[] = [];
    const chosen = await renderWith(answers, { service: 'billing <eu>' }, one);
    expect(chosen.service).toContain('<option selected value="billing &lt;eu&gt;">');
    const filtered = one.filter((path) => path !== '/healthz');
    expect(filtered).toHaveLength(7);
    for (const path of filtered) expect(path).toMatch(/[?&]service=billing%20%3Ceu%3E(&|$)/);
  });

  it("shows where each service's time goes, its job runs on a row of their own", async () => {
    const row = (kind: string, requests: number, dbShare: number, otherShare: number) => ({
      service: 'shop',
      kind,
      requests,
      errorRate: 0,
      p50Ms: 4,
      p95Ms: 12,
      p99Ms: 20,
      dbShare,
      cacheShare: 0.05,
      poolWaitShare: 0,
      otherShare,
      queriesPerRequest: 2.5,
    });
    const html = await renderWith({
      '/api/v1/reports/services': [
        200,
        { rows: [row('requests', 120, 0.62, 0.33), row('jobs', 4, 0.9, 0.05)], totalRows: 2 },
      ],
      '/api/v1/reports/': emptyReport,
      '/api/v1/recommendations': [200, { recommendations: [] }],
      '/healthz': [200, { services: ['shop'] }],
    });
    expect(html.services).toContain('<td class="text">shop</td><td class="">120</td>');
    expect(html.services).toContain('shop <span class="muted">(jobs)</span>');
    expect(html.services).toContain(
      '<td class="">62.0%</td><td class="">5.0%</td><td class="">–</td><td class="">33.0%</td>',
    );
  });

  it('says at its top which services are traced twice, by the preload and their own SDK', async () => {
    const html = await renderWith({
      '/api/v1/reports/': emptyReport,
      '/api/v1/recommendations': [200, { recommendations: [] }],
      '/healthz': [200, { doubleTraced: { shop: { processes: 2, spansSetAside: 40 } } }],
    });
    expect(html.twice).toContain('Traced twice, by the spanstat preload and the app’s own OpenTelemetry SDK');
    expect(html.twice).toContain('shop (2 processes)');
    expect(html.twice).toContain('drop one of the two');
  });

  it("lists each service's versions, marking the current one and the one it is compared with", async () => {
    const v = (version: string, deployedAtMs: number) => ({
      version,
      firstSeenMs: deployedAtMs,
      lastSeenMs: deployedAtMs + 1,
      requests: 40,
      deployedAtMs,
    });
    const shop = {
      service: 'shop',
      currentVersion: '1.4.2',
      baselineVersion: '1.4.1',
      versions: [v('1.4.2', 2), v('1.4.1', 1)],
    };
    const html = await renderWith({
      '/api/v1/reports/': emptyReport,
      '/api/v1/recommendations': [200, { recommendations: [] }],
      '/healthz': [200, {}],
      '/api/v1/deploys': [200, { nowMs: 3, services: [shop] }],
    });
    expect(html.deploys).toContain('1.4.2 <span class="muted">(current)</span>');
    expect(html.deploys).toContain('1.4.1 <span class="muted">(compared with)</span>');
    const none = await renderWith({
      '/api/v1/reports/': emptyReport,
      '/api/v1/recommendations': [200, { recommendations: [] }],
      '/healthz': [200, {}],
      '/api/v1/deploys': [200, { nowMs: 3, services: [] }],
    });
    expect(none.deploys).toContain('no service.version seen yet');
  });

  it('renders pools and says how many rows the page leaves out', async () => {
    const pool = {
      service: 'shop',
      system: 'postgresql',
      pool: 'db-replica:5432/shop',
      connects: 12,
      p95WaitMs: 3.5,
      maxInUse: 9,
      poolMax: 10,
      maxInUseRatio: 0.9,
    };
    const html = await renderWith({
      '/api/v1/reports/pools': [200, { rows: [pool], totalRows: 1 }],
      '/api/v1/reports/queries': [200, { rows: [{ statement: 'SELECT $1', calls: 3 }], totalRows: 120 }],
      '/api/v1/reports/': emptyReport,
      '/api/v1/recommendations': [
        200,
        { recommendations: [], advisor: { lastEvaluatedMs: 1, window: '5m' } },
      ],
      '/healthz': [200, {}],
    });
    expect(html.pools).toContain('shop postgresql db-replica:5432/shop');
    expect(html.pools).toContain('90.0%');
    expect(html.queries).toContain('1 of 120 rows');
    expect(html.recommendations).toContain('nothing over its threshold in the 5m window');
  });

  it('names the service of each statement and recommendation (a collector serves many)', async () => {
    const rec = { severity: 'warning', service: 'billing', title: 'Slow query', action: 'add an index' };
    const html = await renderWith({
      '/api/v1/reports/queries': [
        200,
        { rows: [{ service: 'orders', statement: 'SELECT $1', calls: 3 }], totalRows: 1 },
      ],
      '/api/v1/reports/': emptyReport,
      '/api/v1/recommendations': [200, { recommendations: [rec], advisor: { lastEvaluatedMs: 1 } }],
      '/healthz': [200, {}],
    });
    expect(html.queries).toContain('>orders<');
    expect(html.recommendations).toContain('>billing<');
  });

  it("says what keeps the advice incomplete: a failed evaluation, lock sampling's role or failures", async () => {
    const advisor = {
      lastEvaluatedMs: 1,
      window: '15m',
      lastError: 'index inspection timed out',
      lockSampling: { readAllStats: false, lastError: 'connect ECONNREFUSED 127.0.0.1:5432' },
    };
    /** The page with no recommendation, the advisor's status as given. */
    const withAdvisor = (status: Record<string, unknown>) =>
      renderWith({
        '/api/v1/reports/': emptyReport,
        '/api/v1/recommendations': [200, { recommendations: [], advisor: status }],
        '/healthz': [200, {}],
      });
    const html = await withAdvisor(advisor);
    expect(html.recommendations).toContain(
      "note: the advisor's last evaluation failed: index inspection timed out",
    );
    expect(html.recommendations).toContain(
      "note: lock sampling: the advisor's role cannot read other roles'",
    );
    expect(html.recommendations).toContain('GRANT pg_monitor');
    expect(html.recommendations).toContain('note: lock sampling failed: connect ECONNREFUSED 127.0.0.1:5432');

    const quiet = await withAdvisor({
      lastEvaluatedMs: 1,
      window: '15m',
      lastError: null,
      lockSampling: { readAllStats: true, lastError: null },
    });
    expect(quiet.recommendations).not.toContain('note:');

    // Several databases (advisor.databases): each sampler's notes name its database.
    const several = await withAdvisor({
      lastEvaluatedMs: 1,
      window: '15m',
      lastError: null,
      lockSampling: { readAllStats: false, lastError: null },
      databases: [
        { database: 'billing@db2:5432', lockSampling: { readAllStats: false, lastError: null } },
        { database: 'shop@db1:5432', lockSampling: { readAllStats: true, lastError: 'timeout' } },
      ],
    });
    expect(several.recommendations).toContain("note: lock sampling (billing@db2:5432): the advisor's role");
    expect(several.recommendations).toContain('note: lock sampling (shop@db1:5432) failed: timeout');
    expect(several.recommendations).not.toContain('note: lock sampling (shop@db1:5432): ');
  });
});
