/**
 * The built sidecar (`node dist/cli/main.js sidecar`) as a child process on free loopback ports,
 * optionally pinned to one core, with its /healthz counters and RSS readable while it runs.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { CLI_PATH, REPO_ROOT } from '../../scripts/lib/demo-stack';
import { freePort } from '../../scripts/lib/local-servers';
import { pinned, rssMB } from './cpu';
import { getJson } from './http';

export interface SidecarHealth {
  receiver: { requests: number; spansAccepted: number; overloaded: number; decodeErrors: number };
  pipeline: { spansReceived: number; spansProcessed: number; spansFailed: number; pendingSpans: number };
  [key: string]: unknown;
}

export interface SidecarProcess {
  receiverUrl: string;
  apiUrl: string;
  pid: number;
  health(): Promise<SidecarHealth>;
  /** Resident set size in MB (10^6 bytes). */
  rssMB(): number;
  /** True while the process is running. */
  alive(): boolean;
  /** Last output, for diagnosis. */
  tail(): string;
  /**
   * Resolves once the pipeline has processed `spans` spans (counted from the sidecar's start),
   * or rejects after timeoutMs.
   */
  waitProcessed(spans: number, timeoutMs: number): Promise<SidecarHealth>;
  stop(): Promise<void>;
}

export interface SidecarStartOptions {
  /** Core to pin the sidecar to (taskset -c), none by default. */
  core?: number;
  /** SPANSTAT_* overrides. */
  env?: NodeJS.ProcessEnv;
  /** Extra node flags (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /** The CLI to run (another build's `dist/cli/main.js`); the work tree's by default. */
  cliPath?: string;
  readyTimeoutMs?: number;
}

const TAIL_BYTES = 16 * 1024;

/** Starts the sidecar; retried on other ports when one picked as free was taken meanwhile. */
export async function startSidecarProcess(options: SidecarStartOptions = {}): Promise<SidecarProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (err) {
      if (attempt >= 3 || !/EADDRINUSE/.test((err as Error).message)) throw err;
    }
  }
}

async function startOnce(options: SidecarStartOptions): Promise<SidecarProcess> {
  const receiverPort = await freePort();
  const apiPort = await freePort();
  const [cmd, args] = pinned(options.core, process.execPath, [
    ...(options.nodeArgs ?? []),
    options.cliPath ?? CLI_PATH,
    'sidecar',
  ]);
  const child: ChildProcess = spawn(cmd, args, {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      SPANSTAT_RECEIVER_PORT: String(receiverPort),
      SPANSTAT_API_PORT: String(apiPort),
      SPANSTAT_LOG_LEVEL: 'warn',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-TAIL_BYTES);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const alive = () => child.exitCode === null && child.signalCode === null;
  const receiverUrl = `http://127.0.0.1:${receiverPort}`;
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const health = () => getJson<SidecarHealth>(`${apiUrl}/healthz`);
  const stop = async () => {
    if (!alive()) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };

  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  for (;;) {
    if (!alive()) throw new Error(`sidecar exited before it was ready:\n${tail}`);
    try {
      await health();
      break;
    } catch {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`sidecar did not answer /healthz in time:\n${tail}`);
      }
      await sleep(100);
    }
  }

  return {
    receiverUrl,
    apiUrl,
    pid: child.pid ?? -1,
    health,
    rssMB: () => rssMB(child.pid ?? -1),
    alive,
    tail: () => tail,
    async waitProcessed(spans, timeoutMs) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const h = await health();
        if (h.pipeline.spansProcessed + h.pipeline.spansFailed >= spans) return h;
        if (Date.now() > end) {
          throw new Error(
            `sidecar processed ${h.pipeline.spansProcessed} of ${spans} spans within ${timeoutMs} ms`,
          );
        }
        await sleep(20);
      }
    },
    stop,
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
