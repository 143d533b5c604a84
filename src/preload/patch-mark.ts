/**
 * Marks the wrappers spanstat installs. `isWrapped` from @opentelemetry/instrumentation is true
 * for anyone's wrapper (instrumentation-pg wraps `Pool#connect` too), so our own "already patched"
 * and "ours to unwrap" checks use this mark instead.
 */
const MARK = Symbol.for('spanstat.patched');

export function markPatched<T>(fn: T): T {
  if (typeof fn === 'function') (fn as unknown as Record<symbol, boolean>)[MARK] = true;
  return fn;
}

/**
 * Whether `fn`, or a function it wraps (shimmer's `__original` links), is ours. The chain matters
 * when an app's own instrumentation wrapped over ours between two of our hooks on one module (pg's
 * `pg` and `pg/lib/client.js`): looking at the top alone, each side wrapped again, and every query
 * made two spans on each side.
 */
export function isPatched(fn: unknown): boolean {
  let link = fn;
  for (let depth = 0; depth < 16 && typeof link === 'function'; depth++) {
    if ((link as unknown as Record<symbol, boolean>)[MARK] === true) return true;
    link = (link as { __original?: unknown }).__original;
  }
  return false;
}
