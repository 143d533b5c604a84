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
  const run = (tool: string, args: string[]) => {
    const [cmd, argv] = asPostgresUser(join(bin, tool), args);
    execFileSync(cmd, argv, { stdio: 'pipe' });
  };
  run('initdb', ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  let port = 0;
  // freePort's port is free when it answers, not when postgres binds it: a test file started in
  // parallel may have taken it since. A server that does not start gets another port (three tries).
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    const serverOptions = [
      '-c listen_addresses=127.0.0.1',
      `-p ${port}`,
      `-k ${dir}`,
      // A throwaway instance: durability off, startup and seeding fast.
      '-c fsync=off -c synchronous_commit=off -c full_page_writes=off',
      '-c max_connections=200',
    ].join(' ');
    try {
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
      break;
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }
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
  return startRedisProcess(() => []);
}

/** redis-server with `extraArgs` (asked again for each try), in a temp dir of its own on a free loopback port. */
async function startRedisProcess(extraArgs: () => Promise<string[]> | string[]): Promise<LocalServer> {
  const bin = findRedisServer();
  if (!bin) throw new Error('Redis is not installed (apt-get install -y redis-server)');
  const dir = mkdtempSync(join(tmpdir(), 'spanstat-redis-'));
  let port = 0;
  let child: ChildProcess | undefined;
  // freePort's port is free when it answers, not when redis-server binds it: a test file started in
  // parallel may have taken it since. A server that exits at start gets another port (three tries).
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    const args = await extraArgs();
    child = spawn(
      bin,
      [
        '--bind',
        '127.0.0.1',
        '--port',
        String(port),
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        ...args,
      ],
      { stdio: 'ignore' },
    );
    try {
      await waitForRedis(port, child);
      break;
    } catch (err) {
      if (attempt >= 3 || child.exitCode === null) {
        child.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
        throw err;
      }
    }
  }
  const started = child;
  const stop = async () => {
    if (started.exitCode === null) {
      const exited = new Promise((resolve) => started.once('exit', resolve));
      started.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3000))]);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  return { host: '127.0.0.1', port, url: `redis://127.0.0.1:${port}`, stop };
}

export interface LocalRedisCluster {
  /** The masters, each holding an equal run of the 16384 hash slots, in slot order. */
  nodes: LocalServer[];
  /** A command to one node through redis-cli; its reply as text. */
  command(node: LocalServer, ...args: string[]): string;
  stop(): Promise<void>;
}

/**
 * A Redis Cluster of `masters` masters (no replicas), each its own redis-server in a temp dir on a
 * free loopback port, slots split evenly, ready (cluster_state:ok on every node) when it resolves.
 * Set up with redis-cli (redis-tools, which the redis-server package installs).
 */
export async function startRedisCluster(masters = 3): Promise<LocalRedisCluster> {
  if (!['/usr/bin/redis-cli', '/usr/local/bin/redis-cli'].some((path) => existsSync(path)))
    throw new Error('redis-cli is not installed (apt-get install -y redis-tools)');
  const nodes: LocalServer[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.stop()));
  };
  const command = (node: LocalServer, ...args: string[]) =>
    execFileSync('redis-cli', ['-h', node.host, '-p', String(node.port), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
      .toString()
      .trim();
  // The bus port defaults to port + 10000, which nothing checked was free.
  const busPorts: number[] = [];
  try {
    for (let i = 0; i < masters; i++) {
      nodes.push(
        await startRedisProcess(async () => {
          busPorts[i] = await freePort();
          return [
            '--cluster-enabled',
            'yes',
            '--cluster-port',
            String(busPorts[i]),
            '--cluster-config-file',
            'nodes.conf',
            '--cluster-node-timeout',
            '5000',
          ];
        }),
      );
    }
    const slotsPerNode = Math.ceil(16384 / masters);
    nodes.forEach((node, i) => {
      const first = i * slotsPerNode;
      const last = Math.min(16383, first + slotsPerNode - 1);
      command(node, 'CLUSTER', 'ADDSLOTSRANGE', String(first), String(last));
      if (i > 0) command(node, 'CLUSTER', 'MEET', nodes[0].host, String(nodes[0].port), String(busPorts[0]));
    });
    const deadline = Date.now() + 20_000;
    const ready = () =>
      nodes.every((node) => {
        const info = command(node, 'CLUSTER', 'INFO');
        return info.includes('cluster_state:ok') && info.includes(`cluster_known_nodes:${masters}`);
      });
    while (!ready()) {
      if (Date.now() > deadline)
        throw new Error('the Redis Cluster did not reach cluster_state:ok within 20 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return { nodes, command, stop };
  } catch (err) {
    await stop();
    throw err;
  }
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
