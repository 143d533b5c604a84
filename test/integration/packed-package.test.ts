/**
 * spanstat as an app installs it: `npm pack` of this checkout, installed into a temp app with `npm install`,
 * then the installed package's `spanstat` bin runs the sidecar and its `spanstat/preload` export (resolved
 * through the package's exports map, as `--require spanstat/preload` is) instruments an Express + pg + ioredis
 * app and an ES module postgres.js app (the module loader hook's file). Every other test runs this
 * checkout's dist/: a file the package leaves out, a wrong exports entry or a bin that does not start would
 * pass them all.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SidecarProcess, startSidecarProcess } from '../../scripts/lib/demo-stack';
import { type LocalServer, startPostgres, startRedis } from '../../scripts/lib/local-servers';
import { type AppRun, assertBuilt, REPO_ROOT, startApp } from '../fixtures/preload-app/harness';
import { getJson, waitFor } from '../helpers/sidecar';

const run = promisify(execFile);

interface EndpointRow {
  service: string;
  method: string;
  route: string;
  requests: number;
  queriesPerRequest: number;
  cacheOpsPerRequest: number;
}

describe('the packed package, installed into an app', () => {
  let dir: string;
  let appDir: string;
  let installed: NodeRequire;
  let pg: LocalServer;
  let redis: LocalServer;
  let sidecar: SidecarProcess;
  const apps: AppRun[] = [];

  beforeAll(async () => {
    assertBuilt();
    dir = mkdtempSync(join(tmpdir(), 'spanstat-packed-'));
    // --ignore-scripts: the tests run on the dist/ `npm test` has just built (prepack would build it again).
    const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], {
      cwd: REPO_ROOT,
    });
    const [packed] = JSON.parse(stdout) as { filename: string }[];
    appDir = join(dir, 'app');
    mkdirSync(appDir);
    writeFileSync(
      join(appDir, 'package.json'),
      JSON.stringify({
        name: 'packed-app',
        private: true,
        dependencies: { spanstat: `file:../${packed.filename}` },
      }),
    );
    // Its dependencies come from npm's cache where `npm ci` of this checkout put them.
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], {
      cwd: appDir,
    });
    installed = createRequire(join(appDir, 'package.json'));
    [pg, redis, sidecar] = await Promise.all([
      startPostgres(),
      startRedis(),
      startSidecarProcess({
        cli: join(appDir, 'node_modules', '.bin', 'spanstat'),
        env: { SPANSTAT_ASSEMBLY_IDLE_MS: '300' },
      }),
    ]);
  }, 240_000);

  afterAll(async () => {
    await Promise.all(apps.map((app) => app.stop()));
    await Promise.all([sidecar?.child.stop(), pg?.stop(), redis?.stop()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('resolves its exports from the installed package, and nothing of the checkout', () => {
    const root = join(appDir, 'node_modules', 'spanstat');
    expect(installed.resolve('spanstat/preload')).toBe(join(root, 'dist', 'preload.js'));
    expect(installed.resolve('spanstat/job')).toBe(join(root, 'dist', 'job.js'));
    expect(installed.resolve('spanstat')).toBe(join(root, 'dist', 'index.js'));
    const job = installed('spanstat/job') as typeof import('../../src/job');
    expect(job.runJob('packed', () => 42)).toBe(42);
    const version = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string })
      .version;
    expect(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version).toBe(version);
  });

  it("its bin's sidecar and its preload report an Express app's and an ES module app's requests exactly", async () => {
    const preloadPath = installed.resolve('spanstat/preload');
    const env = (service: string) => ({
      PG_URL: pg.url,
      REDIS_URL: redis.url,
      OTEL_SERVICE_NAME: service,
      OTEL_EXPORTER_OTLP_ENDPOINT: sidecar.receiverUrl,
      OTEL_BSP_SCHEDULE_DELAY: '100',
    });
    const [express, esm] = await Promise.all([
      startApp({ preloadPath, env: env('packed-express') }),
      startApp({ preloadPath, script: 'postgres-js-app.mjs', env: { ...env('packed-esm'), PG_MAX: '2' } }),
    ]);
    apps.push(express, esm);
    // /api/users/:id: one query, a GET, and a SET when the GET missed.
    for (const path of ['/api/users/1', '/api/users/2', '/api/users/1'])
      expect([path, await express.get(path)]).toEqual([path, 200]);
    // postgres.js's ES build: one query per request, patched only through the module loader hook.
    for (const path of ['/sleep/1', '/sleep/2']) expect([path, await esm.get(path)]).toEqual([path, 200]);

    const url = `${sidecar.apiUrl}/api/v1/reports/endpoints`;
    const rows = await waitFor(async () => {
      const report = await getJson<{ rows: EndpointRow[] }>(url);
      const count = (service: string) =>
        report.rows.filter((r) => r.service === service).reduce((n, r) => n + r.requests, 0);
      return count('packed-express') === 3 && count('packed-esm') === 2 ? report.rows : undefined;
    });
    expect(
      (rows ?? [])
        .map((r) => [
          r.service,
          `${r.method} ${r.route}`,
          r.requests,
          r.queriesPerRequest,
          r.cacheOpsPerRequest,
        ])
        .sort(),
    ).toEqual([
      ['packed-esm', 'GET /sleep/:ms', 2, 1, 0],
      ['packed-express', 'GET /api/users/:id', 3, 1, 1.6667],
    ]);
  });

  it("its bin's report and advise commands read the sidecar", async () => {
    const bin = join(appDir, 'node_modules', '.bin', 'spanstat');
    const report = await run(process.execPath, [bin, 'report', 'endpoints', '--api', sidecar.apiUrl]);
    expect(report.stdout).toContain('/api/users/:id');
    const services = await run(process.execPath, [bin, 'report', 'services', '--api', sidecar.apiUrl]);
    expect(services.stdout).toMatch(/^packed-express\s+requests\s+1\s+3\s/m);
    expect(services.stdout).toMatch(/^packed-esm\s+requests\s+1\s+2\s/m);
    const advise = await run(process.execPath, [bin, 'advise', '--api', sidecar.apiUrl]);
    expect(advise.stdout.length).toBeGreaterThan(0);
    const version = await run(process.execPath, [bin, '--version']);
    expect(version.stdout.trim()).toBe(installed('spanstat/package.json').version);
  });
});
