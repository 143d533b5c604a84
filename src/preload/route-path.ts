/**
 * Express route templates from mount paths and route paths, e.g. `/api` + `/users` + `/:id` →
 * `/api/users/:id`. Pure; the Express patch calls it once per matched route.
 */

/** Whether a path's template text ends with a RegExp's closing `/` (or its flags). */
export function endsWithRegExp(path: unknown): boolean {
  return path instanceof RegExp || (Array.isArray(path) && endsWithRegExp(path[path.length - 1]));
}

/** A path as Express accepts it (string, RegExp, or an array of them) as template text. */
export function pathTemplate(path: unknown): string {
  if (typeof path === 'string') return path;
  if (Array.isArray(path)) return path.map(pathTemplate).join(',');
  if (path instanceof RegExp || typeof path === 'number') return String(path);
  return '';
}

/**
 * Joins a mount prefix and a path with exactly one `/` between them; drops a trailing `/`
 * (Express routing is not strict by default, so `/users/` and `/users` are one endpoint) unless it
 * closes a regular expression (`pathEndsWithRegExp`: `/^\/re\/(\d+)$/` keeps its last slash).
 */
export function joinRoute(prefix: string, path: string, pathEndsWithRegExp = false): string {
  let joined: string;
  if (prefix === '' || prefix === '/') joined = path;
  else if (path === '' || path === '/') joined = prefix;
  else {
    const prefixSlash = prefix.endsWith('/');
    const pathSlash = path.startsWith('/');
    if (prefixSlash && pathSlash) joined = prefix + path.slice(1);
    else if (prefixSlash || pathSlash) joined = prefix + path;
    else joined = `${prefix}/${path}`;
  }
  if (joined === '') return '/';
  if (joined.length > 1 && joined.endsWith('/') && !pathEndsWithRegExp) return joined.slice(0, -1);
  return joined;
}
