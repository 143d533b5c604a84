/**
 * Private Prometheus and Alertmanager instances for the alerting tests: each in its own temp dir,
 * on a free loopback port, stopped by `stop()`. Never touches system services. Binaries come from
 * the Debian packages `prometheus` and `prometheus-alertmanager` (installed when missing and root).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { freePort } from './local-servers';

export const PROMETHEUS_BIN = '/usr/bin/prometheus';
export const PROMTOOL_BIN = '/usr/bin/promtool';
export const ALERTMANAGER_BIN = '/usr/bin/prometheus-alertmanager';
export const AMTOOL_BIN = '/usr/bin/amtool';

export interface PromServer {
  url: string;
  port: number;
  /** Directory holding the config files and the data; removed by stop(). */
  dir: string;
  /** Last output lines, for diagnosis. */
  output(): string;
  stop(): Promise<void>;
}

export function promToolsInstalled(): boolean {
  return [PROMETHEUS_BIN, PROMTOOL_BIN, ALERTMANAGER_BIN, AMTOOL_BIN].every((bin) => existsSync(bin));
}

/**
 * Installs the Debian packages when a binary is missing and we are root; otherwise throws with the
 * exact command to run.
 */
export function ensurePromToolsInstalled(): void {
  if (promToolsInstalled()) return;
  const command = 'apt-get install -y prometheus prometheus-alertmanager';
  if (process.getuid?.() !== 0)
    throw new Error(`Prometheus/Alertmanager are missing; install them with: sudo ${command}`);
  console.log('installing prometheus and prometheus-alertmanager from Debian packages (one time)…');
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  execFileSync(
    'apt-get',
    ['install', '-y', '-qq', '--no-install-recommends', 'prometheus', 'prometheus-alertmanager'],
    {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    },
  );
}

export interface PrometheusOptions {
  /** prometheus.yml text; `rule_files` may name files written from `files`. */
  config: string;
  /** Extra files to write next to prometheus.yml (name → text), e.g. alert rules. */
  files?: Record<string, string>;
}

export async function startPrometheus(options: PrometheusOptions): Promise<PromServer> {
  const dir = mkdtempSync(join(tmpdir(), 'spanstat-prometheus-'));
  for (const [name, text] of Object.entries(options.files ?? {})) writeFileSync(join(dir, name), text);
  writeFileSync(join(dir, 'prometheus.yml'), options.config);
  const port = await freePort();
  return startDaemon('prometheus', PROMETHEUS_BIN, dir, port, [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ]);
}

export async function startAlertmanager(options: { config: string }): Promise<PromServer> {
  const dir = mkdtempSync(join(tmpdir(), 'spanstat-alertmanager-'));
  writeFileSync(join(dir, 'alertmanager.yml'), options.config);
  const port = await freePort();
  return startDaemon('alertmanager', ALERTMANAGER_BIN, dir, port, [
    `--config.file=${join(dir, 'alertmanager.yml')}`,
    `--storage.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    // No gossip: an empty address turns clustering off (it would bind 0.0.0.0:9094 otherwise).
    '--cluster.listen-address=',
    '--log.level=warn',
  ]);
}

async function startDaemon(
  name: string,
  bin: string,
  dir: string,
  port: number,
  args: string[],
): Promise<PromServer> {
  if (!existsSync(bin)) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${bin} is not installed (apt-get install -y prometheus prometheus-alertmanager)`);
  }
  const child: ChildProcess = spawn(bin, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-8192);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitReady(`${url}/-/ready`, child, 30_000);
  } catch (err) {
    await stop();
    throw new Error(`${name}: ${(err as Error).message}\n${tail}`);
  }
  return { url, port, dir, output: () => tail, stop };
}

async function waitReady(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited with code ${child.exitCode}`);
    if ((await status(url)) === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`not ready at ${url} within ${timeoutMs} ms`);
}

function status(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = get(url, { timeout: 1_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(0));
  });
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

/** Instant query against a Prometheus; throws on a PromQL error (with the expression). */
export async function promQuery(prometheusUrl: string, expr: string): Promise<PromSample[]> {
  const res = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await res.json()) as { status: string; error?: string; data?: { result: PromSample[] } };
  if (body.status !== 'success') throw new Error(`PromQL error for ${expr}: ${body.error}`);
  return body.data?.result ?? [];
}

export interface PromAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
  value: string;
  /** When the alert became active (RFC 3339): a new alert with the same labels has a later one. */
  activeAt: string;
}

/** Alerts Prometheus currently holds (pending and firing). */
export async function promAlerts(prometheusUrl: string): Promise<PromAlert[]> {
  const res = await fetch(`${prometheusUrl}/api/v1/alerts`);
  const body = (await res.json()) as { data: { alerts: PromAlert[] } };
  return body.data.alerts;
}

/**
 * The alert rules with every `for:` set to 0s, so a test sees them fire within seconds. The
 * expressions (and their 5-minute windows) stay as shipped: with a 1 s scrape interval, rate() and
 * increase() have samples after 2 s.
 */
export function fastAlertRules(rulesYaml: string): string {
  const doc = parseYaml(rulesYaml) as { groups: { rules: { for?: string }[] }[] };
  for (const group of doc.groups) for (const rule of group.rules) if (rule.for !== undefined) rule.for = '0s';
  return stringifyYaml(doc);
}

/** Prometheus config scraping `targets` as job `spanstat` every second, with rules and Alertmanager. */
export function testPrometheusConfig(options: {
  targets: string[];
  ruleFiles: string[];
  alertmanager?: string;
}): string {
  const lines = [
    'global:',
    '  scrape_interval: 1s',
    '  evaluation_interval: 1s',
    'rule_files:',
    ...options.ruleFiles.map((f) => `  - ${f}`),
    'scrape_configs:',
    '  - job_name: spanstat',
    '    scrape_timeout: 1s',
    '    static_configs:',
    `      - targets: [${options.targets.map((t) => `'${t}'`).join(', ')}]`,
  ];
  if (options.alertmanager) {
    lines.push(
      'alerting:',
      '  alertmanagers:',
      '    - static_configs:',
      `        - targets: ['${options.alertmanager}']`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/**
 * config/alertmanager.yml with every webhook pointed at `webhookUrl` and the grouping waits cut to
 * one second; routes, grouping keys and inhibit rules stay as shipped.
 */
export function testAlertmanagerConfig(alertmanagerYaml: string, webhookUrl: string): string {
  interface Route {
    group_wait?: string;
    group_interval?: string;
    routes?: Route[];
  }
  const doc = parseYaml(alertmanagerYaml) as {
    route: Route;
    receivers: { webhook_configs?: { url: string }[] }[];
  };
  const speedUp = (route: Route) => {
    if (route.group_wait !== undefined) route.group_wait = '1s';
    if (route.group_interval !== undefined) route.group_interval = '1s';
    for (const child of route.routes ?? []) speedUp(child);
  };
  speedUp(doc.route);
  for (const receiver of doc.receivers)
    for (const hook of receiver.webhook_configs ?? []) hook.url = webhookUrl;
  return stringifyYaml(doc);
}
