/**
 * The demo app (examples/demo-app) as a pinned child process, with or without a preload, plus the
 * seeded PostgreSQL and Redis it needs (scripts/lib/local-servers.ts, private temp instances).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { DEMO_APP_DIR, REPO_ROOT } from '../../scripts/lib/demo-stack';
import { type LocalServer, startPostgres, startRedis } from '../../scripts/lib/local-servers';
import { pinned } from './cpu';

export interface DemoData {
  databaseUrl: string;
  redisUrl: string;
  stop(): Promise<void>;
}

/** Private PostgreSQL (seeded demo database) and Redis; they inherit this process's CPU affinity. */
export async function startDemoData(): Promise<DemoData> {
  const started: LocalServer[] = [];
  const stop = async () => {
    for (const server of started.reverse()) await server.stop().catch(() => {});
  };
  try {
    const postgres = await startPostgres({ database: 'demo' });
    started.push(postgres);
    const redis = await startRedis();
    started.push(redis);
    await new Promise<void>((resolve, reject) =>
      execFile(
        process.execPath,
        [join(DEMO_APP_DIR, 'seed.js')],
        { cwd: REPO_ROOT, env: { ...process.env, DATABASE_URL: postgres.url } },
        (err, _out, stderr) =>
          err ? reject(new Error(`seeding failed: ${stderr || err.message}`)) : resolve(),
      ),
    );
    return { databaseUrl: postgres.url, redisUrl: redis.url, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

export interface AppProcess {
  url: string;
  pid: number;
  tail(): string;
  stop(): Promise<void>;
}

export interface AppOptions {
  data: DemoData;
  /** `--require` target, none for the bare app. */
  preload?: string;
  env?: NodeJS.ProcessEnv;
  core?: number;
  /** The node binary (default: the one running the bench; see node-binary.ts). */
  node?: string;
  /** Extra node flags, e.g. ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] to profile the app. */
  nodeArgs?: string[];
  /** A command the app's node runs under, e.g. ['valgrind', '--tool=cachegrind'] (no core pinning then). */
  wrapper?: string[];
  readyTimeoutMs?: number;
  /** How long stop() waits after SIGTERM before SIGKILL (default 6 s). */
  stopTimeoutMs?: number;
}

const TAIL_BYTES = 8 * 1024;

/** Starts examples/demo-app/app.js on a free port and resolves once it printed `listening on <port>`. */
export function startDemoApp(options: AppOptions): Promise<AppProcess> {
  const nodeArgs = [...(options.nodeArgs ?? []), ...(options.preload ? ['--require', options.preload] : [])];
  const appArgs = [...nodeArgs, join(DEMO_APP_DIR, 'app.js')];
  const node = options.node ?? process.execPath;
  const [cmd, args] = options.wrapper?.length
    ? [options.wrapper[0], [...options.wrapper.slice(1), node, ...appArgs]]
    : pinned(options.core, node, appArgs);
  const child: ChildProcess = spawn(cmd, args, {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      PORT: '0',
      DATABASE_URL: options.data.databaseUrl,
      REDIS_URL: options.data.redisUrl,
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let tail = '';
  child.stdout?.on('data', (c: Buffer) => {
    tail = (tail + c.toString()).slice(-TAIL_BYTES);
  });
  child.stderr?.on('data', (c: Buffer) => {
    tail = (tail + c.toString()).slice(-TAIL_BYTES);
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), options.stopTimeoutMs ?? 6_000);
    await exited;
    clearTimeout(timer);
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`demo app did not listen in time:\n${tail}`));
    }, options.readyTimeoutMs ?? 30_000);
    const onData = () => {
      const match = /^listening on (\d+)$/m.exec(tail);
      if (!match) return;
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      resolve({ url: `http://127.0.0.1:${match[1]}`, pid: child.pid ?? -1, tail: () => tail, stop });
    };
    child.stdout?.on('data', onData);
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`demo app exited before listening:\n${tail}`));
    });
  });
}
