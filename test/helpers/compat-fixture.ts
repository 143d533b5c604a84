/**
 * The pinned fixture packages the compat tests run: test/fixtures/compat (preload-compat.test.ts,
 * preload-node-redis.test.ts) and test/fixtures/compat-legacy (preload-legacy-redis.test.ts, preload-fastify.test.ts), each a
 * package of its own installed by `npm ci --prefix <dir>` (scripts/run-tests.mjs and .ci/run do it
 * before the tests, for every fixture scripts/install-fixtures.mjs lists), and test/fixtures/routers
 * (preload-hono.test.ts, preload-restify.test.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../fixtures/preload-app/harness';

export const COMPAT_DIR = fixtureDir('compat');
export const COMPAT_LEGACY_DIR = fixtureDir('compat-legacy');
/** Hono with @hono/node-server, and Restify (preload-hono.test.ts, preload-restify.test.ts). */
export const ROUTERS_DIR = fixtureDir('routers');

function fixtureDir(name: string): string {
  return join(REPO_ROOT, 'test', 'fixtures', name);
}

/**
 * The versions the fixture's package.json pins, each checked in its node_modules; throws what to
 * run. `dir` is COMPAT_DIR, COMPAT_LEGACY_DIR or ROUTERS_DIR.
 */
export function installedPins(dir: string = COMPAT_DIR): Record<string, string> {
  const pins = (
    JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    }
  ).dependencies;
  const wrong: string[] = [];
  for (const [name, version] of Object.entries(pins)) {
    let found: string | undefined;
    try {
      found = (
        JSON.parse(readFileSync(join(dir, 'node_modules', name, 'package.json'), 'utf8')) as {
          version?: string;
        }
      ).version;
    } catch {
      found = undefined;
    }
    if (found !== version)
      wrong.push(`${name}@${version} (${found === undefined ? 'missing' : `found ${found}`})`);
  }
  const fixture = `test/fixtures/${dir.split(/[\\/]/).pop()}`;
  if (wrong.length > 0)
    throw new Error(
      `${fixture}'s libraries are not installed: ${wrong.join(', ')}. Run ` +
        `\`npm ci --prefix ${fixture} --no-audit --no-fund\` (.ci/run does it before npm test).`,
    );
  return pins;
}
