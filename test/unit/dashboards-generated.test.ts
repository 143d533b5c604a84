import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { dashboardQueries, renderDashboards } from '../../grafana/generator';
import { DASHBOARD_DIR, staleDashboards } from '../../scripts/generate-dashboards';
import { DASHBOARDS } from '../../src/metrics';

interface Panel {
  type: string;
  title: string;
  datasource?: { uid?: string };
  targets?: { expr?: string; refId?: string }[];
}

describe('Grafana dashboards', () => {
  it('committed JSON matches what scripts/generate-dashboards.ts produces', () => {
    // On failure: npx tsx scripts/generate-dashboards.ts
    expect(staleDashboards()).toEqual([]);
  });

  it('reports a dashboard as stale when its committed text differs', () => {
    const [name, text] = [...renderDashboards()][0];
    expect(readFileSync(join(DASHBOARD_DIR, name), 'utf8')).toBe(text);
    expect(staleDashboards('/nonexistent-dir')).toEqual([...renderDashboards().keys()]);
  });

  it('has one dashboard per entry of DASHBOARDS, with its uid and title', () => {
    const rendered = renderDashboards();
    expect(rendered.size).toBe(Object.keys(DASHBOARDS).length);
    for (const [key, { uid, title }] of Object.entries(DASHBOARDS)) {
      const doc = JSON.parse(rendered.get(`spanstat-${key}.json`) ?? '{}');
      expect(doc.uid).toBe(uid);
      expect(doc.title).toBe(title);
      expect(doc.tags).toContain('spanstat');
    }
  });

  it('gives every panel a query on the dashboard datasource, filtered by the service variable', () => {
    for (const [file, json] of renderDashboards()) {
      const doc = JSON.parse(json) as { panels: Panel[]; templating: { list: { name: string }[] } };
      expect(doc.templating.list.map((v) => v.name)).toEqual(['datasource', 'service']);
      const panels = doc.panels.filter((p) => p.type !== 'row');
      expect(panels.length, file).toBeGreaterThan(2);
      for (const panel of panels) {
        // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax.
        expect(panel.datasource?.uid, `${file} ${panel.title}`).toBe('${datasource}');
        expect(panel.targets?.length, `${file} ${panel.title}`).toBeGreaterThan(0);
      }
      const exprs = dashboardQueries(json).filter((q) => !q.panel.startsWith('$'));
      // The sidecar's own health and the advisor database's lock samples belong to no one service.
      const unfilteredPanels = new Set([
        'Spans/s',
        'Queue depth',
        'Memory',
        'Sessions waiting on locks',
        'Longest idle in transaction',
      ]);
      for (const { panel, expr } of exprs) {
        if (unfilteredPanels.has(panel)) continue;
        expect(expr, `${file} ${panel}`).toContain('service=~"$service"');
      }
    }
  });

  it('names the service in every time-series legend that shows more than the service-wide total', () => {
    // A collector serves many services: two services' rows with the same route or statement must not
    // read alike. Legends naming a route, statement, namespace or operation name the service too.
    for (const [file, json] of renderDashboards()) {
      const doc = JSON.parse(json) as { panels: (Panel & { targets?: { legendFormat?: string }[] })[] };
      for (const panel of doc.panels)
        for (const target of panel.targets ?? []) {
          const legend = target.legendFormat ?? '';
          if (/\{\{(route|statement|namespace|fingerprint|operation)\}\}/.test(legend))
            expect(legend, `${file} ${panel.title}`).toContain('{{service}}');
        }
    }
  });

  it('shows each pool of a service apart: pool queries group by pool, and their legends name it', () => {
    const poolMetrics = /spanstat_db_pool_/;
    let pools = 0;
    for (const [file, json] of renderDashboards()) {
      const doc = JSON.parse(json) as {
        panels: (Panel & { targets?: { expr?: string; legendFormat?: string }[] })[];
      };
      for (const panel of doc.panels)
        for (const target of panel.targets ?? []) {
          if (!poolMetrics.test(target.expr ?? '')) continue;
          pools++;
          for (const by of (target.expr ?? '').matchAll(/\bby \(([^)]*)\)/g))
            expect(by[1].split(/,\s*/), `${file} ${panel.title}: ${target.expr}`).toContain('pool');
          expect(target.legendFormat, `${file} ${panel.title}`).toContain('{{pool}}');
        }
    }
    expect(pools).toBeGreaterThanOrEqual(4);
  });

  it('provisioning loads the generated files from the path docker-compose mounts them at', () => {
    const root = join(__dirname, '..', '..');
    const provider = parse(readFileSync(join(root, 'grafana/provisioning/dashboards/spanstat.yml'), 'utf8'));
    const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'));
    const path = provider.providers[0].options.path as string;
    expect(compose.services.grafana.volumes).toContain(`./grafana/dashboards:${path}:ro`);
    const datasource = parse(
      readFileSync(join(root, 'grafana/provisioning/datasources/prometheus.yml'), 'utf8'),
    );
    expect(datasource.datasources[0]).toMatchObject({
      type: 'prometheus',
      url: 'http://prometheus:9090',
      isDefault: true,
    });
  });
});
