/**
 * A Next.js app (test/fixtures/next/site: an app-router page and route handler and a pages-router API
 * route, each with one pg query and one ioredis read), on Next 16, 15 and 14 (test/fixtures/next15 and next14,
 * whose `site/` holds the files those name otherwise), built with `next build` and run with `next start`
 * under the preload (NODE_OPTIONS=--require) — and the same build's standalone `server.js` (`output:
 * 'standalone'`), as Docker images run it, and a custom server (site/custom-server.js: in Node's http server, and as an Express
 * app's catch-all route) — exporting to the sidecar: each request is named by
 * Next's route template, static files are one `(static)` row, a 404 no route took is `(unmatched)`,
 * the queries and cache reads are counted on their request — the app router's ioredis is bundled (read
 * from its tracing channel), the pages router's required (patched; not counted twice), postgres.js (lib/ledger.js)
 * imported by a route handler as an ES module (external: on Node 20 the module loader hook's) — and no word of a
 * path reaches an output; tRPC (lib/trpc.js) in a route handler and a pages-router API route is named by
 * procedure. And `next dev` of each (Turbopack on 16, webpack on 15 and 14): the same names, and
 * Next's dev chunks and dev overlay endpoints `(static)`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, type LocalServer, startPostgres, startRedis } from '../../scripts/lib/local-servers';
import type { RunningSidecar } from '../../src/sidecar/sidecar';
import { assertBuilt, PRELOAD, REPO_ROOT } from '../fixtures/preload-app/harness';
import { COMPAT_DIR } from '../helpers/compat-fixture';
import { endpointRowsOf, routeFigures, type SentRequest, sendAll } from '../helpers/route-rows';
import { startTestSidecar } from '../helpers/sidecar';
import { sidecarOutputs } from '../helpers/unrouted-paths';

const FIXTURES = join(REPO_ROOT, 'test', 'fixtures');
/** The app's sources, Next 16's (`next/site`); a version's own files go over them. */
const SITE = join(FIXTURES, 'next', 'site');
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

/**
 * Ends the server: SIGKILL, or with SIGTERM (`next dev`, whose server is a child of its own that SIGKILL
 * would leave writing to `.next` a while) SIGKILL only if it has not exited within 10 s.
 */
async function stop(served: Served | undefined, signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
  const child = served?.child;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  const late = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(late);
}

/** The standalone build's `server.js`: under the path of the app from Next's root (the fixture dir). */
function standaloneServer(fixture: string, dir: string): string {
  const standalone = join(dir, '.next', 'standalone');
  const server = join(standalone, dir.slice(fixture.length + 1), 'server.js');
  if (!existsSync(server)) throw new Error(`no standalone server.js at ${server}`);
  // As deployments do: the static files and public/ beside it (next build leaves them out).
  cpSync(join(dir, '.next', 'static'), join(dirname(server), '.next', 'static'), { recursive: true });
  cpSync(join(dir, 'public'), join(dirname(server), 'public'), { recursive: true });
  return server;
}

/** A Next.js line under test: its fixture (its own pinned node_modules) and how its site differs. */
interface NextLine {
  name: string;
  /** test/fixtures/<fixture>: package.json, lock and, where the site differs, `site/` files over next/site's. */
  fixture: string;
  /** next/site files this line does not know (Next 15 has `middleware.js` where 16 has `proxy.js`). */
  dropped: string[];
  /** The `http.route`s Next itself gives the app's own OpenTelemetry SDK for three of the routes. */
  ownRoutes: string[];
  /**
   * What the dev overlay asks Next's dev server (its hot reloader) for: path, request, status. A 404 is
   * `(unmatched)`, any other answer `(static)`.
   */
  devAnswers: [string, RequestInit, number][];
  /** Dev files Next's router answers without its hot reloader or a route: path, status, the row they are in. */
  devRouterFiles: [string, number, string][];
}

const post = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});
/** Next 15's and 16's dev overlay endpoints. */
const DEV_ANSWERS: NextLine['devAnswers'] = [
  ['/__nextjs_original-stack-frames', post({ frames: [], isServer: true, isAppDirectory: true }), 200],
  ['/__nextjs_devtools_config', post({}), 204],
  ['/__nextjs_font/geist-latin.woff2', {}, 200],
  ['/__nextjs_font/zebediah.woff2', {}, 404],
];
// Answered by Next's router without its hot reloader or a route: (middleware), as the sidecar names a
// request without a route in a service whose others have one.
const DEV_ROUTER_FILES: NextLine['devRouterFiles'] = [
  ['/_next/static/development/_devPagesManifest.json', 200, '(middleware)'],
  ['/.well-known/appspecific/com.chrome.devtools.json', 200, '(middleware)'],
];

/** A copy of the line's site in a temp dir of its fixture, so it resolves that fixture's node_modules. */
function copySite(line: NextLine, fixture: string): string {
  const dir = mkdtempSync(join(fixture, '.build-'));
  cpSync(SITE, dir, { recursive: true });
  for (const name of line.dropped) rmSync(join(dir, name));
  if (existsSync(join(fixture, 'site'))) cpSync(join(fixture, 'site'), dir, { recursive: true });
  return dir;
}

const LINES: NextLine[] = [
  {
    name: 'Next.js 16',
    fixture: 'next',
    dropped: [],
    ownRoutes: ['/users/[username]', '/api/orders/[id]', '/api/teams/[team]'],
    devAnswers: DEV_ANSWERS,
    devRouterFiles: DEV_ROUTER_FILES,
  },
  {
    // `next build` with webpack (Next 15's default; Turbopack builds were beta).
    name: 'Next.js 15',
    fixture: 'next15',
    dropped: ['proxy.js'],
    // Next 15's route handler overwrites its root span's route with its file's path (`…/[id]/route`);
    // the preload keeps the first template Next notes, the route's.
    ownRoutes: ['/users/[username]', '/api/orders/[id]/route', '/api/teams/[team]'],
    devAnswers: DEV_ANSWERS,
    devRouterFiles: DEV_ROUTER_FILES,
  },
  {
    // Next 14: webpack, `middleware.js`, its own next.config.js (test/fixtures/next14/site); its tracer notes no
    // route without an SDK (next-route.ts reads its server's calls).
    name: 'Next.js 14',
    fixture: 'next14',
    dropped: ['proxy.js'],
    ownRoutes: ['/users/[username]', '/api/orders/[id]/route', '/api/teams/[team]'],
    // Its overlay's two endpoints (GET): a stack frame without a file, an editor for a file that is not there.
    devAnswers: [
      ['/__nextjs_original-stack-frame?isServer=true&isAppDirectory=true', {}, 400],
      ['/__nextjs_launch-editor?file=zebediah.js&lineNumber=1', {}, 204],
    ],
    devRouterFiles: [
      ['/_next/static/development/_devPagesManifest.json', 200, '(middleware)'],
      ['/.well-known/appspecific/com.chrome.devtools.json', 404, '(unmatched)'],
    ],
  },
];

describe.each(LINES)('a $name app under the preload, sending to a sidecar', (line) => {
  const fixture = join(FIXTURES, line.fixture);
  const nextBin = join(fixture, 'node_modules', 'next', 'dist', 'bin', 'next');
  let dir: string;
  let pg: LocalServer;
  let redis: LocalServer;
  let sidecar: RunningSidecar;
  let nextStart: Served | undefined;
  let standalone: Served | undefined;
  let ownOtel: Served | undefined;
  let custom: Served | undefined;
  let customExpress: Served | undefined;
  let env: (service: string) => Record<string, string>;

  beforeAll(async () => {
    assertBuilt();
    if (!existsSync(nextBin))
      throw new Error(`${nextBin} is missing: run \`node scripts/install-fixtures.mjs\` first`);
    // Next 16's build (Turbopack) ~25 s on 2 cores, Next 15's (webpack) ~45 s.
    dir = copySite(line, fixture);
    [pg, redis, sidecar] = await Promise.all([
      startPostgres(),
      startRedis(),
      startTestSidecar({ assembly: { idleMs: 3_000 } }),
      run([nextBin, 'build'], dir, cleanEnv({ NEXT_FIXTURE_STANDALONE: '1' })),
    ]);
    env = (service: string) => ({
      PG_URL: pg.url,
      REDIS_URL: redis.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: sidecar.receiverUrl,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_SERVICE_NAME: service,
    });
    [nextStart, standalone, ownOtel, custom, customExpress] = await Promise.all([
      serve([nextBin, 'start'], dir, env('next-app')),
      serve([standaloneServer(fixture, dir)], dir, env('next-standalone')),
      // The app registers its own OpenTelemetry SDK (instrumentation.js): Next traces itself into it.
      serve([nextBin, 'start'], dir, { ...env('next-own-otel'), APP_OWN_OTEL: '1' }),
      serve([join(dir, 'custom-server.js')], dir, env('next-custom')),
      serve([join(dir, 'custom-server.js')], dir, {
        ...env('next-custom-express'),
        EXPRESS_FROM: COMPAT_DIR,
      }),
    ]);
  }, 480_000);

  afterAll(async () => {
    await Promise.all([stop(nextStart), stop(standalone), stop(ownOtel), stop(custom), stop(customExpress)]);
    await Promise.all([sidecar?.shutdown(), pg?.stop(), redis?.stop()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['next start', 'next-app', () => nextStart],
    ['standalone server.js', 'next-standalone', () => standalone],
    ["next start with the app's own OpenTelemetry SDK", 'next-own-otel', () => ownOtel],
    ['a custom server (next() in the app’s own http server)', 'next-custom', () => custom],
    [
      "a custom server in an Express app (Next's route, not Express's catch-all)",
      'next-custom-express',
      () => customExpress,
    ],
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
        // tRPC through the fetch adapter in a route handler and through its pages-router adapter: each
        // request named by the procedure (its input a word that must not show); a path the router has not
        // keeps the route.
        [`/api/trpc/orders.get?input=${encodeURIComponent('"zebediah"')}`, 200],
        [`/api/rpc/orders.get?input=${encodeURIComponent('"marmalade"')}`, 200],
        ['/api/trpc/quillon', 404],
        // postgres.js, imported as an ES module by a route handler (external: serverExternalPackages).
        ['/api/ledger/zebediah', 200],
        ['/api/ledger/marmalade', 200],
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
          ['GET /api/trpc/[trpc] (query orders.get)', 1, 0, 1, 1],
          ['GET /api/rpc/[trpc] (query orders.get)', 1, 0, 1, 1],
          ['GET /api/trpc/[trpc]', 1, 0, 0, 0],
          ['GET /api/ledger/[id]', 2, 0, 1, 1],
        ].sort(),
      );
      const everything = `${JSON.stringify(rows)}\n${await sidecarOutputs(sidecar.apiUrl)}`;
      for (const word of WORDS) expect(everything).not.toContain(word);
      expect(app.output()).not.toContain('spanstat');
    },
    60_000,
  );

  it("next dev: names routes by template, and Next's dev files and endpoints (static), before any page too", async () => {
    const devDir = copySite(line, fixture);
    let dev: Served | undefined;
    try {
      // Next 16 develops with Turbopack, Next 15 with webpack (their defaults).
      dev = await serve([nextBin, 'dev', '--hostname', '127.0.0.1'], devDir, env('next-dev'));
      // What the dev overlay asks Next's dev server (its hot reloader) for, before any page: the sidecar
      // has seen no route of this service yet, so a request without one would be named by its path.
      const devAnswers = line.devAnswers;
      const answered: [string, number][] = [];
      for (const [path, init] of devAnswers) {
        const res = await fetch(`http://127.0.0.1:${dev.port}${path}`, init);
        await res.arrayBuffer();
        answered.push([path, res.status]);
      }
      expect(answered).toEqual(devAnswers.map(([path, , status]) => [path, status]));
      // A page (compiled on its first request) and the dev chunks it loads.
      const html = await (await fetch(`http://127.0.0.1:${dev.port}/`)).text();
      const assets = [...html.matchAll(/src="(\/_next\/static\/[^"]+)"/g)].map(([, src]) =>
        src.replaceAll('&amp;', '&'),
      );
      expect(assets.length).toBeGreaterThan(2);
      // One or two requests a route: each is compiled on its first.
      const sent: SentRequest[] = [
        ['/users/zebediah', 200],
        ['/users/marmalade', 200],
        ['/api/orders/4711', 200],
        ['/api/orders/confidential', 404],
        ['/api/teams/quarterly', 200],
        ['/api/boom/zebediah', 500],
        ['/private/marmalade', 401],
        ['/private/quillon', 200, { authorization: 'Bearer x' }],
        ['/nowhere/zebediah', 404],
        ['/robots.txt', 200],
        ...assets.map((src): SentRequest => [src, 200]),
        ...line.devRouterFiles.map(([path, status]): SentRequest => [path, status]),
      ];
      expect(await sendAll(dev.port, sent)).toEqual(sent.map(([path, status]) => [path, status]));

      const rows = await endpointRowsOf(sidecar.apiUrl, 'next-dev', devAnswers.length + 1 + sent.length);
      // The overlay's answers: (static), a 404 (unmatched); the router's dev files in their rows.
      const answeredAs = (method: string, status: (s: number) => boolean) =>
        devAnswers.filter(([, init, s]) => (init.method ?? 'GET') === method && status(s)).length;
      const filesIn = (row: string) => line.devRouterFiles.filter(([, , r]) => r === row).length;
      const posts = answeredAs('POST', (s) => s !== 404);
      expect(routeFigures(rows)).toEqual(
        [
          ['GET /users/[username]', 2, 0, 1, 1],
          ['GET /api/orders/[id]', 2, 0, 1, 1],
          ['GET /api/teams/[team]', 1, 0, 1, 1],
          ['GET /api/boom/[name]', 1, 1, 1, 0],
          ['GET /private/[name]', 1, 0, 1, 1],
          ['GET (middleware)', 1 + filesIn('(middleware)'), 0, 0, 0],
          ['GET /', 1, 0, 0, 0],
          // robots.txt, the chunks and the dev overlay's answers.
          ['GET (static)', 1 + assets.length + answeredAs('GET', (s) => s !== 404), 0, 0, 0],
          ...(posts > 0 ? [['POST (static)', posts, 0, 0, 0]] : []),
          ['GET (unmatched)', 1 + answeredAs('GET', (s) => s === 404) + filesIn('(unmatched)'), 0, 0, 0],
        ].sort(),
      );
      const everything = `${JSON.stringify(rows)}\n${await sidecarOutputs(sidecar.apiUrl)}`;
      for (const word of WORDS) expect(everything).not.toContain(word);
      expect(dev.output()).not.toContain('spanstat');
    } finally {
      await stop(dev, 'SIGTERM');
      rmSync(devDir, { recursive: true, force: true });
    }
  }, 240_000);

  it("leaves the app's own OpenTelemetry SDK its spans, with Next's own http.route on them", async () => {
    const app = ownOtel as Served;
    await sendAll(app.port, [
      ['/users/zebediah', 200],
      ['/api/orders/4711', 200],
      ['/api/teams/quarterly', 200],
    ]);
    const res = await fetch(`http://127.0.0.1:${app.port}/api/own-spans`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(expect.arrayContaining(line.ownRoutes));
  });
});
