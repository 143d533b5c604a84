/**
 * The app's side of the ES module patches (esm-targets.ts): instrumentations register a patch per target
 * id, and `installEsmHooks` installs the loader hook (esm-hooks.ts) that makes the targets' ES builds call
 * them as they load.
 *
 * Where the hook comes from: `module.registerHooks` (Node 22.15+, synchronous, in this thread) when
 * there is one; else `module.register` (Node 20.6+), whose hooks run in a thread of their own (~10 MB of
 * RSS, ~0.2 s of CPU at start-up here) — started only when the app's entry is an ES module (`.mjs`, or
 * `.js` under `"type": "module"`; a CommonJS app loads the packages' CommonJS builds, which the `require`
 * hooks patch) or a Next.js server (whose server chunks `import()` the external packages that have an ES
 * build: tRPC's adapters, postgres.js), and one of the targets' packages is installed where the entry
 * finds it; the loader's thread runs this preload too. A worker thread's imports are patched where the hooks are `registerHooks`
 * (the worker's preload registers them in its thread), not on Node 20, where `module.register` is left
 * to the main thread (another loader thread per worker).
 */
import { existsSync, readFileSync } from 'node:fs';
import * as nodeModule from 'node:module';
import { dirname, extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import { ESM_PATCH_GLOBAL, ESM_TARGETS } from './esm-targets';

type Patch = (value: unknown) => unknown;

/** Set in the environment the module loader's thread starts with (see installEsmHooks). */
export const HOOKS_THREAD_ENV = 'SPANSTAT_MODULE_HOOKS_THREAD';

const patches = new Map<string, Patch>();

/** `patch` runs on the value the target `id` hands over; what it returns replaces a default export. */
export function registerEsmPatch(id: string, patch: Patch): void {
  patches.set(id, patch);
  const globals = globalThis as Record<symbol, unknown>;
  globals[Symbol.for(ESM_PATCH_GLOBAL)] ??= (target: string, value: unknown) => {
    try {
      return patches.get(target)?.(value);
    } catch {
      return undefined; // The module loads unpatched.
    }
  };
}

interface ModuleHooksApi {
  registerHooks?: (hooks: { load: unknown }) => unknown;
  register?: (specifier: string) => unknown;
}

let installed = false;

/** Installs the loader hook once, where needed (see above); never throws. */
export function installEsmHooks(entry: string | undefined = process.argv[1]): void {
  if (installed || patches.size === 0) return;
  installed = true;
  try {
    const api = nodeModule as unknown as ModuleHooksApi;
    const hooksFile = join(__dirname, 'esm-hooks.js');
    if (typeof api.registerHooks === 'function') {
      // In this thread only: a worker thread the app starts runs the preload (it inherits `--require`),
      // which registers them there too.
      const { loadSync } = require('./esm-hooks') as typeof import('./esm-hooks');
      api.registerHooks({ load: loadSync });
    } else if (
      isMainThread &&
      typeof api.register === 'function' &&
      (entryIsEsModule(entry) || isNextServer(entry)) &&
      hasTargetPackage(entry)
    ) {
      // The loader's thread runs the preload too (it inherits `--require`) and copies the environment as
      // it starts, inside `register`: marked so, the preload there starts nothing (preload.ts).
      process.env[HOOKS_THREAD_ENV] = '1';
      try {
        api.register(pathToFileURL(hooksFile).href);
      } finally {
        delete process.env[HOOKS_THREAD_ENV];
      }
    }
  } catch {
    // ES module builds stay unpatched.
  }
}

/** Whether a package with an ES module target (esm-targets.ts) is installed where `entry` would find it. */
function hasTargetPackage(entry: string | undefined): boolean {
  if (!entry) return false;
  const resolveFrom = nodeModule.createRequire(resolve(entry));
  return ESM_TARGETS.some((target) => {
    try {
      resolveFrom.resolve(target.packageName);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * Whether the process is a Next.js server: `next start`/`dev` (Next's own files), or a standalone
 * `server.js` or custom server run where the build is (a `.next` directory). Its CommonJS server chunks
 * load an external package with an ES build through `import()`, so the ES build is what runs.
 */
export function isNextServer(entry: string | undefined, cwd: string = process.cwd()): boolean {
  if (entry && /[/\\]node_modules[/\\]next[/\\]dist[/\\]/.test(resolve(entry))) return true;
  return existsSync(join(cwd, '.next')) || (!!entry && existsSync(join(dirname(resolve(entry)), '.next')));
}

/** Whether Node runs `entry` as an ES module: `.mjs`, or `.js` (or no extension) under `"type": "module"`. */
export function entryIsEsModule(entry: string | undefined): boolean {
  if (!entry) return false;
  const ext = extname(entry);
  if (ext === '.mjs' || ext === '.mts') return true;
  if (ext === '.cjs' || ext === '.cts') return false;
  for (let dir = dirname(resolve(entry)); ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      try {
        return (JSON.parse(readFileSync(file, 'utf8')) as { type?: unknown }).type === 'module';
      } catch {
        return false;
      }
    }
    if (dirname(dir) === dir) return false;
  }
}
