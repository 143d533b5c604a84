import { SpanstatError } from '../errors';
import type { ReportQuery, WindowName } from '../reports/types';

const MAX_LIMIT = 10_000;

/**
 * Reads `service`, `window`, `sort`, `limit` from the query string. `window` and `sort` are checked by the
 * report itself (checkQuery in src/reports/report-query.ts, one place for every caller); here only what is
 * particular to HTTP: `limit` must be an integer string within the API's bound.
 */
export function parseReportQuery(params: URLSearchParams): ReportQuery {
  const query: ReportQuery = { window: (params.get('window') ?? 'all') as WindowName };
  const service = params.get('service');
  if (service) query.service = service;
  const sort = params.get('sort');
  if (sort) query.sort = sort;
  const limit = params.get('limit');
  if (limit !== null) {
    const n = Number(limit);
    if (!Number.isInteger(n) || n < 1 || n > MAX_LIMIT) {
      throw new SpanstatError(
        'SPANSTAT_ERR_API_BAD_PARAM',
        `'limit' must be an integer from 1 to ${MAX_LIMIT}, got '${limit}'`,
      );
    }
    query.limit = n;
  }
  return query;
}
