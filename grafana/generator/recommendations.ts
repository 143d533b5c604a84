import type { DashboardBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { dashboard, stat, table, timeseries } from './panels';
import { activeRecommendations, M, SVC } from './promql';

const ACTIVE = 'service, id, severity, kind, target';

/** Active recommendations with their current title and action (joined from the info metric). */
function withTexts(): string {
  return (
    `max by (${ACTIVE}) (${M.recommendation}{${SVC}}) * on (service, id) group_left (title, action) ` +
    `topk by (service, id) (1, max by (service, id, title, action) (${M.recommendationInfo}{${SVC}}))`
  );
}

/** The advisor's active recommendations (spanstat_recommendation_active and _info). */
export function recommendations(): DashboardBuilder {
  return dashboard(
    'recommendations',
    'Active recommendations of the spanstat advisor; details in `spanstat advise`.',
  )
    .withPanel(
      stat(
        'Active recommendations',
        { expr: `count(${activeRecommendations()}) or vector(0)` },
        { unit: 'none', width: 8 },
      ),
    )
    .withPanel(
      timeseries(
        'Active by kind',
        [
          {
            expr: `count by (kind) (${activeRecommendations('kind')})`,
            legend: '{{kind}}',
          },
        ],
        {
          unit: 'none',
          width: 16,
          height: 4,
        },
      ),
    )
    .withPanel(
      table('Active recommendations', [{ name: 'active', expr: withTexts() }], {
        hide: ['Value'],
        height: 14,
      }),
    );
}
