/**
 * The whole demo on this machine: private PostgreSQL and Redis, the seeded demo database, the
 * spanstat sidecar and the demo app under the preload, each on a free loopback port. Used by
 * `npm run demo`, the integration tests and the benchmarks. A failed start undoes itself;
 * `stop()` is idempotent and stops everything that was started, in reverse order.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { get } from 'node:http';
import { join, resolve } from 'node:path';
import { freePort, type LocalServer, startPostgres, startRedis } from './local-servers';

export const REPO_ROOT = resolve(__dirname, '..', '..');
export const DEMO_APP_DIR = join(REPO_ROOT, 'examples', 'demo-app');
export const CLI_PATH = join(REPO_ROOT, 'dist', 'cli', 'main.js');
export const PRELOAD_PATH = join(REPO_ROOT, 'dist', 'preload.js');

export interface DemoStackOptions {
  /** Start the sidecar (default true). */
  sidecar?: boolean;
  /** Load the preload into the app (default: same as `sidecar`). Without a sidecar it exports nowhere. */
  preload?: boolean;
  /** Create and fill the demo tables (default true). */
  seed?: boolean;
  /** Extra environment for the app (e.g. PG_POOL_MAX, OTEL_*). */
  appEnv?: NodeJS.ProcessEnv;
  /** Extra environment for the sidecar (SPANSTAT_* overrides). */
  sidecarEnv?: NodeJS.ProcessEnv;
  /** Extra arguments after `sidecar` (e.g. ['--config', file]). */
  sidecarArgs?: string[];
  /** Progress lines ("postgres ready on …"); silent by default. */
  log?: (line: string) => void;
  /** Stop everything and exit on SIGINT/SIGTERM of this process (the demo; not for tests). */
  stopOnSignals?: boolean;
  /** Per component (ms, default 30 s). */
  readyTimeoutMs?: number;
}

export interface DemoStack {
  /** http://127.0.0.1:<port> of the demo app. */
  appUrl: string;
  /** Sidecar API/page/metrics base URL; undefined without a sidecar. */
  apiUrl?: string;
  /** OTLP/HTTP base URL the app exports to; undefined without a sidecar. */
  receiverUrl?: string;
  databaseUrl: string;
  redisUrl: string;
  /** Last output lines of the children, for diagnosis. */
  output(): { app: string; sidecar: string };
  stop(): Promise<void>;
}

const OUTPUT_TAIL_BYTES = 16 * 1024;

export interface Child {
  process: ChildProcess;
  tail(): string;
  stop(): Promise<void>;
}

function startChild(name: string, args: string[], env: NodeJS.ProcessEnv, node = process.execPath): Child {
  const child = spawn(node, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-OUTPUT_TAIL_BYTES);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('error', (err) => keep(Buffer.from(`${name}: ${err.message}\n`)));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  return {
    process: child,
    tail: () => tail,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function lastLines(text: string, count = 20): string {
  const lines = text.trimEnd().split('\n').slice(-count);
  return lines.length && lines[0] ? `\n--- last output ---\n${lines.join('\n')}` : ' (no output)';
}

function exitText(child: ChildProcess): string {
  return child.signalCode ? `was killed by ${child.signalCode}` : `exited with code ${child.exitCode}`;
}

function waitForListening(app: Child, timeoutMs: number): Promise<number> {
  return new Promise((resolvePort, reject) => {
    let buffered = '';
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString();
      const match = /^listening on (\d+)$/m.exec(buffered);
      if (match) finish(() => resolvePort(Number(match[1])));
    };
    const onExit = () =>
      finish(() =>
        reject(new Error(`demo app ${exitText(app.process)} before listening${lastLines(app.tail())}`)),
      );
    const timer = setTimeout(
      () =>
        finish(() =>
          reject(new Error(`demo app did not listen within ${timeoutMs} ms${lastLines(app.tail())}`)),
        ),
      timeoutMs,
    );
    const finish = (settle: () => void) => {
      clearTimeout(timer);
      app.process.stdout?.off('data', onData);
      app.process.off('exit', onExit);
      settle();
    };
    app.process.stdout?.on('data', onData);
    app.process.once('exit', onExit);
  });
}

/** Status of GET url, or 0 when nothing answered. */
export function httpStatus(url: string, timeoutMs = 2_000): Promise<number> {
  return new Promise((done) => {
    const req = get(url, { timeout: timeoutMs }, (res) => {
      res.resume();
      done(res.statusCode ?? 0);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => done(0));
  });
}

async function waitForHealthz(sidecar: Child, url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (sidecar.process.exitCode !== null || sidecar.process.signalCode !== null) {
      throw new Error(`sidecar ${exitText(sidecar.process)} before it was ready${lastLines(sidecar.tail())}`);
    }
    if ((await httpStatus(url)) === 200) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `sidecar did not answer ${url} with 200 within ${timeoutMs} ms${lastLines(sidecar.tail())}`,
  );
}

function runSeed(databaseUrl: string): Promise<void> {
  return new Promise((done, reject) => {
    execFile(
      process.execPath,
      [join(DEMO_APP_DIR, 'seed.js')],
      { cwd: REPO_ROOT, env: { ...process.env, DATABASE_URL: databaseUrl } },
      (err, _stdout, stderr) =>
        err ? reject(new Error(`seeding the demo database failed: ${stderr || err.message}`)) : done(),
    );
  });
}

function requireBuilt(path: string, what: string): void {
  if (!existsSync(path)) throw new Error(`${what} not found at ${path}: run \`npm run build\` first`);
}

export interface SidecarProcessOptions {
  /** The Node binary to run `dist/cli/main.js sidecar` with (default: this process's). */
  node?: string;
  /** The CLI to run (default: this checkout's dist/cli/main.js; e.g. an installed package's bin). */
  cli?: string;
  /** Arguments after `sidecar`. */
  args?: string[];
  /** Added to this process's environment (SPANSTAT_* overrides); the two ports are set here. */
  env?: NodeJS.ProcessEnv;
  /** The API port (default: a free one), e.g. a port a Prometheus scrapes before the sidecar starts. */
  apiPort?: number;
  /** Until /healthz answers 200 (ms, default 30 s). */
  timeoutMs?: number;
}

export interface SidecarProcess {
  child: Child;
  /** Sidecar API/page/metrics base URL. */
  apiUrl: string;
  /** OTLP/HTTP base URL. */
  receiverUrl: string;
}

/** `spanstat sidecar` as a child process on free loopback ports, once /healthz answers; stopped if it never does. */
export async function startSidecarProcess(options: SidecarProcessOptions = {}): Promise<SidecarProcess> {
  const cli = options.cli ?? CLI_PATH;
  requireBuilt(cli, 'the spanstat CLI');
  const receiverPort = await freePort();
  const apiPort = options.apiPort ?? (await freePort());
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const child = startChild(
    'sidecar',
    [cli, 'sidecar', ...(options.args ?? [])],
    {
      ...process.env,
      SPANSTAT_RECEIVER_PORT: String(receiverPort),
      SPANSTAT_API_PORT: String(apiPort),
      ...options.env,
    },
    options.node,
  );
  try {
    await waitForHealthz(child, `${apiUrl}/healthz`, options.timeoutMs ?? 30_000);
  } catch (err) {
    await child.stop();
    throw err;
  }
  return { child, apiUrl, receiverUrl: `http://127.0.0.1:${receiverPort}` };
}

export async function startDemoStack(options: DemoStackOptions = {}): Promise<DemoStack> {
  const log = options.log ?? (() => {});
  const withSidecar = options.sidecar ?? true;
  const withPreload = options.preload ?? withSidecar;
  const timeoutMs = options.readyTimeoutMs ?? 30_000;
  if (withPreload) requireBuilt(PRELOAD_PATH, 'the spanstat preload');

  // Stopped in reverse order of start; filled as each part comes up so a failed start can undo itself.
  const stoppers: Array<() => Promise<void>> = [];
  let app: Child | undefined;
  let sidecar: Child | undefined;
  let stopping: Promise<void> | undefined;

  const stop = () => {
    stopping ??= (async () => {
      for (const stopOne of [...stoppers].reverse()) {
        try {
          await stopOne();
        } catch (err) {
          log(`stop: ${(err as Error).message}`);
        }
      }
      // Only now: a second Ctrl-C (or npm's SIGTERM after it) must not kill us half-way through.
      process.off('exit', killOnExit);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    })();
    return stopping;
  };
  // Last resort when this process exits without stop(): the sync parts of each stop (signals to the
  // children, redis kill, `pg_ctl stop`) run before their first await, so they still happen here.
  const killOnExit = () => {
    for (const stopOne of [...stoppers].reverse()) void stopOne().catch(() => {});
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return log(`${signal}: already stopping…`);
    log(`${signal}: stopping the demo stack…`);
    void stop().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('exit', killOnExit);
  if (options.stopOnSignals) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }

  try {
    const postgres: LocalServer = await startPostgres({ database: 'demo' });
    stoppers.push(() => postgres.stop());
    log(`postgres ready on ${postgres.host}:${postgres.port}`);
    const redis: LocalServer = await startRedis();
    stoppers.push(() => redis.stop());
    log(`redis ready on ${redis.host}:${redis.port}`);
    if (options.seed ?? true) {
      const started = Date.now();
      await runSeed(postgres.url);
      log(`demo database seeded in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }

    let apiUrl: string | undefined;
    let receiverUrl: string | undefined;
    if (withSidecar) {
      const started = await startSidecarProcess({
        args: options.sidecarArgs,
        // Index advice: the advisor only ever runs read-only transactions on this connection.
        env: { SPANSTAT_ADVISOR_POSTGRES_URL: postgres.url, ...options.sidecarEnv },
        timeoutMs,
      });
      sidecar = started.child;
      stoppers.push(() => started.child.stop());
      ({ apiUrl, receiverUrl } = started);
      log(`sidecar ready: OTLP ${receiverUrl}, API ${apiUrl}`);
    }

    const preloadArgs = withPreload ? ['--require', PRELOAD_PATH] : [];
    app = startChild('demo app', [...preloadArgs, join(DEMO_APP_DIR, 'app.js')], {
      ...process.env,
      PORT: '0',
      DATABASE_URL: postgres.url,
      REDIS_URL: redis.url,
      OTEL_SERVICE_NAME: 'demo-app',
      ...(receiverUrl ? { OTEL_EXPORTER_OTLP_ENDPOINT: receiverUrl } : {}),
      ...options.appEnv,
    });
    const startedApp = app;
    stoppers.push(() => startedApp.stop());
    const appPort = await waitForListening(app, timeoutMs);
    const appUrl = `http://127.0.0.1:${appPort}`;
    if ((await httpStatus(`${appUrl}/healthz`)) !== 200) {
      throw new Error(`demo app at ${appUrl} does not answer /healthz with 200${lastLines(app.tail())}`);
    }
    log(`demo app ready on ${appUrl}${withPreload ? ' (instrumented)' : ''}`);

    return {
      appUrl,
      apiUrl,
      receiverUrl,
      databaseUrl: postgres.url,
      redisUrl: redis.url,
      output: () => ({ app: app?.tail() ?? '', sidecar: sidecar?.tail() ?? '' }),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
