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

/**
 * The route the preload gives a request an Express app answered before any route matched, outside
 * any path-mounted middleware (an auth middleware's 401, a rate limiter's 429, a CORS preflight, a
 * body parser's 400, a health check): one row per method, never the path the client asked for.
 */
export const MIDDLEWARE_ROUTE = '(middleware)';
/** The same for a file `express.static` (serve-static) served from a pathless mount. */
export const STATIC_ROUTE = '(static)';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HEX = /^[0-9a-f]{8,}$/i;
const HAS_DIGIT = /\d/;
const MAX_SEGMENTS = 12;

/** Request methods kept as sent; any other becomes `_OTHER`, as OpenTelemetry's HTTP conventions say. */
const KNOWN_METHODS = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
]);

/** An upper-cased request method as an endpoint's label: a known one, else `_OTHER`. */
export function methodLabel(upper: string): string {
  return KNOWN_METHODS.has(upper) ? upper : '_OTHER';
}

/** Characters no route template has: encoded bytes, matrix parameters (`;jsessionid=…`), key=value, e-mail. */
const DATA_CHARS = /[%;=@,~+!$'()*]/;

export function isIdLikeSegment(segment: string): boolean {
  if (segment.length === 0) return false;
  if (DATA_CHARS.test(segment)) return true;
  if (/^\d+$/.test(segment)) return true;
  if (UUID.test(segment)) return true;
  if (HEX.test(segment) && HAS_DIGIT.test(segment)) return true;
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
    // Tested raw and decoded: `%40` is an `@`, and any percent-encoding marks data.
    out.push(isIdLikeSegment(segment) || isIdLikeSegment(safeDecode(segment)) ? ':id' : segment);
  }
  if (segments.length > MAX_SEGMENTS + 1) out.push('*');
  return out.join('/');
}

/** templatePath for each word of a span name that starts with `/` (`GET /users/ann` → `GET /users/:id`… when id-like). */
export function templateWords(name: string, templateOf: (path: string) => string = templatePath): string {
  return name
    .split(' ')
    .map((word) => (word.startsWith('/') ? templateOf(word) : word))
    .join(' ');
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Longest job or consumer name kept: names are code constants; longer text is data. */
const MAX_NAME_CHARS = 100;
/** The name of a job or consumer run whose name is empty (or not a string). */
export const UNNAMED = '(unnamed)';
/** An e-mail address inside a job or consumer name (`notify alice.smith@corp.example.com`). */
const EMAIL = /[^\s/:#@]+@[^\s/:#@]+/g;
/** Where a job or consumer name splits into words: spaces, `/`, `:`, `.`, `#`. */
const NAME_SEPARATORS = /([\s/:.#]+)/;

/**
 * A job's or message consumer's name as a route: its id-like words (isIdLikeSegment) become `:id`, so
 * a name built with an id (`send-digest:4711`, `process orders.7f3c…`) still lands on one row and no
 * id reaches a report or a metric label.
 */
export function templateName(name: string): string {
  // The preload's name for an empty one, templated again by the sidecar: its brackets are not data.
  if (name === UNNAMED) return UNNAMED;
  // Whole e-mail addresses first: split at `.` they would leave `alice.` and the domain behind.
  const words = name
    .slice(0, 10 * MAX_NAME_CHARS)
    .replace(EMAIL, ':id')
    .split(NAME_SEPARATORS);
  for (let i = 0; i < words.length; i += 2) if (isIdLikeSegment(words[i])) words[i] = ':id';
  const templated = words.join('').trim();
  return templated === '' ? UNNAMED : templated.slice(0, MAX_NAME_CHARS);
}
