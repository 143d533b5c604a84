/**
 * The default `service.name` when OTEL_SERVICE_NAME is unset: the `name` of the app's own
 * package.json (nearest one above the main script, outside node_modules), else the script's file
 * name; and the default `service.version`: that package.json's `version`. Runs once at startup; a few
 * synchronous stat/reads are cheaper than an async detector.
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, extname, resolve, sep } from 'node:path';

const FALLBACK = 'unknown_service:node';

interface AppPackage {
  name: string;
  version: string | undefined;
}

export function detectServiceName(scriptPath: string | undefined, cwd: string): string {
  if (!scriptPath) return appPackage(cwd)?.name ?? FALLBACK;
  const found = appPackage(packageSearchStart(resolve(cwd, scriptPath)));
  if (found !== undefined) return found.name;
  const script = resolve(cwd, scriptPath);
  return script.includes(`${sep}node_modules${sep}`)
    ? FALLBACK
    : basename(script, extname(script)) || FALLBACK;
}

/**
 * The `version` of the package.json that names the app (the one detectServiceName reads), or undefined.
 * Only a deploy that changes it shows as one: set `service.version` in OTEL_RESOURCE_ATTRIBUTES (a git
 * SHA, an image tag) where releases do not bump package.json.
 */
export function detectServiceVersion(scriptPath: string | undefined, cwd: string): string | undefined {
  const start = scriptPath ? packageSearchStart(resolve(cwd, scriptPath)) : cwd;
  return appPackage(start)?.version;
}

/** Where the app's package.json is looked for: above the script, or above the app that installed a CLI. */
function packageSearchStart(script: string): string {
  // A CLI run from node_modules (next, ts-node, …) belongs to the app that installed it.
  const inDependency = script.indexOf(`${sep}node_modules${sep}`);
  return inDependency >= 0 ? script.slice(0, inDependency) : dirname(script);
}

function appPackage(startDir: string): AppPackage | undefined {
  let dir = startDir;
  for (let depth = 0; depth < 32; depth++) {
    const found = readPackage(resolve(dir, 'package.json'));
    if (found !== undefined) return found;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
  return undefined;
}

/** A package.json with a name (its version when it has one), or undefined. */
function readPackage(file: string): AppPackage | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const parsed = JSON.parse(text) as { name?: unknown; version?: unknown };
    if (typeof parsed.name !== 'string' || !parsed.name.trim()) return undefined;
    const version =
      typeof parsed.version === 'string' && parsed.version.trim() ? parsed.version.trim() : undefined;
    return { name: parsed.name.trim(), version };
  } catch {
    return undefined;
  }
}
