/**
 * The default `service.name` when OTEL_SERVICE_NAME is unset: the `name` of the app's own
 * package.json (nearest one above the main script, outside node_modules), else the script's file
 * name. Runs once at startup; a few synchronous stat/reads are cheaper than an async detector.
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, extname, resolve, sep } from 'node:path';

const FALLBACK = 'unknown_service:node';

export function detectServiceName(scriptPath: string | undefined, cwd: string): string {
  if (!scriptPath) return packageName(cwd) ?? FALLBACK;
  const script = resolve(cwd, scriptPath);
  // A CLI run from node_modules (next, ts-node, …) belongs to the app that installed it.
  const inDependency = script.indexOf(`${sep}node_modules${sep}`);
  if (inDependency >= 0) return packageName(script.slice(0, inDependency)) ?? FALLBACK;
  return packageName(dirname(script)) ?? (basename(script, extname(script)) || FALLBACK);
}

function packageName(startDir: string): string | undefined {
  let dir = startDir;
  for (let depth = 0; depth < 32; depth++) {
    const name = readName(resolve(dir, 'package.json'));
    if (name !== undefined) return name;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
  return undefined;
}

function readName(file: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const parsed = JSON.parse(text) as { name?: unknown };
    return typeof parsed.name === 'string' && parsed.name.trim() ? parsed.name.trim() : undefined;
  } catch {
    return undefined;
  }
}
