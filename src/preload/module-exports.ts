/**
 * Replacing one export of a module a require hook patches. esbuild's CommonJS builds (Next.js's server
 * files, Hono up to 4.12) define their exports as getters that cannot be redefined: such a module's
 * exports are copied, with every other property as it was (its getter), and the require hook hands the
 * copy out from then on. A writable export is replaced in place.
 */
import { isPatched } from './patch-mark';

type Method = (this: unknown, ...args: unknown[]) => unknown;

export function withExport<T extends object>(exports: T, name: string, value: unknown): T {
  if (Object.getOwnPropertyDescriptor(exports, name)?.writable) {
    (exports as Record<string, unknown>)[name] = value;
    return exports;
  }
  const descriptors = Object.getOwnPropertyDescriptors(exports) as PropertyDescriptorMap;
  descriptors[name] = { value, enumerable: true, writable: true, configurable: true };
  return Object.create(Object.getPrototypeOf(exports), descriptors);
}

/**
 * The module's exports with its function `name` replaced by `wrap(original)` (withExport: a copy when
 * they are esbuild's getters); the exports as they are when it is missing, already ours (the wrapper
 * `wrap` returns must be marked patched), or the copy fails.
 */
export function withExportWrapped<T extends object>(
  exports: T,
  name: string,
  wrap: (original: Method) => Method,
): T {
  try {
    const original = (exports as Record<string, unknown> | undefined)?.[name];
    if (typeof original !== 'function' || isPatched(original)) return exports;
    return withExport(exports, name, wrap(original as Method));
  } catch {
    return exports;
  }
}
