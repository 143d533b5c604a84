import type { DashboardBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { dashboard, row, table, timeseries } from './panels';
import { M, orZero, quantile, RANGE, sumIncrease, sumRate, withStatement } from './promql';

const FP = 'service, fingerprint';

/** Statements by total time, p95 and calls, with the normalized text from the info metric. */
export function queries(): DashboardBuilder {
  const calls = sumIncrease(`${M.db}_count`, FP);
  return dashboard('queries', 'Statements (fingerprints) by total time, p95 and calls; N+1 patterns.')
    .withPanel(
      table(
        'Statements over the time range',
        [
          { name: 'total time', expr: withStatement(sumIncrease(`${M.db}_sum`, FP)), unit: 's' },
          { name: 'calls', expr: withStatement(calls), unit: 'none' },
          { name: 'p95', expr: withStatement(quantile(0.95, M.db, FP, '', RANGE)), unit: 's' },
          {
            name: 'mean',
            expr: withStatement(`${sumIncrease(`${M.db}_sum`, FP)} / ${calls}`),
            unit: 's',
          },
          {
            name: 'errors',
            expr: withStatement(orZero(sumIncrease(M.dbErrors, FP), `${calls}`)),
            unit: 'none',
          },
        ],
        {
          sortBy: 'total time',
          hide: ['job', 'instance'],
          height: 12,
          description: 'Top statements by time spent; statements hold placeholders, never literal values.',
        },
      ),
    )
    .withRow(row('Over time'))
    .withPanel(
      timeseries(
        'Database time per second, top 10 statements',
        [
          {
            expr: withStatement(`topk(10, ${sumRate(`${M.db}_sum`, FP)})`),
            legend: '{{service}}: {{statement}}',
          },
        ],
        { unit: 's', stack: true },
      ),
    )
    .withPanel(
      timeseries(
        'p95, top 10 statements',
        [
          {
            expr: withStatement(`topk(10, ${quantile(0.95, M.db, FP)})`),
            legend: '{{service}}: {{statement}}',
          },
        ],
        { unit: 's', thresholds: { steps: [0.1, 0.5], ascending: true } },
      ),
    )
    .withPanel(
      timeseries(
        'Calls/s by operation',
        [{ expr: sumRate(`${M.db}_count`, 'service, operation'), legend: '{{service}} {{operation}}' }],
        {
          unit: 'reqps',
        },
      ),
    )
    .withPanel(
      timeseries(
        'N+1 requests/s by route and statement',
        [
          {
            expr: withStatement(sumRate(M.nPlusOne, 'service, method, route, fingerprint')),
            legend: '{{service}} {{method}} {{route}}: {{statement}}',
          },
        ],
        {
          unit: 'reqps',
          description: 'Requests that ran one statement 5 or more times (advisor.nPlusOne.minRepeats).',
        },
      ),
    );
}
