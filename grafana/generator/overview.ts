import type { DashboardBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { dashboard, row, stat, timeseries } from './panels';
import { activeRecommendations, M, mean, orZero, quantile, RATE, SVC, sumRate } from './promql';

const ROUTE = 'service, method, route';
const ROUTE_LEGEND = '{{service}} {{method}} {{route}}';

/** Legend of a pool's series: the service and the pool (host:port/database). */
const POOL = '{{service}} {{pool}}';

/** RED per service and route, the database pool, and the sidecar's own health. */
export function overview(): DashboardBuilder {
  const requests = sumRate(`${M.http}_count`, '');
  const serverErrors = sumRate(`${M.http}_count`, '', 'status_class="5xx"');
  const routeRequests = sumRate(`${M.http}_count`, ROUTE);
  return dashboard(
    'overview',
    'Requests, errors and latency per service and route; database pool; sidecar health.',
  )
    .withRow(row('Requests'))
    .withPanel(stat('Requests/s', { expr: requests }, { unit: 'reqps' }))
    .withPanel(
      stat(
        '5xx ratio',
        { expr: `(${serverErrors} or vector(0)) / ${requests}` },
        { unit: 'percentunit', thresholds: { steps: [0.01, 0.02], ascending: true } },
      ),
    )
    .withPanel(
      stat(
        'p95 latency',
        { expr: quantile(0.95, M.http, '') },
        { unit: 's', thresholds: { steps: [0.1, 0.2], ascending: true } },
      ),
    )
    .withPanel(
      stat(
        'Active recommendations',
        { expr: `count(${activeRecommendations()}) or vector(0)` },
        { unit: 'none' },
      ),
    )
    .withPanel(
      timeseries('Requests/s by route', [{ expr: routeRequests, legend: ROUTE_LEGEND }], { unit: 'reqps' }),
    )
    .withPanel(
      timeseries(
        '5xx ratio by route',
        [
          {
            expr: `${orZero(sumRate(`${M.http}_count`, ROUTE, 'status_class="5xx"'), routeRequests)} / ${routeRequests}`,
            legend: ROUTE_LEGEND,
          },
        ],
        { unit: 'percentunit', min: 0, thresholds: { steps: [0.02], ascending: true } },
      ),
    )
    .withPanel(
      timeseries('p95 latency by route', [{ expr: quantile(0.95, M.http, ROUTE), legend: ROUTE_LEGEND }], {
        unit: 's',
        thresholds: { steps: [0.2], ascending: true },
        description: 'Dashed line: the 200 ms SLO of the SpanstatEndpointSlow alert.',
      }),
    )
    .withPanel(
      timeseries(
        'Database time per second by service',
        [{ expr: sumRate(`${M.db}_sum`, 'service'), legend: '{{service}}' }],
        {
          unit: 's',
          description: 'Seconds spent in queries per second of wall time: above 1 means queries overlap.',
        },
      ),
    )
    .withRow(row('Database pool and locks'))
    .withPanel(
      timeseries(
        'Pool clients in use',
        [
          { expr: `max by (service, system, pool) (${M.poolInUse}{${SVC}})`, legend: `${POOL} in use` },
          { expr: `max by (service, system, pool) (${M.poolMax}{${SVC}})`, legend: `${POOL} pool size` },
          { expr: `max by (service, system, pool) (${M.poolWaiting}{${SVC}})`, legend: `${POOL} waiting` },
        ],
        {
          unit: 'none',
          min: 0,
          description:
            'Per pool of each service (pool: host:port/database; empty for spans that name none): clients in use, the pool size, and the most checkouts waiting for a client at once.',
        },
      ),
    )
    .withPanel(
      timeseries(
        'Pool wait',
        [
          { expr: quantile(0.95, M.poolWait, 'service, pool'), legend: `${POOL} p95` },
          { expr: mean(M.poolWait, 'service, pool'), legend: `${POOL} mean` },
        ],
        { unit: 's', description: 'Time checkouts waited for a client, per pool of each service.' },
      ),
    )
    .withPanel(
      timeseries(
        'Sessions waiting on locks',
        [{ expr: `sum by (instance) (rate(${M.lockWait}[${RATE}]))`, legend: '{{instance}} waiting (mean)' }],
        {
          unit: 'none',
          min: 0,
          description:
            "Mean sessions of the advisor's database (advisor.postgresUrl) waiting on a lock, from pg_stat_activity samples every advisor.lockSampleMs; `spanstat advise` names the waiting statements and their blockers.",
        },
      ),
    )
    .withPanel(
      timeseries(
        'Longest idle in transaction',
        [{ expr: `max by (instance) (${M.idleInTransaction})`, legend: '{{instance}}' }],
        {
          unit: 's',
          min: 0,
          thresholds: { steps: [10, 60], ascending: true },
          description:
            "Longest time a session of the advisor's database has sat idle in transaction (holding its locks), at the latest sample; the advisor flags it past advisor.idleInTransactionMs.",
        },
      ),
    )
    .withRow(row('spanstat sidecar'))
    .withPanel(
      timeseries(
        'Spans/s',
        [
          { expr: `sum by (instance) (rate(${M.spansReceived}[${RATE}]))`, legend: '{{instance}} received' },
          { expr: `sum by (instance) (rate(${M.spansRejected}[${RATE}]))`, legend: '{{instance}} rejected' },
          {
            expr: `sum by (instance, reason) (rate(${M.requestsRefused}[${RATE}]))`,
            legend: '{{instance}} requests refused ({{reason}})',
          },
          { expr: `sum by (instance) (rate(${M.spansDropped}[${RATE}]))`, legend: '{{instance}} dropped' },
          {
            expr: `sum by (service) (rate(${M.preloadSpansLost}{${SVC}}[${RATE}]))`,
            legend: '{{service}} lost in the app before sending',
          },
          {
            expr: `sum by (instance) (rate(${M.decodeErrors}[${RATE}]))`,
            legend: '{{instance}} undecodable bodies',
          },
          {
            expr: `sum by (instance, outcome) (rate(${M.forwardedSpans}[${RATE}]))`,
            legend: '{{instance}} forwarded ({{outcome}})',
          },
        ],
        { unit: 'short', width: 8 },
      ),
    )
    .withPanel(
      timeseries('Queue depth', [{ expr: `max by (instance) (${M.queueDepth})`, legend: '{{instance}}' }], {
        unit: 'none',
        width: 8,
      }),
    )
    .withPanel(
      timeseries(
        'Memory',
        [{ expr: `max by (instance, area) (${M.memory})`, legend: '{{instance}} {{area}}' }],
        {
          unit: 'bytes',
          width: 8,
        },
      ),
    );
}
