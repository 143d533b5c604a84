#!/usr/bin/env node
// Runs vitest and ends with the plain summary line `N passed, N failed, N skipped` that CI reads.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { installFixtures } from './install-fixtures.mjs';

// The compat fixtures' pinned libraries (scripts/install-fixtures.mjs): installed here when missing
// or older than their lock files, so `npm test` alone works on a fresh checkout.
const installed = installFixtures();
if (installed !== 0) process.exit(installed);

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
