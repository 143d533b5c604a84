/**
 * Is a key segment an id (a value that varies per entity) rather than a name? Such segments
 * become `*` at once, before any learning, so an id never appears in a namespace.
 *
 * Rules, each with the key scheme it is for:
 * - any character outside `A-Za-z0-9_.-`: e-mails (`rate:alice@example.com`), URLs and query
 *   strings (`cache:/api/items?page=3`), base64 (`+/=`), free text, non-ASCII;
 * - a digit and 4+ characters, or digits only: `user:42`, UUIDs, hex digests, `cart:AbX9kQ`,
 *   dates; short forms such as `v2` stay names (`feed:v2:user:17` → `feed:v2:user:*`);
 * - letters only, 8+ long, mixed case with frequent case changes: random tokens without digits
 *   (`AbXkQzPw`), while camelCase names (`recentlyViewed`, `getUserById`) stay;
 * - longer than 40 characters.
 * Slugs (`product:blue-widget`) pass all of these; the learner widens them by count instead.
 * SQL identifiers have a narrower rule of their own (src/sql/identifier-ids.ts): a piece of a designed name
 * such as `sha256` or `oauth2` is no id there, while a whole key segment holding a digit usually is one.
 */

const MAX_NAME_CHARS = 40;
const RANDOM_MIN_CHARS = 8;

export function isIdLikeSegment(segment: string): boolean {
  const n = segment.length;
  if (n === 0) return false;
  if (n > MAX_NAME_CHARS) return true;
  let digits = 0;
  let upper = 0;
  let lower = 0;
  let caseChanges = 0;
  let lastCase = 0; // 1 upper, 2 lower, 0 other
  for (let i = 0; i < n; i++) {
    const c = segment.charCodeAt(i);
    let kind = 0;
    if (c >= 48 && c <= 57) digits++;
    else if (c >= 65 && c <= 90) kind = 1;
    else if (c >= 97 && c <= 122) kind = 2;
    else if (c !== 95 && c !== 45 && c !== 46) return true; // not _ - .
    if (kind === 1) upper++;
    else if (kind === 2) lower++;
    if (kind !== 0) {
      if (lastCase !== 0 && kind !== lastCase) caseChanges++;
      lastCase = kind;
    }
  }
  if (digits > 0) return n >= 4 || digits + (segment.charCodeAt(0) === 45 ? 1 : 0) === n;
  if (n < RANDOM_MIN_CHARS) return false;
  const letters = upper + lower;
  return upper >= letters * 0.3 && lower >= letters * 0.3 && caseChanges * 3 >= letters;
}
