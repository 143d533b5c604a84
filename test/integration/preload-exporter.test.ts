import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { type DiagLogger, DiagLogLevel, diag } from '@opentelemetry/api';
import type { ExportResult } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/lib/local-servers';
import { parseRetryAfterMs } from '../../src/otlp-retry';
import { loadUndici, OtlpHttpExporter } from '../../src/preload/otlp-exporter';
import { decodeTracesJson } from '../../src/receiver/decode-json';
import { decodeTracesProtobuf } from '../../src/receiver/decode-protobuf';

// A real OTLP endpoint on loopback whose answer each test chooses.
type Answer = (req: IncomingMessage, body: Buffer, res: ServerResponse) => void;
let answer: Answer;
let received: Array<{ headers: IncomingMessage['headers']; body: Buffer; remotePort?: number }> = [];
let server: Server;
let url: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      received.push({ headers: req.headers, body, remotePort: req.socket.remotePort });
      answer(req, body, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
afterEach(() => {
  received = [];
});

const ok: Answer = (_req, _body, res) => {
  res.writeHead(200, { 'content-type': 'application/x-protobuf' });
  res.end();
};

function makeSpans(count: number): ReadableSpan[] {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'exporter-test' }),
  });
  const tracer = provider.getTracer('test');
  return Array.from({ length: count }, (_, i) => {
    const span = tracer.startSpan(`get`, {
      attributes: { 'db.system.name': 'redis', 'db.query.text': `get k:${i}` },
    });
    span.end();
    return span as unknown as ReadableSpan;
  });
}

const silentLogger: DiagLogger = {
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
  verbose: () => undefined,
};

function exportOnce(exporter: OtlpHttpExporter, spans: ReadableSpan[]): Promise<ExportResult> {
  return new Promise((resolve) => exporter.export(spans, resolve));
}

describe('the preload OTLP exporter', () => {
  it('delivers spans as OTLP protobuf the sidecar receiver decodes', async () => {
    answer = ok;
    const exporter = new OtlpHttpExporter({ url, timeoutMs: 2_000 });
    const result = await exportOnce(exporter, makeSpans(3));
    expect(result.code).toBe(0);
    expect(received[0].headers['content-type']).toBe('application/x-protobuf');
    const spans = decodeTracesProtobuf(received[0].body);
    expect(spans.map((s) => s.attributes['db.query.text'])).toEqual(['get k:0', 'get k:1', 'get k:2']);
    expect(spans[0].service).toBe('exporter-test');
    expect(exporter.exportedSpans).toBe(3);
    await exporter.shutdown();
  });

  it('sends gzip-compressed JSON when configured so', async () => {
    answer = ok;
    const exporter = new OtlpHttpExporter({ url, timeoutMs: 2_000, protocol: 'http/json', gzip: true });
    expect((await exportOnce(exporter, makeSpans(1))).code).toBe(0);
    expect(received[0].headers['content-encoding']).toBe('gzip');
    expect(received[0].headers['content-type']).toBe('application/json');
    expect(decodeTracesJson(gunzipSync(received[0].body).toString())).toHaveLength(1);
    await exporter.shutdown();
  });

  it('pauses for Retry-After on 503 and drops batches without sending them meanwhile', async () => {
    let now = 1_000_000;
    answer = (_req, _body, res) => {
      res.writeHead(503, { 'retry-after': '2' });
      res.end();
    };
    const exporter = new OtlpHttpExporter({ url, timeoutMs: 2_000, now: () => now });
    expect((await exportOnce(exporter, makeSpans(2))).code).toBe(1);
    expect(exporter.isPaused()).toBe(true);

    now += 1_999;
    expect((await exportOnce(exporter, makeSpans(5))).code).toBe(1);
    expect(received).toHaveLength(1);
    expect(exporter.droppedSpans).toBe(7);

    answer = ok;
    now += 1;
    expect((await exportOnce(exporter, makeSpans(1))).code).toBe(0);
    expect(received).toHaveLength(2);
    await exporter.shutdown();
  });

  it('backs off exponentially while nothing listens, without throwing', async () => {
    let now = 0;
    const deadUrl = `http://127.0.0.1:${await freePort()}/v1/traces`;
    const exporter = new OtlpHttpExporter({ url: deadUrl, timeoutMs: 2_000, now: () => now });
    const first = await exportOnce(exporter, makeSpans(1));
    expect(first.code).toBe(1);
    expect(first.error?.message).toBe('ECONNREFUSED');
    now += 999;
    expect(exporter.isPaused()).toBe(true);
    now += 1;
    expect(exporter.isPaused()).toBe(false);
    await exportOnce(exporter, makeSpans(1));
    now += 1_999;
    expect(exporter.isPaused()).toBe(true);
    now += 1;
    expect(exporter.isPaused()).toBe(false);
    await exporter.shutdown();
  });

  it('gives up on a sidecar that never answers after its timeout', async () => {
    answer = () => {
      // never answer
    };
    const exporter = new OtlpHttpExporter({ url, timeoutMs: 200 });
    const result = await exportOnce(exporter, makeSpans(1));
    expect(result.code).toBe(1);
    expect(result.error?.message).toContain('no answer within 200 ms');
    await exporter.shutdown();
  });

  it('fails an export, without throwing, when a configured header is not a valid HTTP header', async () => {
    answer = ok;
    const exporter = new OtlpHttpExporter({ url, timeoutMs: 2_000, headers: { 'bad header': 'x' } });
    const result = await exportOnce(exporter, makeSpans(1));
    expect(result.code).toBe(1);
    expect(received).toHaveLength(0);
    await exporter.shutdown();
  });

  it('sends consecutive exports over one kept-alive connection', async () => {
    answer = ok;
    const exporter = new OtlpHttpExporter({ url, timeoutMs: 2_000 });
    for (let i = 0; i < 3; i++) expect((await exportOnce(exporter, makeSpans(1))).code).toBe(0);
    expect(new Set(received.map((r) => r.remotePort)).size).toBe(1);
    expect(received).toHaveLength(3);
    await exporter.shutdown();
  });

  it('never holds the process open, even on a reused connection with an export in flight', async () => {
    answer = ok;
    const exporter = new OtlpHttpExporter({ url, timeoutMs: 3_000 });
    expect((await exportOnce(exporter, makeSpans(1))).code).toBe(0);
    // Ref'd sockets are what keeps a process alive; ours must never be one of them.
    const refdSockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
    answer = () => {
      // never answer
    };
    await new Promise((resolve) => setTimeout(resolve, 50));
    const before = refdSockets();
    const pending = exportOnce(exporter, makeSpans(1));
    for (let waited = 0; received.length < 2 && waited < 2_500; waited += 20)
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect(received).toHaveLength(2); // the second export is on the wire, unanswered
    expect(refdSockets()).toBe(before);
    expect((await pending).code).toBe(1);
    await exporter.shutdown();
  });

  it('leaves the global fetch dispatcher alone', async () => {
    answer = ok;
    const key = Symbol.for('undici.globalDispatcher.1');
    const before = (globalThis as Record<symbol, unknown>)[key];
    const exporter = new OtlpHttpExporter({ url, timeoutMs: 2_000 });
    expect((await exportOnce(exporter, makeSpans(1))).code).toBe(0);
    expect((globalThis as Record<symbol, unknown>)[key]).toBe(before);
    await exporter.shutdown();
  });

  it("names the endpoint's path in its warning, so a wrong path's 404 can be told", async () => {
    // OTEL_EXPORTER_OTLP_ENDPOINT=http://host:4318/v1/traces makes <endpoint>/v1/traces/v1/traces:
    // the warning named the origin alone ('cannot export spans to http://host:4318: HTTP 404').
    answer = (_req, _body, res) => {
      res.writeHead(404);
      res.end();
    };
    const warnings: string[] = [];
    diag.setLogger(
      { ...silentLogger, warn: (message: string) => warnings.push(message) },
      { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
    );
    try {
      const wrong = `${url}/v1/traces?token=secret`;
      const exporter = new OtlpHttpExporter({
        url: wrong.replace('http://', 'http://user:pw@'),
        timeoutMs: 2_000,
      });
      expect((await exportOnce(exporter, makeSpans(1))).code).toBe(1);
      await exporter.shutdown();
    } finally {
      diag.disable();
    }
    expect(warnings).toEqual([`cannot export spans to ${url}/v1/traces: HTTP 404; dropped 1 spans`]);
  });

  it('drops a refused batch (HTTP 400) without pausing the next one', async () => {
    answer = (_req, _body, res) => {
      res.writeHead(400);
      res.end();
    };
    const exporter = new OtlpHttpExporter({ url, timeoutMs: 2_000 });
    expect((await exportOnce(exporter, makeSpans(1))).code).toBe(1);
    expect(exporter.isPaused()).toBe(false);
    await exporter.shutdown();
  });
});

describe('loading undici', () => {
  it('takes the three files it uses, and falls back to the package index should they move', () => {
    const asked: string[] = [];
    const direct = loadUndici((id) => {
      asked.push(id);
      return require(id);
    });
    expect(asked).toEqual([
      'undici/lib/dispatcher/agent',
      'undici/lib/core/connect',
      'undici/lib/api/api-request',
    ]);
    const moved = loadUndici((id) => {
      if (id !== 'undici') throw new Error(`Cannot find module '${id}'`);
      return require(id);
    });
    expect(moved.Agent).toBe(direct.Agent);
    expect(moved.buildConnector).toBe(direct.buildConnector);
    expect(moved.request).toBe(direct.request);
  });
});

describe('Retry-After parsing', () => {
  it('reads delay-seconds and HTTP dates', () => {
    const now = Date.parse('2026-11-05T10:00:00Z');
    expect(parseRetryAfterMs('3', now)).toBe(3_000);
    expect(parseRetryAfterMs('Thu, 05 Nov 2026 10:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfterMs('Thu, 05 Nov 2026 09:00:00 GMT', now)).toBe(0);
  });

  it('ignores a missing or malformed header', () => {
    expect(parseRetryAfterMs(undefined, 0)).toBeUndefined();
    expect(parseRetryAfterMs('soon', 0)).toBeUndefined();
  });
});
