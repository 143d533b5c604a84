/**
 * The Node binary a bench runs the demo app with: `--node <path>` or `--node <version>` (`24`,
 * `24.21.0`). A version is fetched from the npm registry once, as the `node-<platform>-<arch>` package
 * the `node` package installs (`npm pack`, no install scripts), into `.tmp/node/<version>/`.
 *
 * The integration tests run the preload and the sidecar under TESTED_NODE_VERSIONS the same way
 * (test/integration/preload-node-versions.test.ts); `.ci/run` fetches them before `npm test` with
 * `npx tsx scripts/lib/node-binary.ts` (no arguments: those versions).
 *
 * Why: the preload's largest fixed cost on Node 20 is AsyncLocalStorage's init hooks; Node 24 runs
 * AsyncLocalStorage on V8's continuation-preserved data (AsyncContextFrame) instead, and most apps
 * in production run a current LTS. This measures the same preload there, on the same machine.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './demo-stack';

const CACHE_DIR = join(REPO_ROOT, '.tmp', 'node');

/**
 * The Node releases the integration tests run the preload and the sidecar on, besides the one
 * running the tests; the README names them. Exact versions: a cached binary needs no registry query.
 */
export const TESTED_NODE_VERSIONS: readonly string[] = ['22.23.3', '24.21.0'];

/** The binary for `spec` (a path, or a version to fetch); process.execPath when spec is undefined. */
export function nodeBinary(spec: string | undefined, log: (line: string) => void = () => {}): string {
  if (spec === undefined || spec === '') return process.execPath;
  if (!/^\d+(\.\d+){0,2}$/.test(spec)) {
    if (!existsSync(spec)) throw new Error(`--node ${spec}: no such file (give a path or a version like 24)`);
    return spec;
  }
  const pkg = `node-${process.platform}-${process.arch}`;
  const cached = matchingVersions(cachedVersions(), spec);
  let exact: string;
  if (cached.includes(spec)) {
    exact = spec; // an exact version fetched earlier: no registry query
  } else {
    try {
      exact = resolveVersion(pkg, spec);
    } catch (err) {
      // Offline (or the registry refused): the newest matching version fetched earlier will do.
      const newest = cached.at(-1);
      if (newest === undefined) {
        const why = `the npm registry did not answer for ${pkg}, and ${CACHE_DIR} has no such version`;
        throw new Error(`--node ${spec}: ${why}`, { cause: err });
      }
      log(`npm registry not reachable; using ${pkg}@${newest} fetched earlier`);
      exact = newest;
    }
  }
  const dir = join(CACHE_DIR, exact);
  const binary = join(dir, 'bin', 'node');
  if (existsSync(binary)) return binary;
  log(`fetching ${pkg}@${exact} from the npm registry…`);
  mkdirSync(CACHE_DIR, { recursive: true });
  const work = join(CACHE_DIR, `.fetch-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work);
  try {
    const tarball = execFileSync('npm', ['pack', `${pkg}@${exact}`, '--silent'], { cwd: work })
      .toString()
      .trim()
      .split('\n')
      .pop() as string;
    execFileSync('tar', ['xzf', tarball], { cwd: work });
    rmSync(dir, { recursive: true, force: true });
    renameSync(join(work, 'package'), dir);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  if (!existsSync(binary))
    throw new Error(`${pkg}@${exact} has no bin/node (${readdirSync(dir).join(', ')})`);
  return binary;
}

/** Of `versions`, those `spec` names (`24` → every 24.x.y; `24.21.0` → that one), oldest first. */
export function matchingVersions(versions: readonly string[], spec: string): string[] {
  return versions.filter((v) => v === spec || v.startsWith(`${spec}.`)).sort(byVersion);
}

/** Versions fetched into CACHE_DIR earlier (those with a binary). */
function cachedVersions(): string[] {
  if (!existsSync(CACHE_DIR)) return [];
  return readdirSync(CACHE_DIR).filter((v) => existsSync(join(CACHE_DIR, v, 'bin', 'node')));
}

/** The newest published version matching `spec` (`24` → `24.21.0`). */
function resolveVersion(pkg: string, spec: string): string {
  const out = execFileSync('npm', ['view', `${pkg}@${spec}`, 'version', '--json'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  }).toString();
  const parsed = JSON.parse(out) as string | string[];
  // npm lists them in string order (24.9.0 after 24.21.0).
  const versions = (Array.isArray(parsed) ? parsed : [parsed]).sort(byVersion);
  const newest = versions.at(-1);
  if (newest === undefined) throw new Error(`--node ${spec}: no ${pkg} release matches`);
  return newest;
}

function byVersion(a: string, b: string): number {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return 0;
}

/** `node -v` of a binary (`v24.21.0`). */
export function nodeVersion(binary: string): string {
  return binary === process.execPath ? process.version : execFileSync(binary, ['-v']).toString().trim();
}

// `tsx scripts/lib/node-binary.ts [version…]`: fetch (default TESTED_NODE_VERSIONS) and print the paths.
if (require.main === module) {
  const specs = process.argv.slice(2);
  for (const spec of specs.length > 0 ? specs : TESTED_NODE_VERSIONS)
    console.log(nodeBinary(spec, (line) => console.error(line)));
}
