/**
 * A route for a request span that carries no `http.route`: the path without its query string,
 * with id-like segments replaced by `:id`, so `/users/42/orders/7f3c…` and `/users/43/orders/…`
 * land on one endpoint row and no id reaches a report.
 */
/**
 * The route of a 404 that carries no `http.route`: no route matched, so its path is whatever the
 * client asked for (scanners, typos, usernames in paths) — one row for all of them instead of one
 * per path, in reports and in Prometheus labels.
 */
export const UNMATCHED_ROUTE = '(unmatched)';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HEX = /^[0-9a-f]{8,}$/i;
const HAS_DIGIT = /\d/;
const MAX_SEGMENTS = 12;

export function isIdLikeSegment(segment: string): boolean {
  if (segment.length === 0) return false;
  if (/^\d+$/.test(segment)) return true;
  if (UUID.test(segment)) return true;
  if (HEX.test(segment) && HAS_DIGIT.test(segment)) return true;
  if (segment.includes('@')) return true;
  // Mixed letters and digits of some length: codes, tokens, slugs with numbers.
  if (segment.length >= 4 && HAS_DIGIT.test(segment)) return true;
  return segment.length > 32;
}

export function templatePath(rawPath: string): string {
  let path = rawPath;
  const query = path.search(/[?#]/);
  if (query >= 0) path = path.slice(0, query);
  if (path === '' || path === '/') return '/';
  const segments = path.split('/');
  const out: string[] = [];
  for (let i = 0; i < segments.length && out.length <= MAX_SEGMENTS; i++) {
    const segment = segments[i];
    out.push(isIdLikeSegment(safeDecode(segment)) ? ':id' : segment);
  }
  if (segments.length > MAX_SEGMENTS + 1) out.push('*');
  return out.join('/');
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
