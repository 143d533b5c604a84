/**
 * A Next.js app (test/fixtures/next/site: an app-router page and route handler and a pages-router API
 * route, each with one pg query and one ioredis read) built with `next build` and run with `next start`
 * under the preload (NODE_OPTIONS=--require) — and the same build's standalone `server.js` (`output:
 * 'standalone'`), as Docker images run it — exporting to the sidecar: each request is named by
 * Next's route template, static files are one `(static)` row, a 404 no route took is `(unmatched)`,
 * the queries and cache reads are counted on their request — the app router's ioredis is bundled (read
 * from its tracing channel), the pages router's required (patched; not counted twice) — and no word of a
 * path reaches an output.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, type LocalServer, startPostgres, startRedis } from '../../scripts/lib/local-servers';
import type { RunningSidecar } from '../../src/sidecar/sidecar';
import { assertBuilt, PRELOAD, REPO_ROOT } from '../fixtures/preload-app/harness';
import { endpointRowsOf, routeFigures, type SentRequest, sendAll } from '../helpers/route-rows';
import { startTestSidecar } from '../helpers/sidecar';
import { sidecarOutputs } from '../helpers/unrouted-paths';

const FIXTURE = join(REPO_ROOT, 'test', 'fixtures', 'next');
const NEXT_BIN = join(FIXTURE, 'node_modules', 'next', 'dist', 'bin', 'next');
/** Words in the paths sent, none of which may reach an output. */
const WORDS = ['zebediah', 'marmalade', 'quillon', 'confidential', 'quarterly', 'nowhere'];

/** Runs `node <args>` in `cwd` to its end; rejects with its output unless it exits 0. */
function run(args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`node ${args.join(' ')}:\n${out}`)),
    );
  });
}

/** The environment without the test process's own OpenTelemetry settings. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NEXT_TELEMETRY_DISABLED: '1' };
  for (const key of Object.keys(env)) if (key.startsWith('OTEL_')) delete env[key];
  return { ...env, ...extra };
}

interface Served {
  child: ChildProcess;
  port: number;
  output(): string;
}

/** Runs a Next server (`args` after `node`) under the preload on a free port; resolves once Next is ready. */
async function serve(args: string[], cwd: string, env: Record<string, string>): Promise<Served> {
  const port = await freePort();
  const child = spawn(process.execPath, args, {
    cwd,
    env: cleanEnv({
      ...env,
      PORT: String(port),
      HOSTNAME: '127.0.0.1',
      NODE_OPTIONS: `--require ${PRELOAD}`,
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  const deadline = Date.now() + 30_000;
  while (!/Ready in/.test(output)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`node ${args.join(' ')} did not start:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, port, output: () => output };
}

async function stop(served: Served | undefined): Promise<void> {
  const child = served?.child;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

/** The standalone build's `server.js`: under the path of the app from Next's root (the fixture dir). */
function standaloneServer(dir: string): string {
  const standalone = join(dir, '.next', 'standalone');
  const server = join(standalone, dir.slice(FIXTURE.length + 1), 'server.js');
  if (!existsSync(server)) throw new Error(`no standalone server.js at ${server}`);
  // As deployments do: the static files and public/ beside it (next build leaves them out).
  cpSync(join(dir, '.next', 'static'), join(dirname(server), '.next', 'static'), { recursive: true });
  cpSync(join(dir, 'public'), join(dirname(server), 'public'), { recursive: true });
  return server;
}

describe('a Next.js app under the preload, sending to a sidecar', () => {
  let dir: string;
  let pg: LocalServer;
  let redis: LocalServer;
  let sidecar: RunningSidecar;
  let nextStart: Served | undefined;
  let standalone: Served | undefined;
  let ownOtel: Served | undefined;

  beforeAll(async () => {
    assertBuilt();
    if (!existsSync(NEXT_BIN))
      throw new Error(`${NEXT_BIN} is missing: run \`node scripts/install-fixtures.mjs\` first`);
    // Inside the fixture, so the build resolves the fixture's node_modules (Next ~25 s on 2 cores).
    dir = mkdtempSync(join(FIXTURE, '.build-'));
    cpSync(join(FIXTURE, 'site'), dir, { recursive: true });
    [pg, redis, sidecar] = await Promise.all([
      startPostgres(),
      startRedis(),
      startTestSidecar({ assembly: { idleMs: 3_000 } }),
      run([NEXT_BIN, 'build'], dir, cleanEnv({ NEXT_FIXTURE_STANDALONE: '1' })),
    ]);
    const env = (service: string) => ({
      PG_URL: pg.url,
      REDIS_URL: redis.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: sidecar.receiverUrl,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_SERVICE_NAME: service,
    });
    [nextStart, standalone, ownOtel] = await Promise.all([
      serve([NEXT_BIN, 'start'], dir, env('next-app')),
      serve([standaloneServer(dir)], dir, env('next-standalone')),
      // The app registers its own OpenTelemetry SDK (instrumentation.js): Next traces itself into it.
      serve([NEXT_BIN, 'start'], dir, { ...env('next-own-otel'), APP_OWN_OTEL: '1' }),
    ]);
  }, 180_000);

  afterAll(async () => {
    await Promise.all([stop(nextStart), stop(standalone), stop(ownOtel)]);
    await Promise.all([sidecar?.shutdown(), pg?.stop(), redis?.stop()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['next start', 'next-app', () => nextStart],
    ['standalone server.js', 'next-standalone', () => standalone],
    ["next start with the app's own OpenTelemetry SDK", 'next-own-otel', () => ownOtel],
  ])(
    "%s: names each request by Next's route template, static files (static), a 404 (unmatched)",
    async (_how, service, served) => {
      const app = served() as Served;
      const chunks = readdirSync(join(dir, '.next', 'static', 'chunks'))
        .filter((name) => name.endsWith('.js'))
        .slice(0, 2);
      expect(chunks).toHaveLength(2);
      const sent: SentRequest[] = [
        ['/users/zebediah', 200],
        ['/users/marmalade', 200],
        ['/users/quillon', 200],
        ['/api/orders/4711', 200],
        // The route handler's own 404 (an order id that is not a number) is still its route's.
        ['/api/orders/confidential', 404],
        ['/api/teams/quarterly', 200],
        ['/api/boom/zebediah', 500],
        // Next's proxy (middleware) answers before routing without an authorization header.
        ['/private/marmalade', 401],
        ['/private/quillon', 200, { authorization: 'Bearer x' }],
        ['/', 200],
        ['/nowhere/zebediah', 404],
        [`/_next/static/chunks/${chunks[0]}`, 200],
        [`/_next/static/chunks/${chunks[1]}`, 200],
        ['/robots.txt', 200],
        ['/_next/static/chunks/marmalade.js', 404],
      ];
      expect(await sendAll(app.port, sent)).toEqual(sent.map(([path, status]) => [path, status]));

      const rows = await endpointRowsOf(sidecar.apiUrl, service, sent.length);
      expect(routeFigures(rows)).toEqual(
        [
          ['GET /users/[username]', 3, 0, 1, 1],
          ['GET /api/orders/[id]', 2, 0, 1, 1],
          ['GET /api/teams/[team]', 1, 0, 1, 1],
          ['GET /api/boom/[name]', 1, 1, 1, 0],
          ['GET /private/[name]', 1, 0, 1, 1],
          ['GET (middleware)', 1, 0, 0, 0],
          ['GET /', 1, 0, 0, 0],
          ['GET (static)', 3, 0, 0, 0],
          ['GET (unmatched)', 2, 0, 0, 0],
        ].sort(),
      );
      const everything = `${JSON.stringify(rows)}\n${await sidecarOutputs(sidecar.apiUrl)}`;
      for (const word of WORDS) expect(everything).not.toContain(word);
      expect(app.output()).not.toContain('spanstat');
    },
    60_000,
  );

  it("leaves the app's own OpenTelemetry SDK its spans, with Next's own http.route on them", async () => {
    const app = ownOtel as Served;
    await sendAll(app.port, [
      ['/users/zebediah', 200],
      ['/api/orders/4711', 200],
      ['/api/teams/quarterly', 200],
    ]);
    const res = await fetch(`http://127.0.0.1:${app.port}/api/own-spans`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(
      expect.arrayContaining(['/users/[username]', '/api/orders/[id]', '/api/teams/[team]']),
    );
  });
});
