/**
 * The steps the framework route tests share: send requests to the app, wait until the sidecar's
 * endpoint report has them all, and read each row as [endpoint, requests, 5xx, queries and cache calls
 * per request].
 */
import type { EndpointRow, Report } from '../../src/reports/types';
import { getJson, waitFor } from './sidecar';

/** A request: path, expected status, headers. */
export type SentRequest = [string, number, Record<string, string>?];

/** Each request's path and the status the app answered, in order. */
export async function sendAll(port: number, sent: readonly SentRequest[]): Promise<[string, number][]> {
  const answered: [string, number][] = [];
  for (const [path, , headers] of sent) {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers });
    await res.arrayBuffer();
    answered.push([path, res.status]);
  }
  return answered;
}

/** The service's endpoint rows (all windows) once they hold `total` requests; undefined past the wait. */
export async function endpointRowsOf(
  apiUrl: string,
  service: string,
  total: number,
): Promise<EndpointRow[] | undefined> {
  const url = `${apiUrl}/api/v1/reports/endpoints?service=${service}&window=all&limit=1000`;
  return waitFor(async () => {
    const found = (await getJson<Report<EndpointRow>>(url)).rows;
    return found.reduce((n, r) => n + r.requests, 0) >= total ? found : undefined;
  });
}

/** Rows as sorted [`METHOD route`, requests, 5xx, queries per request, cache calls per request]. */
export function routeFigures(rows: readonly EndpointRow[] | undefined): (string | number)[][] {
  return (rows ?? [])
    .map((r) => [
      `${r.method} ${r.route}`,
      r.requests,
      r.serverErrors,
      r.queriesPerRequest,
      r.cacheOpsPerRequest,
    ])
    .sort();
}
