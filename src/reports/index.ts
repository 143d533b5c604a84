export { CACHE_REPORT, cacheReport } from './cache-report';
export {
  CACHE_COLUMNS,
  ENDPOINT_CACHE_COLUMNS,
  ENDPOINT_COLUMNS,
  ENDPOINT_QUERY_COLUMNS,
  formatMs,
  formatPercent,
  POOL_COLUMNS,
  QUERY_COLUMNS,
  SERVICE_COLUMNS,
  withService,
} from './columns';
export { ENDPOINT_REPORT, endpointReport } from './endpoint-report';
export { type Column, formatTable, formatValue } from './format-table';
export { POOL_REPORT, poolReport } from './pool-report';
export { QUERY_REPORT, queryReport } from './query-report';
export { REPORT_NAMES, REPORTS, type ReportDefinition, type ReportName } from './registry';
export { ReportCache } from './report-cache';
export { checkQuery, type NumericKey, type ReportSpec } from './report-query';
export { SERVICE_REPORT, serviceReport } from './service-report';
export * from './types';
export {
  ENDPOINT_CACHE_REPORT,
  ENDPOINT_QUERY_REPORT,
  endpointCacheReport,
  endpointQueryReport,
} from './use-report';
