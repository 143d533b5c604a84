/**
 * deploy/kubernetes/spanstat-sidecar.yaml is an example users copy: it must keep working as the config
 * schema, ports, CLI and shutdown bounds change. Checked without a cluster: the ConfigMap's spanstat.yaml
 * loads with spanstat's own loader, the pod spec agrees with it (ports, probes, the preload's endpoint,
 * the mounted file), the grace period covers the stages that run in it, and the built sidecar started
 * with that config answers the probes' /healthz and logs its summary when stopped.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { startSidecarProcess } from '../../scripts/lib/demo-stack';
import { loadConfig } from '../../src/config';
import { EXIT_FLUSH_TIMEOUT_MS } from '../../src/preload/start';
import { STATE_FORMAT_VERSION } from '../../src/sidecar/state-file';

const MANIFEST = join(__dirname, '../../deploy/kubernetes/spanstat-sidecar.yaml');

interface Container {
  name: string;
  restartPolicy?: string;
  command?: string[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  ports?: { name?: string; containerPort: number }[];
  startupProbe?: { httpGet?: { path: string; port: string | number } };
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  resources?: { limits?: { memory?: string } };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}

const docs = parseAllDocuments(readFileSync(MANIFEST, 'utf8')).map((d) => {
  expect(d.errors).toEqual([]);
  return d.toJS() as {
    kind: string;
    metadata: { name: string };
    data?: Record<string, string>;
    spec?: unknown;
  };
});
const byKind = (kind: string) => {
  const doc = docs.find((d) => d.kind === kind);
  if (!doc) throw new Error(`${MANIFEST} has no ${kind}`);
  return doc;
};
const configMap = byKind('ConfigMap');
const secret = byKind('Secret') as unknown as {
  metadata: { name: string };
  stringData: Record<string, string>;
};
const deployment = byKind('Deployment') as unknown as {
  spec: {
    template: {
      metadata: { annotations: Record<string, string> };
      spec: {
        terminationGracePeriodSeconds: number;
        initContainers: Container[];
        containers: Container[];
        volumes: { name: string; configMap?: { name: string }; emptyDir?: unknown }[];
      };
    };
  };
};
const pod = deployment.spec.template.spec;
const sidecar = pod.initContainers.find((c) => c.name === 'spanstat') as Container;
const app = pod.containers[0];

const work = mkdtempSync(join(tmpdir(), 'spanstat-k8s-'));
const configFile = join(work, 'spanstat.yaml');
writeFileSync(configFile, configMap.data?.['spanstat.yaml'] ?? '');
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the Kubernetes example (deploy/kubernetes/spanstat-sidecar.yaml)', () => {
  const config = loadConfig({ file: configFile, env: {} });

  it("has a ConfigMap whose spanstat.yaml loads: receiver on the pod's loopback, API on the pod IP", () => {
    expect(config.receiver.host).toBe('127.0.0.1');
    expect(config.api.host).toBe('0.0.0.0');
    expect(config.mode).toBe('sidecar');
  });

  it('runs the sidecar as a native sidecar with that file mounted where --config reads it', () => {
    expect(sidecar.restartPolicy).toBe('Always');
    const command = sidecar.command ?? [];
    expect(command.slice(0, 3)).toEqual(['node', 'dist/cli/main.js', 'sidecar']);
    const file = command[command.indexOf('--config') + 1];
    const mount = sidecar.volumeMounts?.find((m) => file.startsWith(`${m.mountPath}/`));
    expect(mount, `no volume mounted at ${file}`).toBeDefined();
    const volume = pod.volumes.find((v) => v.name === mount?.name);
    expect(volume?.configMap?.name).toBe(configMap.metadata.name);
    expect(Object.keys(configMap.data ?? {})).toContain(file.slice((mount?.mountPath.length ?? 0) + 1));
  });

  it("probes /healthz on the API port, which Prometheus's annotations name too", () => {
    const api = sidecar.ports?.find((p) => p.name === 'spanstat-api');
    expect(api?.containerPort).toBe(config.api.port);
    for (const probe of [sidecar.startupProbe, sidecar.livenessProbe]) {
      expect(probe?.httpGet).toEqual({ path: '/healthz', port: 'spanstat-api' });
    }
    const annotations = deployment.spec.template.metadata.annotations;
    expect(annotations['prometheus.io/port']).toBe(String(config.api.port));
    expect(annotations['prometheus.io/path']).toBe('/metrics');
  });

  it("points the app's preload at the sidecar's receiver and loads the package's preload entry", () => {
    const env = new Map((app.env ?? []).map((e) => [e.name, e.value]));
    expect(env.get('OTEL_EXPORTER_OTLP_ENDPOINT')).toBe(`http://127.0.0.1:${config.receiver.port}`);
    expect(env.get('NODE_OPTIONS')).toBe('--require spanstat/preload');
    const pkg = JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8'));
    expect(pkg.name).toBe('spanstat');
    expect(Object.keys(pkg.exports ?? {})).toContain('./preload');
  });

  it('reads the advisor URL from the Secret through a SPANSTAT_* variable the sidecar knows', () => {
    const ref = sidecar.env?.find((e) => e.name === 'SPANSTAT_ADVISOR_POSTGRES_URL')?.valueFrom?.secretKeyRef;
    expect(ref?.name).toBe(secret.metadata.name);
    expect(Object.keys(secret.stringData)).toContain(ref?.key);
    // An unknown SPANSTAT_* variable is an error, so this also proves the name.
    const url = 'postgres://advisor@db:5432/shop';
    expect(
      loadConfig({ file: configFile, env: { SPANSTAT_ADVISOR_POSTGRES_URL: url } }).advisor.postgresUrl,
    ).toBe(url);
  });

  it("gives the pod's shutdown time for the preload's last export and the sidecar's drain", () => {
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThanOrEqual(
      EXIT_FLUSH_TIMEOUT_MS + config.shutdown.timeoutMs + 5_000,
    );
  });

  it('keeps the state file on a writable volume (the root filesystem is read-only)', () => {
    const file = config.state.file;
    expect(file).not.toBe('');
    const mount = sidecar.volumeMounts?.find((m) => file.startsWith(`${m.mountPath}/`));
    expect(mount, `no volume mounted at ${file}`).toBeDefined();
    expect(mount?.readOnly).toBeUndefined();
    expect(pod.volumes.find((v) => v.name === mount?.name)?.emptyDir).toBeDefined();
  });

  it('limits the sidecar memory above the RSS the benchmarks hold it under (150 MB)', () => {
    const limit = sidecar.resources?.limits?.memory ?? '';
    const mib = /^(\d+)Mi$/.exec(limit)?.[1];
    expect(mib, `memory limit ${limit}`).toBeDefined();
    expect(Number(mib) * 1024 * 1024).toBeGreaterThan(150 * 1000 * 1000 * 1.5);
  });

  it('starts the built sidecar with that config: /healthz answers and SIGTERM ends with the summary line', async () => {
    // The ports and API host are the test's own (free loopback ports): everything else is the example's.
    // The state file goes to the test's directory, where the pod mounts its volume.
    const stateFile = join(work, 'shop.json');
    const { child, apiUrl } = await startSidecarProcess({
      args: ['--config', configFile],
      env: { SPANSTAT_API_HOST: '127.0.0.1', SPANSTAT_STATE_FILE: stateFile },
    });
    try {
      const health = await fetch(`${apiUrl}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ mode: 'sidecar' });
    } finally {
      await child.stop();
    }
    expect(child.tail()).toContain('spanstat sidecar stopped');
    expect(JSON.parse(readFileSync(stateFile, 'utf8'))).toMatchObject({
      formatVersion: STATE_FORMAT_VERSION,
    });
  });
});
