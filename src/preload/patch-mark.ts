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

export function isPatched(fn: unknown): boolean {
  return typeof fn === 'function' && (fn as unknown as Record<symbol, boolean>)[MARK] === true;
}
