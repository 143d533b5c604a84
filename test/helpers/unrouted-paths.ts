/**
 * Requests the preload fixture app's middleware answers before any route (test/fixtures/preload-app/app.js),
 * with words planted in their paths that no sidecar output may show, and a reader of those outputs.
 */
import { getJson } from './sidecar';

const preflight = { method: 'OPTIONS', headers: { 'access-control-request-method': 'POST' } };
const tooLarge = {
  method: 'POST',
  headers: { 'content-type': 'application/vnd.unrouted+json' },
  body: JSON.stringify({ note: 'x'.repeat(100) }),
};

/** Path, request, the status the app answers. */
export const UNROUTED_REQUESTS: Record<string, [string, RequestInit, number]> = {
  auth401: ['/profile/zebediah', {}, 401],
  auth401Nested: ['/profile/zebediah/settings', {}, 401],
  preflight: ['/widgets/marmalade', preflight, 204],
  tooLarge: ['/uploads/zebediah', tooLarge, 413],
  staticFile: ['/quarterly-confidential.txt', {}, 200],
  staticHead: ['/quarterly-confidential.txt', { method: 'HEAD' }, 200],
  staticMiss: ['/quarterly-zebediah.txt', {}, 404],
};

export const PLANTED_PATH_WORDS = [
  'zebediah',
  'marmalade',
  'quarterly',
  'confidential',
  'profile',
  'widgets',
  'uploads',
];

/** The sidecar's endpoint report (all windows), recommendations, /metrics and page, as one text. */
export async function sidecarOutputs(apiUrl: string): Promise<string> {
  return [
    JSON.stringify(await getJson(`${apiUrl}/api/v1/reports/endpoints?window=all&limit=1000`)),
    JSON.stringify(await getJson(`${apiUrl}/api/v1/recommendations`)),
    await (await fetch(`${apiUrl}/metrics`)).text(),
    await (await fetch(`${apiUrl}/`)).text(),
  ].join('\n');
}
