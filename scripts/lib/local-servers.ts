/**
 * Private PostgreSQL and Redis instances for the demo, the integration tests and the benchmarks:
 * each in its own temp dir, on a free loopback port, stopped by `stop()`. Never touches system services.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface LocalServer {
  host: string;
  port: number;
  url: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Directory holding initdb/pg_ctl/postgres, newest major version first; undefined when not installed. */
export function findPostgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(root, versions[0], 'bin') : undefined;
}

export function findRedisServer(): string | undefined {
  for (const candidate of ['/usr/bin/redis-server', '/usr/local/bin/redis-server']) {
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Installs the Debian packages that provide the servers when they are missing and we are root;
 * otherwise throws with the exact command to run.
 */
export function ensureServersInstalled(packages: { postgres?: boolean; redis?: boolean } = {}): void {
  const missing: string[] = [];
  if (packages.postgres !== false && !findPostgresBin()) missing.push('postgresql');
  if (packages.redis !== false && !findRedisServer()) missing.push('redis-server');
  if (missing.length === 0) return;
  const command = `apt-get install -y ${missing.join(' ')}`;
  if (process.getuid?.() !== 0) {
    throw new Error(`PostgreSQL/Redis servers are missing; install them with: sudo ${command}`);
  }
  console.log(`installing ${missing.join(', ')} from Debian packages (one time, ~30-60 s)…`);
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

function asPostgresUser(bin: string, args: string[]): [string, string[]] {
  // PostgreSQL refuses to run as root: drop to the `postgres` user the Debian package creates.
  if (process.getuid?.() === 0) return ['runuser', ['-u', 'postgres', '--', bin, ...args]];
  return [bin, args];
}

export async function startPostgres(options: { database?: string } = {}): Promise<LocalServer> {
  const bin = findPostgresBin();
  if (!bin) throw new Error('PostgreSQL is not installed (apt-get install -y postgresql)');
  const dir = mkdtempSync(join(tmpdir(), 'spanstat-pg-'));
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
  }
  chmodSync(dir, 0o700);
  const dataDir = join(dir, 'data');
  const port = await freePort();
  const run = (tool: string, args: string[]) => {
    const [cmd, argv] = asPostgresUser(join(bin, tool), args);
    execFileSync(cmd, argv, { stdio: 'pipe' });
  };
  run('initdb', ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  const serverOptions = [
    '-c listen_addresses=127.0.0.1',
    `-p ${port}`,
    `-k ${dir}`,
    // A throwaway instance: durability off, startup and seeding fast.
    '-c fsync=off -c synchronous_commit=off -c full_page_writes=off',
    '-c max_connections=200',
  ].join(' ');
  run('pg_ctl', [
    '-D',
    dataDir,
    '-o',
    serverOptions,
    '-l',
    join(dir, 'postgres.log'),
    '-w',
    '-t',
    '60',
    'start',
  ]);
  const stop = async () => {
    try {
      run('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
    } catch {
      // already stopped
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const database = options.database ?? 'postgres';
  if (database !== 'postgres') {
    const [cmd, argv] = asPostgresUser(join(bin, 'createdb'), [
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      database,
    ]);
    execFileSync(cmd, argv, { stdio: 'pipe', env: { ...process.env, PGUSER: 'postgres' } });
  }
  return { host: '127.0.0.1', port, url: `postgres://postgres@127.0.0.1:${port}/${database}`, stop };
}

export async function startRedis(): Promise<LocalServer> {
  const bin = findRedisServer();
  if (!bin) throw new Error('Redis is not installed (apt-get install -y redis-server)');
  const dir = mkdtempSync(join(tmpdir(), 'spanstat-redis-'));
  const port = await freePort();
  const child: ChildProcess = spawn(
    bin,
    ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: 'ignore' },
  );
  await waitForRedis(port, child);
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3000))]);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  return { host: '127.0.0.1', port, url: `redis://127.0.0.1:${port}`, stop };
}

async function waitForRedis(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode}`);
    if (await pingRedis(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill('SIGKILL');
  throw new Error('redis-server did not answer PING within 15 s');
}

function pingRedis(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.setTimeout(500);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('+PONG'));
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}
