import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const ROOT = join(__dirname, '..', '..');
const text = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');

interface Service {
  build?: { context: string; dockerfile?: string };
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  network_mode?: string;
  depends_on?: string[] | Record<string, { condition: string }>;
}
const compose = parse(text, { merge: true }) as {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
};
const services = compose.services;

function hostPort(url: string): string {
  return new URL(url).host;
}

describe('docker-compose.yml', () => {
  it('runs the demo app, sidecar, postgres, redis, prometheus, alertmanager and grafana', () => {
    for (const name of [
      'demo-app',
      'sidecar',
      'postgres',
      'redis',
      'prometheus',
      'alertmanager',
      'grafana',
    ]) {
      expect(services[name], name).toBeDefined();
    }
  });

  it('mounts and builds only from files and directories that exist', () => {
    let checked = 0;
    for (const [name, service] of Object.entries(services)) {
      for (const volume of service.volumes ?? []) {
        const source = volume.split(':')[0];
        if (!source.startsWith('.')) continue;
        expect(existsSync(join(ROOT, source)), `${name}: ${source}`).toBe(true);
        checked++;
      }
      if (service.build) {
        expect(existsSync(join(ROOT, service.build.context)), `${name}: build context`).toBe(true);
        expect(existsSync(join(ROOT, service.build.context, service.build.dockerfile ?? 'Dockerfile'))).toBe(
          true,
        );
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(5);
  });

  it('copies into the image only paths that exist', () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    const copies = [...dockerfile.matchAll(/^COPY\s+(.+)$/gm)].map((m) =>
      m[1].trim().split(/\s+/).slice(0, -1),
    );
    expect(copies.length).toBeGreaterThan(2);
    for (const sources of copies)
      for (const source of sources) expect(existsSync(join(ROOT, source)), source).toBe(true);
  });

  it('escapes every literal $ so compose does not interpolate it', () => {
    const content = text
      .split('\n')
      .filter((line) => !line.trimStart().startsWith('#'))
      .join('\n');
    expect(content.match(/(?<!\$)\$(?!\$)/g) ?? []).toEqual([]);
  });

  it('starts the app under the preload, exporting to the sidecar receiver', () => {
    const app = services['demo-app'];
    expect(app.command).toEqual(['node', '--require', './dist/preload.js', 'examples/demo-app/app.js']);
    expect(app.environment).toMatchObject({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://sidecar:4318' });
    expect(Object.keys(app.environment ?? {})).toEqual(
      expect.arrayContaining(['PORT', 'DATABASE_URL', 'REDIS_URL', 'OTEL_SERVICE_NAME']),
    );
    // The demo's own config, as `npm run demo` runs it; the file must be in the repository (and the image).
    expect(services.sidecar.command).toEqual([
      'node',
      'dist/cli/main.js',
      'sidecar',
      '--config',
      'examples/demo-app/spanstat.yaml',
    ]);
    expect(existsSync(join(ROOT, 'examples/demo-app/spanstat.yaml'))).toBe(true);
    expect(services.sidecar.environment).toMatchObject({
      SPANSTAT_RECEIVER_HOST: '0.0.0.0',
      SPANSTAT_API_HOST: '0.0.0.0',
      SPANSTAT_RECEIVER_GRPC_PORT: 4317,
      SPANSTAT_STATE_FILE: '/var/lib/spanstat/state.json',
    });
    // The state file's directory is a named volume, so it outlives the container.
    expect(services.sidecar.volumes).toEqual(['spanstat-state:/var/lib/spanstat']);
    expect(Object.keys(compose.volumes ?? {})).toEqual(['spanstat-state']);
    expect(services.sidecar.ports).toEqual(expect.arrayContaining(['4318:4318', '4317:4317', '9464:9464']));
    expect(services.load.network_mode).toBe('service:demo-app');
  });

  it('wires Prometheus to the sidecar and Alertmanager, and Alertmanager to the example webhook', () => {
    const prometheus = parse(readFileSync(join(ROOT, 'config/prometheus.yml'), 'utf8'));
    const job = prometheus.scrape_configs.find((j: { job_name: string }) => j.job_name === 'spanstat');
    expect(job.static_configs[0].targets).toEqual(['sidecar:9464']);
    expect(prometheus.alerting.alertmanagers[0].static_configs[0].targets).toEqual(['alertmanager:9093']);
    // rule_files are relative to prometheus.yml: both are mounted into one directory.
    expect(prometheus.rule_files).toEqual(['alerts.yml']);
    expect(services.prometheus.volumes).toEqual(
      expect.arrayContaining([
        './config/prometheus.yml:/etc/prometheus/prometheus.yml:ro',
        './config/alerts.yml:/etc/prometheus/alerts.yml:ro',
      ]),
    );
    const alertmanager = parse(readFileSync(join(ROOT, 'config/alertmanager.yml'), 'utf8'));
    const webhook = hostPort(alertmanager.receivers[0].webhook_configs[0].url);
    expect(webhook).toBe('alert-webhook:9099');
    expect(services['alert-webhook'].command?.join(' ')).toContain('.listen(9099');
  });
});
