import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULTS, loadConfig } from '../../src/config';

function yamlFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'spanstat-config-')), 'spanstat.yaml');
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

  it('names the variable source for a bad environment value', () => {
    expect(() => loadConfig({ env: { SPANSTAT_RECEIVER_PORT: 'abc' } })).toThrow(
      "SPANSTAT_* environment / command line: 'receiver.port'",
    );
  });
});
