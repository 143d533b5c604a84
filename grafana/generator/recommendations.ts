import type { DashboardBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { dashboard, stat, table, timeseries } from './panels';
import { M, SVC } from './promql';

const LABELS = 'service, severity, kind, target, action, id';

/** The advisor's active recommendations (spanstat_recommendation_active). */
export function recommendations(): DashboardBuilder {
  return dashboard(
    'recommendations',
    'Active recommendations of the spanstat advisor; details in `spanstat advise`.',
  )
    .withPanel(
      stat(
        'Active recommendations',
        { expr: `count(${M.recommendation}{${SVC}}) or vector(0)` },
        { unit: 'none', width: 8 },
      ),
    )
    .withPanel(
      timeseries(
        'Active by kind',
        [{ expr: `count by (kind) (${M.recommendation}{${SVC}})`, legend: '{{kind}}' }],
        {
          unit: 'none',
          width: 16,
          height: 4,
        },
      ),
    )
    .withPanel(
      table(
        'Active recommendations',
        [{ name: 'active', expr: `max by (${LABELS}) (${M.recommendation}{${SVC}})` }],
        {
          hide: ['Value'],
          height: 14,
        },
      ),
    );
}
