import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { ExportResultCode } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config';
import { readExportTls } from '../../src/preload/export-tls';
import { OtlpHttpExporter } from '../../src/preload/otlp-exporter';
import type { EndpointRow, QueryRow, Report } from '../../src/reports/types';
import type { RunningSidecar } from '../../src/sidecar/sidecar';
import { after as plusNs, readableSpan, T0 } from '../fixtures/otlp/spans';
import { assertBuilt, PRELOAD } from '../fixtures/preload-app/harness';
import { getJson, startTestSidecar, waitFor } from '../helpers/sidecar';

// Real TLS: a throw-away CA signs the sidecar's certificate and a client's, made with openssl.
let dir: string;
const file = (name: string) => join(dir, name);
/** Both receivers over TLS, asking clients for a certificate the test CA signed. */
const mutualTlsReceiver = () => ({
  port: 0,
  grpcPort: 0,
  tlsCertFile: file('server.crt'),
  tlsKeyFile: file('server.key'),
  tlsClientCaFile: file('ca.crt'),
});
/** forward's TLS files: the test CA, and the client certificate it signed. */
const clientCertificate = () => ({
  tlsCaFile: file('ca.crt'),
  tlsCertFile: file('client.crt'),
  tlsKeyFile: file('client.key'),
});

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** An EC key and a certificate for `cn` signed by the test CA. */
function issue(name: string, cn: string, extension: string): void {
  openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', file(`${name}.key`));
  openssl('req', '-new', '-key', file(`${name}.key`), '-subj', `/CN=${cn}`, '-out', file(`${name}.csr`));
  writeFileSync(file(`${name}.ext`), `${extension}\n`);
  openssl(
    'x509',
    '-req',
    '-in',
    file(`${name}.csr`),
    '-CA',
    file('ca.crt'),
    '-CAkey',
    file('ca.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    file(`${name}.ext`),
    '-out',
    file(`${name}.crt`),
  );
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'spanstat-tls-'));
  openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', file('ca.key'));
  openssl(
    'req',
    '-x509',
    '-new',
    '-key',
    file('ca.key'),
    '-subj',
    '/CN=spanstat test CA',
    '-days',
    '2',
    '-out',
    file('ca.crt'),
  );
  issue('server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1');
  issue('client', 'checkout-service', 'extendedKeyUsage=clientAuth');
  // A second, unrelated key: a certificate/key mismatch must be refused at start.
  openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', file('other.key'));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function dbSpan(id: number): ReadableSpan {
  const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
  return readableSpan({
    name: 'pg.query:SELECT shop',
    kind: 2,
    traceId: hex(id, 32),
    spanId: hex(id, 16),
    start: T0,
    end: plusNs(T0, 2_000_000),
    attributes: { 'db.system.name': 'postgresql', 'db.query.text': `SELECT * FROM parcels WHERE id = ${id}` },
  });
}

/** POST an OTLP/HTTP protobuf body over TLS: the status, or the connection's error code. */
function post(
  url: string,
  body: Buffer,
  tls: { ca?: Buffer | string; cert?: string; key?: string },
): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request(
      `${url}/v1/traces`,
      { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, agent: false, ...tls },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end(body);
  });
}

const body = (id: number) =>
  Buffer.from(ProtobufTraceSerializer.serializeRequest([dbSpan(id)]) as Uint8Array);
const readPem = (name: string) => readFileSync(file(name), 'utf8');

async function queryCalls(sidecar: RunningSidecar): Promise<number> {
  const r = await getJson<Report<QueryRow>>(`${sidecar.apiUrl}/api/v1/reports/queries`);
  return r.rows.reduce((sum, row) => sum + row.calls, 0);
}

describe('the receivers over TLS', () => {
  let sidecar: RunningSidecar;

  beforeAll(async () => {
    sidecar = await startTestSidecar({
      receiver: { port: 0, grpcPort: 0, tlsCertFile: file('server.crt'), tlsKeyFile: file('server.key') },
    });
  });
  afterAll(() => sidecar?.shutdown());

  it('serves OTLP/HTTP as https only', async () => {
    expect(sidecar.receiverUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(await post(sidecar.receiverUrl, body(1), { ca: readPem('ca.crt') })).toBe(200);
    // Not trusted without the CA; plain HTTP to the port gets no OTLP answer.
    expect(await post(sidecar.receiverUrl, body(2), {})).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    const plain = await fetch(`${sidecar.receiverUrl.replace('https', 'http')}/v1/traces`, {
      method: 'POST',
      body: body(3),
    }).then(
      (res) => res.status,
      () => 'refused',
    );
    expect(plain).not.toBe(200);
    expect(await waitFor(async () => (await queryCalls(sidecar)) === 1)).toBe(true);
  });

  it('serves OTLP/gRPC over TLS to the OpenTelemetry SDK exporter', async () => {
    const exporter = new OTLPTraceExporter({
      url: `https://${sidecar.grpcReceiverAddress}`,
      credentials: credentials.createSsl(Buffer.from(readPem('ca.crt'))),
    });
    const result = await new Promise<{ code: number; error?: Error }>((resolve) =>
      exporter.export([dbSpan(10), dbSpan(11)], resolve),
    );
    await exporter.shutdown();
    expect(result.error).toBeUndefined();
    expect(result.code).toBe(ExportResultCode.SUCCESS);
    expect(await waitFor(async () => (await queryCalls(sidecar)) === 3)).toBe(true);
  });

  it('takes spans from the preload given the CA in OTEL_EXPORTER_OTLP_CERTIFICATE', async () => {
    assertBuilt();
    const app = [
      "const http = require('node:http');",
      "const server = http.createServer((req, res) => res.end('ok')).listen(0, '127.0.0.1', () => {",
      "  http.get('http://127.0.0.1:' + server.address().port + '/tls-check', (res) => { res.resume(); res.on('end', () => server.close()); });",
      '});',
    ].join('\n');
    // Not spawnSync: the sidecar runs in this process and must answer the TLS handshake meanwhile.
    const child = spawn(process.execPath, ['--require', PRELOAD, '-e', app], {
      env: {
        PATH: process.env.PATH,
        OTEL_SERVICE_NAME: 'tls-app',
        OTEL_EXPORTER_OTLP_ENDPOINT: sidecar.receiverUrl,
        OTEL_EXPORTER_OTLP_CERTIFICATE: file('ca.crt'),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const status = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(status).toBe(0);
    expect(stderr).toBe('');
    const endpoints = await waitFor(async () => {
      const r = await getJson<Report<EndpointRow>>(`${sidecar.apiUrl}/api/v1/reports/endpoints`);
      return r.rows.find((row) => row.service === 'tls-app');
    });
    expect(endpoints).toMatchObject({ route: '/tls-check', requests: 1 });
  });
});

describe('the receivers with client certificates required (mutual TLS)', () => {
  let sidecar: RunningSidecar;

  beforeAll(async () => {
    sidecar = await startTestSidecar({
      receiver: mutualTlsReceiver(),
    });
  });
  afterAll(() => sidecar?.shutdown());

  it('answers a client with a certificate the CA signed and refuses one without', async () => {
    const ca = readPem('ca.crt');
    expect(
      await post(sidecar.receiverUrl, body(20), {
        ca,
        cert: readPem('client.crt'),
        key: readPem('client.key'),
      }),
    ).toBe(200);
    expect(await post(sidecar.receiverUrl, body(21), { ca })).not.toBe(200);

    const grpc = async (withCertificate: boolean) => {
      const exporter = new OTLPTraceExporter({
        url: `https://${sidecar.grpcReceiverAddress}`,
        credentials: withCertificate
          ? credentials.createSsl(
              Buffer.from(ca),
              Buffer.from(readPem('client.key')),
              Buffer.from(readPem('client.crt')),
            )
          : credentials.createSsl(Buffer.from(ca)),
        timeoutMillis: 5_000,
      });
      const result = await new Promise<{ code: number }>((resolve) =>
        exporter.export([dbSpan(withCertificate ? 30 : 31)], resolve),
      );
      await exporter.shutdown();
      return result.code;
    };
    expect(await grpc(true)).toBe(ExportResultCode.SUCCESS);
    expect(await grpc(false)).toBe(ExportResultCode.FAILED);
    expect(await waitFor(async () => (await queryCalls(sidecar)) === 2)).toBe(true);
    // Give a refused call time to have slipped through, then check it did not.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await queryCalls(sidecar)).toBe(2);
  });

  it("takes the preload exporter's spans with the client certificate its settings name, not without", async () => {
    const exportWith = async (clientCertFile?: string, clientKeyFile?: string) => {
      const problems: string[] = [];
      const tls = readExportTls({ caFile: file('ca.crt'), clientCertFile, clientKeyFile }, problems);
      expect(problems).toEqual([]);
      const exporter = new OtlpHttpExporter({
        url: `${sidecar.receiverUrl}/v1/traces`,
        timeoutMs: 5_000,
        tls,
      });
      const result = await new Promise<{ code: number; error?: Error }>((resolve) =>
        exporter.export([dbSpan(clientCertFile ? 40 : 41)], resolve),
      );
      await exporter.shutdown();
      return result;
    };
    const before = await queryCalls(sidecar);
    expect((await exportWith(file('client.crt'), file('client.key'))).code).toBe(ExportResultCode.SUCCESS);
    const refused = await exportWith();
    expect(refused.code).toBe(ExportResultCode.FAILED);
    expect(await waitFor(async () => (await queryCalls(sidecar)) === before + 1)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await queryCalls(sidecar)).toBe(before + 1);
  });
});

describe('forwarding to an upstream that requires client certificates', () => {
  let upstream: RunningSidecar;
  let sidecar: RunningSidecar;
  let grpcSidecar: RunningSidecar;

  beforeAll(async () => {
    upstream = await startTestSidecar({
      receiver: mutualTlsReceiver(),
    });
    sidecar = await startTestSidecar({
      forward: {
        endpoint: `${upstream.receiverUrl}/v1/traces`,
        compression: 'gzip',
        ...clientCertificate(),
      },
    });
    grpcSidecar = await startTestSidecar({
      forward: {
        endpoint: `https://${upstream.grpcReceiverAddress}`,
        protocol: 'grpc',
        compression: 'gzip',
        ...clientCertificate(),
      },
    });
  });
  afterAll(async () => {
    await grpcSidecar?.shutdown();
    await sidecar?.shutdown();
    await upstream?.shutdown();
  });

  it('relays gzipped over mutual TLS with the CA and client certificate forward names', async () => {
    const plain = (id: number) =>
      fetch(`${sidecar.receiverUrl}/v1/traces`, {
        method: 'POST',
        body: body(id),
        headers: { 'content-type': 'application/x-protobuf' },
      });
    expect((await plain(50)).status).toBe(200);
    expect((await plain(51)).status).toBe(200);
    expect(await waitFor(async () => (await queryCalls(upstream)) === 2)).toBe(true);
    expect(await queryCalls(sidecar)).toBe(2);
    const health = await getJson<{ forward: { spansSent: number; retries: number } }>(
      `${sidecar.apiUrl}/healthz`,
    );
    expect(health.forward).toMatchObject({ spansSent: 2, retries: 0 });
  });

  it('relays over OTLP/gRPC, gzipped, with the same CA and client certificate', async () => {
    const before = await queryCalls(upstream);
    const post = (id: number) =>
      fetch(`${grpcSidecar.receiverUrl}/v1/traces`, {
        method: 'POST',
        body: body(id),
        headers: { 'content-type': 'application/x-protobuf' },
      });
    expect((await post(60)).status).toBe(200);
    expect((await post(61)).status).toBe(200);
    expect(await waitFor(async () => (await queryCalls(upstream)) === before + 2)).toBe(true);
    const health = await getJson<{ forward: { spansSent: number; retries: number } }>(
      `${grpcSidecar.apiUrl}/healthz`,
    );
    expect(health.forward).toMatchObject({ spansSent: 2, retries: 0 });
  });
});

describe('TLS settings that cannot work', () => {
  it('refuses to start, naming the setting and the file', async () => {
    const missing = file('nowhere.key');
    await expect(
      startTestSidecar({ receiver: { port: 0, tlsCertFile: file('server.crt'), tlsKeyFile: missing } }),
    ).rejects.toThrow(`SPANSTAT_ERR_TLS: receiver.tlsKeyFile: cannot read ${missing} (ENOENT)`);
    await expect(
      startTestSidecar({
        receiver: { port: 0, tlsCertFile: file('server.crt'), tlsKeyFile: file('other.key') },
      }),
    ).rejects.toThrow(
      /SPANSTAT_ERR_TLS: receiver\.tlsCertFile .*server\.crt .*other\.key.*not a usable certificate and key/,
    );
  });

  it('refuses to start forwarding with a CA or client certificate it cannot use', async () => {
    const missing = file('nowhere.crt');
    const endpoint = 'https://127.0.0.1:1/v1/traces';
    await expect(startTestSidecar({ forward: { endpoint, tlsCaFile: missing } })).rejects.toThrow(
      `SPANSTAT_ERR_TLS: forward.tlsCaFile: cannot read ${missing} (ENOENT)`,
    );
    await expect(
      startTestSidecar({
        forward: { endpoint, tlsCertFile: file('client.crt'), tlsKeyFile: file('other.key') },
      }),
    ).rejects.toThrow(
      /SPANSTAT_ERR_TLS: forward\.tlsCertFile .*client\.crt .*other\.key.*not a usable certificate and key/,
    );
    expect(() =>
      loadConfig({
        env: { SPANSTAT_FORWARD_ENDPOINT: endpoint, SPANSTAT_FORWARD_TLS_CERT_FILE: file('client.crt') },
      }),
    ).toThrow(
      /forward\.tlsKeyFile.*a client certificate needs both forward\.tlsCertFile and forward\.tlsKeyFile/,
    );
    expect(() =>
      loadConfig({
        env: {
          SPANSTAT_FORWARD_ENDPOINT: 'http://127.0.0.1:1/v1/traces',
          SPANSTAT_FORWARD_TLS_CA_FILE: file('ca.crt'),
        },
      }),
    ).toThrow(/forward\.tlsCaFile.*TLS files need an https:\/\/ forward\.endpoint/);
  });

  it('make the CLI exit 2 with the setting and the file, as for any config error', () => {
    const cli = join(__dirname, '..', '..', 'dist', 'cli', 'main.js');
    const missing = file('nowhere.key');
    const run = (args: string[]) => {
      try {
        execFileSync(process.execPath, [cli, 'sidecar', '--receiver-port', '0', '--api-port', '0', ...args], {
          stdio: 'pipe',
          timeout: 20_000,
        });
        return { status: 0, stderr: '' };
      } catch (err) {
        const failure = err as { status: number; stderr: Buffer };
        return { status: failure.status, stderr: String(failure.stderr) };
      }
    };
    expect(run(['--tls-cert', file('server.crt'), '--tls-key', missing])).toEqual({
      status: 2,
      stderr: `spanstat: SPANSTAT_ERR_TLS: receiver.tlsKeyFile: cannot read ${missing} (ENOENT)\n`,
    });
    expect(run(['--tls-cert', file('server.crt')])).toEqual({
      status: 2,
      stderr:
        "spanstat: SPANSTAT_ERR_CONFIG_INVALID: --tls-cert: 'receiver.tlsKeyFile' TLS needs both receiver.tlsCertFile and receiver.tlsKeyFile\n",
    });
  });

  it('rejects a certificate without its key, in the config file or the environment', () => {
    expect(() => loadConfig({ env: { SPANSTAT_RECEIVER_TLS_CERT_FILE: file('server.crt') } })).toThrow(
      /receiver\.tlsKeyFile.*TLS needs both receiver\.tlsCertFile and receiver\.tlsKeyFile/,
    );
    const config = loadConfig({
      env: {
        SPANSTAT_RECEIVER_TLS_CERT_FILE: file('server.crt'),
        SPANSTAT_RECEIVER_TLS_KEY_FILE: file('server.key'),
      },
    });
    expect(config.receiver).toMatchObject({
      tlsCertFile: file('server.crt'),
      tlsKeyFile: file('server.key'),
    });
  });
});
