/** The advisor's input from the aggregator: every report of one window, unsorted and unlimited. */
import type { Aggregator } from '../aggregate/aggregator';
import {
  cacheReport,
  endpointCacheReport,
  endpointQueryReport,
  endpointReport,
  poolReport,
  queryReport,
} from '../reports';
import type { WindowName } from '../reports/types';
import type { AdvisorInput } from './types';

export function aggregatorSource(aggregator: Aggregator, window: WindowName): () => AdvisorInput {
  return () => {
    const nowMs = aggregator.now();
    const q = { window };
    return {
      queries: queryReport(aggregator, q, nowMs).rows,
      cache: cacheReport(aggregator, q, nowMs).rows,
      endpoints: endpointReport(aggregator, q, nowMs).rows,
      endpointQueries: endpointQueryReport(aggregator, q, nowMs).rows,
      endpointCache: endpointCacheReport(aggregator, q, nowMs).rows,
      pools: poolReport(aggregator, q, nowMs).rows,
    };
  };
}
