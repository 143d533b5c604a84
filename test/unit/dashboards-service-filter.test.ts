import { describe, expect, it } from 'vitest';
import { dashboardQueries, renderDashboards } from '../../grafana/generator';
import { METRICS } from '../../src/metrics';

/**
 * Names (histograms with their _bucket/_sum/_count series) of the metrics that carry a service label;
 * not the statement info metric, which is only joined `on (service, fingerprint)` to filtered series.
 */
const PER_SERVICE = Object.values(METRICS)
  .filter((m) => (m.labels as readonly string[]).includes('service') && m !== METRICS.dbQueryInfo)
  .flatMap((m) =>
    m.type === 'histogram' ? [`${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`] : [m.name],
  );

describe('Grafana dashboards in collector mode', () => {
  it('filter every selector of a per-service metric by the $service variable', () => {
    const unfiltered: string[] = [];
    for (const [name, json] of renderDashboards()) {
      for (const { panel, expr } of dashboardQueries(json)) {
        if (panel.startsWith('$')) continue; // the variable's own definition lists every service
        for (const metric of PER_SERVICE) {
          const selectors = expr.match(new RegExp(`\\b${metric}\\b(\\{[^}]*\\})?`, 'g')) ?? [];
          for (const s of selectors)
            if (!s.includes('service=~"$service"')) unfiltered.push(`${name} ${panel}: ${s}`);
        }
      }
    }
    expect(unfiltered).toEqual([]);
  });
});
