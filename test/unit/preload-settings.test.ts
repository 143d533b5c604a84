import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { detectServiceName, detectServiceVersion } from '../../src/preload/service-name';
import { isSdkDisabled, PRELOAD_DEFAULTS, readPreloadSettings } from '../../src/preload/settings';

describe('preload settings from the environment', () => {
  it('sends traces to the local sidecar by default', () => {
    const settings = readPreloadSettings({});
    expect(settings.tracesUrl).toBe('http://127.0.0.1:4318/v1/traces');
    expect(settings.protocol).toBe('http/protobuf');
    expect(settings.batch).toEqual({
      maxQueueSize: PRELOAD_DEFAULTS.maxQueueSize,
      maxExportBatchSize: PRELOAD_DEFAULTS.maxExportBatchSize,
      scheduledDelayMs: PRELOAD_DEFAULTS.scheduledDelayMs,
    });
    expect(settings.problems).toEqual([]);
  });

  it('appends /v1/traces to OTEL_EXPORTER_OTLP_ENDPOINT', () => {
    expect(readPreloadSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://sidecar:4318/' }).tracesUrl).toBe(
      'http://sidecar:4318/v1/traces',
    );
  });

  it('uses OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as given', () => {
    const settings = readPreloadSettings({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://ignored:4318',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:9999/custom',
    });
    expect(settings.tracesUrl).toBe('http://collector:9999/custom');
  });

  it('falls back to the default endpoint and reports a problem for a non-http endpoint', () => {
    const settings = readPreloadSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'grpc://x:4317' });
    expect(settings.tracesUrl).toBe('http://127.0.0.1:4318/v1/traces');
    expect(settings.problems).toHaveLength(1);
  });

  it('honours the OTEL_BSP_* batch settings', () => {
    const settings = readPreloadSettings({
      OTEL_BSP_MAX_QUEUE_SIZE: '100',
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '10',
      OTEL_BSP_SCHEDULE_DELAY: '250',
    });
    expect(settings.batch).toEqual({ maxQueueSize: 100, maxExportBatchSize: 10, scheduledDelayMs: 250 });
  });

  it('keeps the batch no larger than the queue', () => {
    const settings = readPreloadSettings({
      OTEL_BSP_MAX_QUEUE_SIZE: '50',
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '500',
    });
    expect(settings.batch.maxExportBatchSize).toBe(50);
    expect(settings.problems).toHaveLength(1);
  });

  it('replaces a malformed number by its default and names the variable', () => {
    const settings = readPreloadSettings({ OTEL_BSP_SCHEDULE_DELAY: 'soon' });
    expect(settings.batch.scheduledDelayMs).toBe(PRELOAD_DEFAULTS.scheduledDelayMs);
    expect(settings.problems[0]).toContain('OTEL_BSP_SCHEDULE_DELAY');
  });

  it('takes the shorter of the exporter and batch export timeouts', () => {
    expect(readPreloadSettings({ OTEL_EXPORTER_OTLP_TIMEOUT: '3000' }).exportTimeoutMs).toBe(3000);
    expect(
      readPreloadSettings({ OTEL_EXPORTER_OTLP_TIMEOUT: '3000', OTEL_BSP_EXPORT_TIMEOUT: '500' })
        .exportTimeoutMs,
    ).toBe(500);
  });

  it('decodes OTEL_RESOURCE_ATTRIBUTES and OTEL_EXPORTER_OTLP_HEADERS', () => {
    const settings = readPreloadSettings({
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod,team=core%20db',
      OTEL_EXPORTER_OTLP_HEADERS: 'x-token=abc',
    });
    expect(settings.resourceAttributes).toEqual({ 'deployment.environment': 'prod', team: 'core db' });
    expect(settings.headers).toEqual({ 'x-token': 'abc' });
  });

  it('reads the enabled and disabled instrumentation lists', () => {
    expect(
      readPreloadSettings({ OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'express, ioredis, next, hono, trpc' })
        .instrumentations,
    ).toEqual({
      http: true,
      express: false,
      fastify: true,
      koa: true,
      hapi: true,
      hono: false,
      restify: true,
      next: false,
      graphql: true,
      trpc: false,
      pg: true,
      postgres: true,
      ioredis: false,
      redis: true,
    });
    expect(readPreloadSettings({ OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'pg' }).instrumentations).toEqual({
      http: false,
      express: false,
      fastify: false,
      koa: false,
      hapi: false,
      hono: false,
      restify: false,
      next: false,
      graphql: false,
      trpc: false,
      pg: true,
      postgres: false,
      ioredis: false,
      redis: false,
    });
  });

  it('turns pool connect spans off with SPANSTAT_POOL_CONNECT_SPANS=false', () => {
    expect(readPreloadSettings({}).poolConnectSpans).toBe(true);
    expect(readPreloadSettings({ SPANSTAT_POOL_CONNECT_SPANS: 'false' }).poolConnectSpans).toBe(false);
  });

  it('stops propagating incoming trace context with OTEL_PROPAGATORS=none', () => {
    expect(readPreloadSettings({}).propagateTraceContext).toBe(true);
    expect(readPreloadSettings({ OTEL_PROPAGATORS: 'none' }).propagateTraceContext).toBe(false);
  });

  it('accepts http/json and refuses grpc', () => {
    expect(readPreloadSettings({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }).protocol).toBe('http/json');
    const grpc = readPreloadSettings({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' });
    expect(grpc.protocol).toBe('http/protobuf');
    expect(grpc.problems).toHaveLength(1);
  });

  it('names the TLS files for an https endpoint, the traces variables first, a client key only with its certificate', () => {
    expect(readPreloadSettings({}).tlsFiles).toEqual({
      caFile: undefined,
      clientCertFile: undefined,
      clientKeyFile: undefined,
    });
    const mutual = readPreloadSettings({
      OTEL_EXPORTER_OTLP_CERTIFICATE: '/etc/ca.pem',
      OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE: '/etc/traces-ca.pem',
      OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: '/etc/client.pem',
      OTEL_EXPORTER_OTLP_CLIENT_KEY: '/etc/client.key',
    });
    expect(mutual.tlsFiles).toEqual({
      caFile: '/etc/traces-ca.pem',
      clientCertFile: '/etc/client.pem',
      clientKeyFile: '/etc/client.key',
    });
    expect(mutual.problems).toEqual([]);
    const half = readPreloadSettings({ OTEL_EXPORTER_OTLP_CLIENT_KEY: '/etc/client.key' });
    expect(half.tlsFiles.clientKeyFile).toBeUndefined();
    expect(half.problems[0]).toMatch(
      /OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY go together/,
    );
  });

  it('is disabled only by OTEL_SDK_DISABLED=true', () => {
    expect(isSdkDisabled({ OTEL_SDK_DISABLED: 'true' })).toBe(true);
    expect(isSdkDisabled({ OTEL_SDK_DISABLED: ' TRUE ' })).toBe(true);
    expect(isSdkDisabled({ OTEL_SDK_DISABLED: 'false' })).toBe(false);
    expect(isSdkDisabled({})).toBe(false);
  });
});

describe('the default service name', () => {
  const root = mkdtempSync(join(tmpdir(), 'spanstat-service-name-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("is the name in the app's package.json, found above the script", () => {
    mkdirSync(join(root, 'shop', 'src'), { recursive: true });
    writeFileSync(join(root, 'shop', 'package.json'), JSON.stringify({ name: 'shop-api' }));
    expect(detectServiceName(join(root, 'shop', 'src', 'server.js'), '/')).toBe('shop-api');
  });

  it('is the script name when no package.json names the app', () => {
    mkdirSync(join(root, 'bare'), { recursive: true });
    writeFileSync(join(root, 'bare', 'package.json'), JSON.stringify({ private: true }));
    expect(detectServiceName(join(root, 'bare', 'worker.mjs'), '/')).toBe('worker');
  });

  it("is the app's name, not the tool's, for a CLI run from node_modules", () => {
    mkdirSync(join(root, 'web', 'node_modules', 'next', 'dist', 'bin'), { recursive: true });
    writeFileSync(join(root, 'web', 'package.json'), JSON.stringify({ name: 'web-frontend' }));
    writeFileSync(
      join(root, 'web', 'node_modules', 'next', 'package.json'),
      JSON.stringify({ name: 'next' }),
    );
    expect(detectServiceName(join(root, 'web', 'node_modules', 'next', 'dist', 'bin', 'next'), '/')).toBe(
      'web-frontend',
    );
  });

  it('resolves a relative script against the working directory', () => {
    expect(detectServiceName('src/server.js', join(root, 'shop'))).toBe('shop-api');
  });
});

describe('the default service version', () => {
  const root = mkdtempSync(join(tmpdir(), 'spanstat-service-version-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("is the version of the package.json that names the app, not a dependency's", () => {
    mkdirSync(join(root, 'shop', 'src'), { recursive: true });
    writeFileSync(
      join(root, 'shop', 'package.json'),
      JSON.stringify({ name: 'shop-api', version: ' 1.4.2 ' }),
    );
    expect(detectServiceVersion(join(root, 'shop', 'src', 'server.js'), '/')).toBe('1.4.2');
    mkdirSync(join(root, 'shop', 'node_modules', 'tsx', 'dist'), { recursive: true });
    writeFileSync(
      join(root, 'shop', 'node_modules', 'tsx', 'package.json'),
      JSON.stringify({ name: 'tsx', version: '4.0.0' }),
    );
    expect(detectServiceVersion(join(root, 'shop', 'node_modules', 'tsx', 'dist', 'cli.mjs'), '/')).toBe(
      '1.4.2',
    );
    expect(detectServiceVersion(undefined, join(root, 'shop'))).toBe('1.4.2');
  });

  it('is none when the naming package.json has no version, or nothing names the app', () => {
    mkdirSync(join(root, 'unversioned'), { recursive: true });
    writeFileSync(join(root, 'unversioned', 'package.json'), JSON.stringify({ name: 'worker' }));
    expect(detectServiceVersion(join(root, 'unversioned', 'worker.js'), '/')).toBeUndefined();
    mkdirSync(join(root, 'bare'), { recursive: true });
    expect(detectServiceVersion(join(root, 'bare', 'job.js'), '/')).toBeUndefined();
  });
});
