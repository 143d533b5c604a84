/** Every report by the name the API path and `spanstat report` use, with its table columns. */
import type { Aggregator } from '../aggregate/aggregator';
import { cacheReport } from './cache-report';
import {
  CACHE_COLUMNS,
  ENDPOINT_CACHE_COLUMNS,
  ENDPOINT_COLUMNS,
  ENDPOINT_QUERY_COLUMNS,
  POOL_COLUMNS,
  QUERY_COLUMNS,
} from './columns';
import { endpointReport } from './endpoint-report';
import type { Column } from './format-table';
import { poolReport } from './pool-report';
import { queryReport } from './query-report';
import type { Report, ReportQuery } from './types';
import { endpointCacheReport, endpointQueryReport } from './use-report';

export interface ReportDefinition<R> {
  build: (agg: Aggregator, query: ReportQuery, nowMs?: number) => Report<R>;
  columns: readonly Column<R>[];
}

function define<R>(build: ReportDefinition<R>['build'], columns: readonly Column<R>[]): ReportDefinition<R> {
  return { build, columns };
}

/** `/api/v1/reports/<name>`; `spanstat report <name>`. */
export const REPORTS = {
  queries: define(queryReport, QUERY_COLUMNS),
  cache: define(cacheReport, CACHE_COLUMNS),
  endpoints: define(endpointReport, ENDPOINT_COLUMNS),
  'endpoint-queries': define(endpointQueryReport, ENDPOINT_QUERY_COLUMNS),
  'endpoint-cache': define(endpointCacheReport, ENDPOINT_CACHE_COLUMNS),
  pools: define(poolReport, POOL_COLUMNS),
} as const;

export type ReportName = keyof typeof REPORTS;
export const REPORT_NAMES = Object.keys(REPORTS) as ReportName[];
