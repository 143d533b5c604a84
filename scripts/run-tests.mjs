#!/usr/bin/env node
// Runs vitest and ends with the plain summary line `N passed, N failed, N skipped` that CI reads.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';

// The compat fixture's pinned Express 4 / ioredis 5 / pg (test/integration/preload-compat.test.ts):
// installed here when missing or older than its lock file, so `npm test` alone works on a fresh checkout.
const fixture = 'test/fixtures/compat';
const installed = `${fixture}/node_modules/.package-lock.json`;
if (
  !existsSync(installed) ||
  statSync(installed).mtimeMs < statSync(`${fixture}/package-lock.json`).mtimeMs
) {
  console.log(`installing ${fixture}'s pinned libraries (npm ci --prefix ${fixture})`);
  const install = spawnSync('npm', ['ci', '--prefix', fixture, '--no-audit', '--no-fund'], {
    stdio: 'inherit',
  });
  if (install.status !== 0) process.exit(install.status ?? 1);
}

mkdirSync('.tmp', { recursive: true });
const report = '.tmp/vitest-report.json';
rmSync(report, { force: true });
const args = [
  'vitest',
  'run',
  '--reporter=default',
  '--reporter=json',
  `--outputFile.json=${report}`,
  ...process.argv.slice(2),
];
const result = spawnSync('npx', args, { stdio: 'inherit' });
if (existsSync(report)) {
  const json = JSON.parse(readFileSync(report, 'utf8'));
  const skipped = (json.numPendingTests ?? 0) + (json.numTodoTests ?? 0);
  console.log(`tests: ${json.numPassedTests} passed, ${json.numFailedTests} failed, ${skipped} skipped`);
}
process.exit(result.status ?? 1);
