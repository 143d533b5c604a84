import type { DashboardBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { dashboard, row, table, timeseries } from './panels';
import { M, mean, orZero, quantile, RANGE, SVC, sumIncrease, sumRate } from './promql';

const ROUTE = 'service, method, route';
const LEGEND = '{{service}} {{method}} {{route}}';

/** Percentiles, where request time goes, and queries per request, per route. */
export function endpoints(): DashboardBuilder {
  const requests = sumIncrease(`${M.http}_count`, ROUTE);
  const perRequest = (component: string) =>
    `${sumIncrease(M.httpComponent, ROUTE, `component="${component}"`)} / ${requests}`;
  return dashboard(
    'endpoints',
    'Per route: latency percentiles, time split (db, cache, pool wait, other), queries per request.',
  )
    .withPanel(
      table(
        'Routes over the time range',
        [
          { name: 'requests', expr: requests, unit: 'none' },
          { name: 'p95', expr: quantile(0.95, M.http, ROUTE, '', RANGE), unit: 's' },
          {
            // Job and consumer runs have no status code: their failures are status_class="error".
            name: 'error ratio (5xx, failed runs)',
            expr: `${orZero(sumIncrease(`${M.http}_count`, ROUTE, 'status_class=~"5xx|error"'), requests)} / ${requests}`,
            unit: 'percentunit',
          },
          { name: 'queries/request', expr: mean(M.httpQueries, ROUTE, RANGE), unit: 'none' },
          { name: 'db/request', expr: perRequest('db'), unit: 's' },
          { name: 'cache/request', expr: perRequest('cache'), unit: 's' },
          { name: 'pool wait/request', expr: perRequest('pool_wait'), unit: 's' },
        ],
        { sortBy: 'requests', hide: ['job', 'instance'] },
      ),
    )
    .withRow(row('Latency'))
    .withPanel(
      timeseries(
        'Latency percentiles by route',
        [
          { expr: quantile(0.5, M.http, ROUTE), legend: `p50 ${LEGEND}` },
          { expr: quantile(0.95, M.http, ROUTE), legend: `p95 ${LEGEND}` },
          { expr: quantile(0.99, M.http, ROUTE), legend: `p99 ${LEGEND}` },
        ],
        { unit: 's', width: 24, thresholds: { steps: [0.2], ascending: true } },
      ),
    )
    .withRow(row('Where the time goes'))
    .withPanel(
      timeseries(
        'Time per request by component',
        [
          {
            expr:
              `sum by (service, method, route, component) (rate(${M.httpComponent}{${SVC}}[$__rate_interval])) ` +
              `/ on (service, method, route) group_left ${sumRate(`${M.http}_count`, ROUTE)}`,
            legend: `${LEGEND} {{component}}`,
          },
        ],
        {
          unit: 's',
          stack: true,
          description:
            'Mean seconds per request spent in the database, the cache, waiting for a pool client, and elsewhere.',
        },
      ),
    )
    .withPanel(
      timeseries(
        'Queries per request',
        [
          { expr: mean(M.httpQueries, ROUTE), legend: `mean ${LEGEND}` },
          // A count is a whole number: histogram_quantile interpolates inside the bucket (a route whose
          // requests all run 1 query read 0.95), ceil gives the count back where buckets are 1 wide (≤ 6).
          { expr: `ceil(${quantile(0.95, M.httpQueries, ROUTE)})`, legend: `p95 ${LEGEND}` },
        ],
        {
          unit: 'none',
          description:
            'A route whose count grows with its data (N+1) shows up here first. p95 is exact up to 6 queries, above that the bucket it falls in (8, 10, 15, 20, 50…) bounds it.',
        },
      ),
    );
}
