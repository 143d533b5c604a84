import { SpanstatError } from '../errors';
import { type ReportQuery, WINDOWS, type WindowName } from '../reports/types';

const MAX_LIMIT = 10_000;

/** Validates `service`, `window`, `sort`, `limit`; unknown values are a 400, never silently ignored. */
export function parseReportQuery(params: URLSearchParams): ReportQuery {
  const window = params.get('window') ?? 'all';
  if (!WINDOWS.includes(window as WindowName)) {
    throw new SpanstatError(
      'SPANSTAT_ERR_API_BAD_PARAM',
      `'window' must be one of ${WINDOWS.join(', ')}, got '${window}'`,
    );
  }
  const query: ReportQuery = { window: window as WindowName };
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
