/**
 * Configured route templates (`http.routes`) for requests that carry no `http.route` (apps other
 * than Express under the preload, SDKs that leave it out): `/users/:name` names every
 * `/users/<anything>` request, so a word-like segment the id heuristics of route-template.ts keep
 * (a username, a slug) never reaches a report or a label. `:param` and `*` are one segment, `**` the
 * rest of the path; templates are tried in order and the first match is the route, as written.
 */
import { compileKeyPattern, type KeyPattern, matchKeyPattern } from '../cache-keys/key-patterns';

const PARAM_SEGMENT = /(^|\/):[^/]+/g;

export function compileRoutePatterns(routes: readonly string[]): KeyPattern[] {
  // A route template is a key glob over `/` whose `:param` segments read as `*`.
  return routes.map((route) => ({
    ...compileKeyPattern(route.replace(PARAM_SEGMENT, '$1*'), '/'),
    pattern: route,
  }));
}

/** The first configured template `path` (query string and fragment ignored) matches, or undefined. */
export function matchRoutePattern(patterns: readonly KeyPattern[], path: string): string | undefined {
  const end = path.search(/[?#]/);
  return matchKeyPattern(patterns, end < 0 ? path : path.slice(0, end));
}
