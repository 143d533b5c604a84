/** What every bench does first: make sure dist/ is current and move itself to the load core. */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CLI_PATH, PRELOAD_PATH, REPO_ROOT } from '../../scripts/lib/demo-stack';
import { canPin, pinProcess } from './cpu';

/** The core the process under test runs on; the bench, load generator and servers use the other. */
export const CORE_UNDER_TEST = 0;
export const CORE_LOAD = 1;

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

let buildChecked = false;

/**
 * Runs `tsc -p tsconfig.json` when dist/ is missing or older than src/ (the benches run the built
 * code). Once per process: in `npm run bench` every bench measures the same build even while
 * src/ keeps changing.
 */
export function ensureBuilt(log: (line: string) => void = console.log): void {
  if (buildChecked) return;
  buildChecked = true;
  const built = [CLI_PATH, PRELOAD_PATH].every((p) => existsSync(p));
  const stale =
    built &&
    newestMtime(join(REPO_ROOT, 'src')) >
      Math.min(statSync(CLI_PATH).mtimeMs, statSync(PRELOAD_PATH).mtimeMs);
  if (built && !stale) return;
  log(built ? 'src/ changed since the last build: building…' : 'dist/ missing: building…');
  try {
    execFileSync(
      process.execPath,
      [join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'],
      {
        cwd: REPO_ROOT,
        stdio: 'pipe',
      },
    );
  } catch (err) {
    // tsc still emits on type errors; only a missing output is fatal.
    const out = (err as { stdout?: Buffer }).stdout?.toString() ?? '';
    if (![CLI_PATH, PRELOAD_PATH].every((p) => existsSync(p))) throw new Error(`build failed:\n${out}`);
    log(
      `build reported type errors (continuing with what was emitted):\n${out.split('\n').slice(0, 5).join('\n')}`,
    );
  }
}

/**
 * A module of the built sidecar, `dist/<srcPath>.js`, typed as its source. Benches that time sidecar
 * code in their own process load it from here, after ensureBuilt(): run from src/ under tsx, a module
 * is esbuild's CommonJS, which reads every imported binding through two getters, and in one
 * interleaved run decoded ~25% and ran the pipeline ~19% slower than the build that ships.
 */
export function builtModule<T>(srcPath: string): T {
  return require(join(REPO_ROOT, 'dist', srcPath)) as T;
}

/** Pins this process (all threads, and children it starts later) to the load core when possible. */
export function pinSelfToLoadCore(): boolean {
  return canPin() && pinProcess(process.pid, CORE_LOAD);
}
