import type { DashboardBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { dashboard, row, table, timeseries } from './panels';
import { hitRate, M, orZero, quantile, RANGE, RATE, sumIncrease, sumRate } from './promql';

const NS = 'service, namespace';
const NS_LEGEND = '{{service}} {{namespace}}';

/** Hit rate per key namespace over time, reads, writes and command latency. */
export function cache(): DashboardBuilder {
  return dashboard('cache', 'Cache hit rate per key namespace (ids replaced by *), reads, writes, latency.')
    .withPanel(
      timeseries('Hit rate by namespace', [{ expr: hitRate(RATE), legend: NS_LEGEND }], {
        unit: 'percentunit',
        min: 0,
        max: 1,
        width: 24,
        thresholds: { steps: [0.4, 0.8] },
        description:
          'Keys found / keys read. Dashed lines: the 40% (critical) and 80% (warning) alert thresholds.',
      }),
    )
    .withPanel(
      table(
        'Namespaces over the time range',
        [
          { name: 'hit rate', expr: hitRate(RANGE, 'increase'), unit: 'percentunit' },
          { name: 'keys read', expr: sumIncrease(M.cacheReads, NS), unit: 'none' },
          { name: 'writes', expr: sumIncrease(M.cacheWrites, NS), unit: 'none' },
          {
            name: 'writes without expiry',
            expr: orZero(sumIncrease(M.cacheNoExpiry, NS), sumIncrease(M.cacheWrites, NS)),
            unit: 'none',
          },
          { name: 'p99', expr: quantile(0.99, M.cache, NS, '', RANGE), unit: 's' },
        ],
        { sortBy: 'keys read', hide: ['job', 'instance'] },
      ),
    )
    .withRow(row('Traffic'))
    .withPanel(
      timeseries(
        'Keys read/s by namespace and result',
        [{ expr: sumRate(M.cacheReads, `${NS}, result`), legend: `${NS_LEGEND} {{result}}` }],
        {
          unit: 'short',
          stack: true,
        },
      ),
    )
    .withPanel(
      timeseries(
        'Writes/s by namespace',
        [{ expr: sumRate(M.cacheWrites, `${NS}, command`), legend: `${NS_LEGEND} {{command}}` }],
        {
          unit: 'short',
        },
      ),
    )
    .withPanel(
      timeseries(
        'Writes without an expiry/s by namespace',
        [{ expr: orZero(sumRate(M.cacheNoExpiry, NS), sumRate(M.cacheWrites, NS)), legend: NS_LEGEND }],
        {
          unit: 'short',
          description:
            'SET without EX/PX/KEEPTTL, MSET, SETNX, GETSET, PERSIST (0 for namespaces written with an expiry): keys that stay until deleted or evicted. ' +
            'Steady in an id-bearing namespace (session:*) with no EXPIRE → keys pile up (see the cache-no-expiry recommendation).',
        },
      ),
    )
    .withPanel(
      timeseries(
        'Command p99 by namespace',
        [{ expr: quantile(0.99, M.cache, `${NS}, command`), legend: `${NS_LEGEND} {{command}}` }],
        {
          unit: 's',
        },
      ),
    );
}
