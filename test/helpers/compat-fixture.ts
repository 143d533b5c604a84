/**
 * test/fixtures/compat: a package of its own pinning the library versions the compat tests run
 * (preload-compat.test.ts, preload-node-redis.test.ts), installed by `npm ci --prefix
 * test/fixtures/compat` (scripts/run-tests.mjs and .ci/run do it before the tests).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../fixtures/preload-app/harness';

export const COMPAT_DIR = join(REPO_ROOT, 'test', 'fixtures', 'compat');
const INSTALL = 'npm ci --prefix test/fixtures/compat --no-audit --no-fund';

/** The versions the fixture's package.json pins, each checked in its node_modules; throws what to run. */
export function installedPins(): Record<string, string> {
  const pins = (
    JSON.parse(readFileSync(join(COMPAT_DIR, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    }
  ).dependencies;
  const wrong: string[] = [];
  for (const [name, version] of Object.entries(pins)) {
    let found: string | undefined;
    try {
      found = (
        JSON.parse(readFileSync(join(COMPAT_DIR, 'node_modules', name, 'package.json'), 'utf8')) as {
          version?: string;
        }
      ).version;
    } catch {
      found = undefined;
    }
    if (found !== version)
      wrong.push(`${name}@${version} (${found === undefined ? 'missing' : `found ${found}`})`);
  }
  if (wrong.length > 0)
    throw new Error(
      `test/fixtures/compat's libraries are not installed: ${wrong.join(', ')}. Run \`${INSTALL}\` ` +
        '(.ci/run does it before npm test).',
    );
  return pins;
}
