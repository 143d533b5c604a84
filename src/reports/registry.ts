/** Every report by the name the API path and `spanstat report` use, with its table columns. */
import type { Aggregator } from '../aggregate/aggregator';
import { CACHE_REPORT, cacheReport } from './cache-report';
import {
  CACHE_COLUMNS,
  ENDPOINT_CACHE_COLUMNS,
  ENDPOINT_COLUMNS,
  ENDPOINT_QUERY_COLUMNS,
  POOL_COLUMNS,
  QUERY_COLUMNS,
  SERVICE_COLUMNS,
} from './columns';
import { ENDPOINT_REPORT, endpointReport } from './endpoint-report';
import type { Column } from './format-table';
import { POOL_REPORT, poolReport } from './pool-report';
import { QUERY_REPORT, queryReport } from './query-report';
import type { ReportSpec } from './report-query';
import { SERVICE_REPORT, serviceReport } from './service-report';
import type { Report, ReportQuery } from './types';
import {
  ENDPOINT_CACHE_REPORT,
  ENDPOINT_QUERY_REPORT,
  endpointCacheReport,
  endpointQueryReport,
} from './use-report';

export interface ReportDefinition<R> {
  build: (agg: Aggregator, query: ReportQuery, nowMs?: number) => Report<R>;
  columns: readonly Column<R>[];
  spec: ReportSpec<R>;
}

function define<R>(
  build: ReportDefinition<R>['build'],
  columns: readonly Column<R>[],
  spec: ReportSpec<R>,
): ReportDefinition<R> {
  return { build, columns, spec };
}

/** `/api/v1/reports/<name>`; `spanstat report <name>`. */
export const REPORTS = {
  services: define(serviceReport, SERVICE_COLUMNS, SERVICE_REPORT),
  queries: define(queryReport, QUERY_COLUMNS, QUERY_REPORT),
  cache: define(cacheReport, CACHE_COLUMNS, CACHE_REPORT),
  endpoints: define(endpointReport, ENDPOINT_COLUMNS, ENDPOINT_REPORT),
  'endpoint-queries': define(endpointQueryReport, ENDPOINT_QUERY_COLUMNS, ENDPOINT_QUERY_REPORT),
  'endpoint-cache': define(endpointCacheReport, ENDPOINT_CACHE_COLUMNS, ENDPOINT_CACHE_REPORT),
  pools: define(poolReport, POOL_COLUMNS, POOL_REPORT),
} as const;

export type ReportName = keyof typeof REPORTS;
export const REPORT_NAMES = Object.keys(REPORTS) as ReportName[];
