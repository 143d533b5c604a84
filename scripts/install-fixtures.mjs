#!/usr/bin/env node
// The pinned fixture packages the compat tests load their libraries from, each with its own lock
// file: test/fixtures/compat (Express 4, ioredis 5, pg 8.11, redis 5, Restify 12, graphql 17, tRPC 10; preload-compat, preload-restify and
// preload-node-redis tests) and test/fixtures/compat-legacy (redis 4, ioredis 4, Fastify 4, Hono 4.4; preload-legacy-redis,
// preload-fastify and preload-hono tests), test/fixtures/next, next15 and next14 (Next.js 16, 15 and 14 with pg and ioredis 5.11;
// preload-next test) and test/fixtures/routers (Hono 4 on @hono/node-server, Restify 11, with pg and ioredis;
// preload-hono and preload-restify tests). `npm ci --prefix <fixture>` for each one missing or older than its lock file, or for every
// one with --always (.ci/run, on a fresh machine). scripts/run-tests.mjs runs it before the tests.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const FIXTURES = [
  'test/fixtures/compat',
  'test/fixtures/compat-legacy',
  'test/fixtures/next',
  'test/fixtures/next15',
  'test/fixtures/next14',
  'test/fixtures/routers',
];

/** True when `fixture`'s node_modules is missing or older than its package-lock.json. */
function stale(fixture) {
  const installed = `${fixture}/node_modules/.package-lock.json`;
  return (
    !existsSync(installed) || statSync(installed).mtimeMs < statSync(`${fixture}/package-lock.json`).mtimeMs
  );
}

/** Installs the fixtures that need it (all with `always`); returns npm's exit status, 0 when all went well. */
export function installFixtures({ always = false } = {}) {
  for (const fixture of FIXTURES) {
    if (!always && !stale(fixture)) continue;
    console.log(`installing ${fixture}'s pinned libraries (npm ci --prefix ${fixture})`);
    const install = spawnSync('npm', ['ci', '--prefix', fixture, '--no-audit', '--no-fund'], {
      stdio: 'inherit',
    });
    if (install.status !== 0) return install.status ?? 1;
  }
  return 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url))
  process.exit(installFixtures({ always: process.argv.includes('--always') }));
