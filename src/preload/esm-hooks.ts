/**
 * Module loader hooks that add esm-targets.ts's line to the few ES module files the preload patches.
 * `load` is for `module.register` (Node 20: asynchronous, in the loader's own thread), `loadSync` for
 * `module.registerHooks` (Node 22.15+: synchronous, in the app's thread). Every other module, and any
 * target whose source is not as expected, loads untouched; a failure here loads the file as it is.
 */
import { esmTargetOf } from './esm-targets';

interface LoadResult {
  format?: string;
  source?: string | ArrayBuffer | ArrayBufferView | null;
  shortCircuit?: boolean;
}
type NextLoad<R> = (url: string, context?: unknown) => R;

function patched(url: string, result: LoadResult): LoadResult {
  try {
    const target = esmTargetOf(url);
    if (target === undefined || result.format !== 'module' || result.source == null) return result;
    const source =
      typeof result.source === 'string'
        ? result.source
        : new TextDecoder().decode(result.source as ArrayBuffer);
    const transformed = target.transform(source);
    return transformed === undefined ? result : { ...result, source: transformed };
  } catch {
    return result;
  }
}

export async function load(
  url: string,
  context: unknown,
  nextLoad: NextLoad<Promise<LoadResult>>,
): Promise<LoadResult> {
  return patched(url, await nextLoad(url, context));
}

export function loadSync(url: string, context: unknown, nextLoad: NextLoad<LoadResult>): LoadResult {
  return patched(url, nextLoad(url, context));
}
