import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULTS, loadConfig } from '../../src/config';
import { ENV_SETTINGS } from '../../src/config/env';

const dir = mkdtempSync(join(tmpdir(), 'spanstat-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

function yamlFile(text: string): string {
  const file = join(dir, `spanstat-${files++}.yaml`);
  writeFileSync(file, text);
  return file;
}

describe('loadConfig', () => {
  it('fills every default when given nothing', () => {
    const config = loadConfig({ env: {} });
    expect(config.receiver.port).toBe(DEFAULTS.receiver.port);
    expect(config.api.host).toBe('127.0.0.1');
    expect(config.aggregation.relativeAccuracy).toBe(0.01);
  });

  it('reads the YAML file and lets SPANSTAT_* variables override it', () => {
    const file = yamlFile('receiver:\n  port: 5000\napi:\n  port: 6000\n');
    const config = loadConfig({
      file,
      env: { SPANSTAT_API_PORT: '7000', SPANSTAT_REDIS_PATTERNS: 'a:*,b:*' },
    });
    expect(config.receiver.port).toBe(5000);
    expect(config.api.port).toBe(7000);
    expect(config.redis.patterns).toEqual(['a:*', 'b:*']);
  });

  it('names the field and the file for an invalid value', () => {
    const file = yamlFile('receiver:\n  port: -1\n');
    expect(() => loadConfig({ file, env: {} })).toThrow(`${file}: 'receiver.port'`);
  });

  it('takes http.routes from the file or a comma-separated variable, and names a bad template', () => {
    const file = yamlFile('http:\n  routes: ["/users/:name", "/static/**"]\n');
    expect(loadConfig({ file, env: {} }).http.routes).toEqual(['/users/:name', '/static/**']);
    expect(loadConfig({ env: { SPANSTAT_HTTP_ROUTES: '/u/:name,/a/*' } }).http.routes).toEqual([
      '/u/:name',
      '/a/*',
    ]);
    const bad = yamlFile('http:\n  routes: ["users/:name"]\n');
    expect(() => loadConfig({ file: bad, env: {} })).toThrow(
      `${bad}: 'http.routes.0' must be a path starting with /`,
    );
  });

  it('rejects an unknown key by name', () => {
    const file = yamlFile('receiver:\n  prot: 4318\n');
    expect(() => loadConfig({ file, env: {} })).toThrow(/unknown field 'receiver.prot'/);
  });

  it('names the file when the YAML does not parse', () => {
    const file = yamlFile('receiver: [1, 2\n');
    expect(() => loadConfig({ file, env: {} })).toThrow(/SPANSTAT_ERR_CONFIG_YAML/);
  });

  it('returns a frozen object', () => {
    const config = loadConfig({ env: {} });
    expect(Object.isFrozen(config.receiver)).toBe(true);
  });

  it('reads forward headers from SPANSTAT_FORWARD_HEADERS in the k=v,k2=v2 form', () => {
    const config = loadConfig({
      env: {
        SPANSTAT_FORWARD_ENDPOINT: 'https://otel.example:4318/v1/traces',
        SPANSTAT_FORWARD_HEADERS: 'authorization=Bearer%20abc, x-team = shop,broken,bad=%zz',
      },
    });
    expect(config.forward.endpoint).toBe('https://otel.example:4318/v1/traces');
    expect(config.forward.headers).toEqual({ authorization: 'Bearer abc', 'x-team': 'shop', bad: '%zz' });
  });

  it('takes forward.compression from SPANSTAT_FORWARD_COMPRESSION and refuses other codecs by name', () => {
    expect(loadConfig({ env: {} }).forward.compression).toBe('gzip');
    expect(loadConfig({ env: { SPANSTAT_FORWARD_COMPRESSION: 'none' } }).forward.compression).toBe('none');
    const file = yamlFile('forward:\n  compression: zstd\n');
    expect(() => loadConfig({ file, env: {} })).toThrow(`${file}: 'forward.compression'`);
  });

  it('takes the deploy comparison settings from advisor.deploy and refuses a ratio that is no increase', () => {
    expect(loadConfig({ env: {} }).advisor.deploy).toMatchObject({ minRequests: 30, latencyRatio: 1.5 });
    const env = { SPANSTAT_ADVISOR_DEPLOY_SETTLE_MINUTES: '15' };
    expect(loadConfig({ env }).advisor.deploy.settleMinutes).toBe(15);
    const file = yamlFile('advisor:\n  deploy:\n    latencyRatio: 1\n');
    expect(() => loadConfig({ file, env: {} })).toThrow(`${file}: 'advisor.deploy.latencyRatio'`);
  });

  it('names forward.endpoint and the file when it is not an http(s) URL', () => {
    const file = yamlFile("forward:\n  endpoint: 'otel-collector:4318'\n");
    expect(() => loadConfig({ file, env: {} })).toThrow(
      `${file}: 'forward.endpoint' must be an http:// or https://`,
    );
  });

  it('takes forward.protocol grpc with a scheme-host-port endpoint, and names an OTLP/HTTP URL given to it', () => {
    const config = loadConfig({
      env: { SPANSTAT_FORWARD_PROTOCOL: 'grpc', SPANSTAT_FORWARD_ENDPOINT: 'https://otel-collector:4317' },
    });
    expect(config.forward).toMatchObject({ protocol: 'grpc', endpoint: 'https://otel-collector:4317' });
    expect(loadConfig({ env: {} }).forward.protocol).toBe('http');
    const file = yamlFile("forward:\n  protocol: grpc\n  endpoint: 'http://otel-collector:4318/v1/traces'\n");
    expect(() => loadConfig({ file, env: {} })).toThrow(
      `${file}: 'forward.endpoint' an OTLP/gRPC endpoint is a scheme, host and port, without a path`,
    );
    expect(() => loadConfig({ file: yamlFile('forward:\n  protocol: thrift\n'), env: {} })).toThrow(
      "'forward.protocol'",
    );
  });

  it('names the variable, not the file, for a bad environment value', () => {
    expect(() => loadConfig({ env: { SPANSTAT_RECEIVER_PORT: 'abc' } })).toThrow(
      "SPANSTAT_RECEIVER_PORT: 'receiver.port' Invalid input: expected number, received string",
    );
    const file = yamlFile('api:\n  port: 9464\n');
    expect(() => loadConfig({ file, env: { SPANSTAT_API_PORT: '70000' } })).toThrow(
      /^SPANSTAT_ERR_CONFIG_INVALID: SPANSTAT_API_PORT: 'api.port' Too big/,
    );
  });

  it('names the flag for a bad command-line value, and the file for its own even when a flag overrides it', () => {
    const file = yamlFile('receiver:\n  port: 70000\n');
    const flags = { overrideNames: { mode: '--mode', 'receiver.port': '--receiver-port' }, env: {} };
    expect(() =>
      loadConfig({ file: yamlFile('mode: sidecar\n'), overrides: { mode: 'foo' }, ...flags }),
    ).toThrow(/^SPANSTAT_ERR_CONFIG_INVALID: --mode: 'mode' Invalid option/);
    expect(() => loadConfig({ file, overrides: { receiver: { port: 0 } }, ...flags })).toThrow(
      `${file}: 'receiver.port' Too big`,
    );
  });

  it('names whoever gave a certificate when its key is missing, wherever each came from', () => {
    const overrides = { receiver: { tlsCertFile: '/etc/cert.pem' } };
    const overrideNames = { 'receiver.tlsCertFile': '--tls-cert' };
    expect(() => loadConfig({ env: {}, overrides, overrideNames })).toThrow(
      "--tls-cert: 'receiver.tlsKeyFile' TLS needs both",
    );
    // Split between the file and the environment (the key as a secret): valid together.
    const file = yamlFile('receiver:\n  tlsCertFile: /etc/cert.pem\n');
    const config = loadConfig({ file, env: { SPANSTAT_RECEIVER_TLS_KEY_FILE: '/run/key.pem' } });
    expect(config.receiver).toMatchObject({ tlsCertFile: '/etc/cert.pem', tlsKeyFile: '/run/key.pem' });
  });

  it('rejects a SPANSTAT_* variable that names no setting, listing its section', () => {
    expect(() => loadConfig({ env: { SPANSTAT_API_PROT: '1' } })).toThrow(
      "SPANSTAT_API_PROT: unknown environment variable, no spanstat setting has this name (that section's are SPANSTAT_API_HOST, SPANSTAT_API_PORT)",
    );
    expect(() => loadConfig({ env: { SPANSTAT_NOPE: '1' } })).toThrow(
      /SPANSTAT_NOPE: unknown environment variable/,
    );
    // Variables other parts of spanstat read are not config keys, and not errors here.
    const others = {
      SPANSTAT_V8_FLAGS: '',
      SPANSTAT_API_URL: 'http://x',
      SPANSTAT_POOL_CONNECT_SPANS: 'false',
    };
    expect(loadConfig({ env: others }).api.port).toBe(DEFAULTS.api.port);
  });

  it('sets nested settings from variables named by their whole path', () => {
    const config = loadConfig({
      env: {
        SPANSTAT_ADVISOR_SLOW_QUERY_P95_MS: '50',
        SPANSTAT_ADVISOR_N_PLUS_ONE_MIN_REPEATS: '3',
        SPANSTAT_ADVISOR_ENABLED: 'false',
        SPANSTAT_ADVISOR_ENDPOINT_ROUTE_SLO_MS: 'GET /api/orders=250,POST /api/orders=400',
        SPANSTAT_MODE: 'collector',
      },
    });
    expect(config.advisor.slowQuery.p95Ms).toBe(50);
    expect(config.advisor.nPlusOne.minRepeats).toBe(3);
    expect(config.advisor.enabled).toBe(false);
    expect(config.advisor.endpoint.routeSloMs).toEqual({ 'GET /api/orders': 250, 'POST /api/orders': 400 });
    expect(config.mode).toBe('collector');
    expect(() => loadConfig({ env: { SPANSTAT_ADVISOR_SLOW_QUERY_P95_MS: '-1' } })).toThrow(
      "SPANSTAT_ADVISOR_SLOW_QUERY_P95_MS: 'advisor.slowQuery.p95Ms' Too small",
    );
  });

  it('takes advisor.databases from the file or SPANSTAT_ADVISOR_DATABASES as JSON, and names a bad entry', () => {
    const entry = {
      url: 'postgres://ro@billing-db:5432/billing',
      services: ['billing-api', 'invoice-worker'],
    };
    const file = yamlFile(
      `advisor:\n  databases:\n    - url: ${entry.url}\n      services: [billing-api, invoice-worker]\n`,
    );
    expect(loadConfig({ file, env: {} }).advisor.databases).toEqual([entry]);
    expect(
      loadConfig({ env: { SPANSTAT_ADVISOR_DATABASES: JSON.stringify([entry]) } }).advisor.databases,
    ).toEqual([entry]);
    expect(loadConfig({ env: {} }).advisor.databases).toEqual([]);
    const badUrl = yamlFile('advisor:\n  databases:\n    - url: mysql://x/y\n      services: [a]\n');
    expect(() => loadConfig({ file: badUrl, env: {} })).toThrow(
      `${badUrl}: 'advisor.databases.0.url' must be a postgres:// URL`,
    );
    const twice = yamlFile(
      'advisor:\n  databases:\n    - url: postgres://a/x\n      services: [api]\n    - url: postgres://b/y\n      services: [jobs, api]\n',
    );
    expect(() => loadConfig({ file: twice, env: {} })).toThrow(
      `${twice}: 'advisor.databases.1.services.1' service 'api' is already in advisor.databases[0]`,
    );
    const none = yamlFile('advisor:\n  databases:\n    - url: postgres://a/x\n      services: []\n');
    expect(() => loadConfig({ file: none, env: {} })).toThrow(
      /'advisor\.databases\.0\.services' names at least one service/,
    );
    // Not JSON: the variable is named, its value (which may hold a password) is not quoted.
    const secret = 'postgres://ro:hunter2@db/billing';
    let message = '';
    try {
      loadConfig({ env: { SPANSTAT_ADVISOR_DATABASES: secret } });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('SPANSTAT_ADVISOR_DATABASES: not JSON');
    expect(message).not.toContain('hunter2');
  });

  it('has one variable per config leaf', () => {
    const leaves = (value: unknown): number =>
      value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0
        ? Object.values(value).reduce((n: number, v) => n + leaves(v), 0)
        : 1;
    const defaults = loadConfig({ env: {} });
    // Optional settings without a default (grpcPort, TLS files) are absent from the loaded config.
    const optional = [...ENV_SETTINGS.values()].filter((s) => {
      let v: unknown = defaults;
      for (const k of s.path) v = (v as Record<string, unknown>)[k];
      return v === undefined;
    }).length;
    // Records (headers, routeSloMs) default to {} and count as one leaf each.
    expect(ENV_SETTINGS.size).toBe(leaves(defaults) + optional);
  });
});
