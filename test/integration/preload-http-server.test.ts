import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecodedSpan } from '../../src/model/span';
import { SpanKind } from '../../src/model/span';
import {
  type AppRun,
  assertBuilt,
  type Capture,
  startApp,
  startCapture,
} from '../fixtures/preload-app/harness';

// The preload's own HTTP server spans (src/preload/http-server.ts) on a bare node:http app.
let capture: Capture;
let app: AppRun;
let isolated: AppRun;

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${PARENT_ID}-01`;

beforeAll(async () => {
  assertBuilt();
  capture = await startCapture();
  const env = { OTEL_EXPORTER_OTLP_ENDPOINT: capture.endpoint, OTEL_BSP_SCHEDULE_DELAY: '50' };
  [app, isolated] = await Promise.all([
    startApp({ script: 'plain-http.js', env }),
    startApp({ script: 'plain-http.js', env: { ...env, OTEL_PROPAGATORS: 'none' } }),
  ]);
});

afterAll(async () => {
  await Promise.all([app?.stop(), isolated?.stop()]);
  await capture?.close();
});

async function serverSpan(path: string): Promise<DecodedSpan> {
  const find = () =>
    capture.spans.find((s) => s.kind === SpanKind.SERVER && s.attributes['url.path'] === path);
  await capture.waitForSpans(() => find() !== undefined);
  return find() as DecodedSpan;
}

async function get(run: AppRun, path: string, headers: Record<string, string> = {}): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${run.port}${path}`, { headers });
  await res.arrayBuffer();
  return res.status;
}

describe('HTTP server spans from the preload', () => {
  it('carry method, path without the query string, status code and the spans beneath, and nothing else', async () => {
    expect(await get(app, '/search/1?email=someone@example.com', { 'user-agent': 'probe/1' })).toBe(200);
    const span = await serverSpan('/search/1');
    expect(span.attributes).toEqual({
      'http.request.method': 'GET',
      'url.path': '/search/1',
      'http.response.status_code': 200,
      // This handler starts no spans of its own.
      'spanstat.descendants': 0,
    });
    expect(span.name).toBe('GET');
    expect(span.parentSpanId).toBe('');
    expect(JSON.stringify(capture.spans)).not.toContain('someone@example.com');
  });

  it('continue an incoming W3C traceparent', async () => {
    expect(await get(app, '/continued', { traceparent: TRACEPARENT })).toBe(200);
    const span = await serverSpan('/continued');
    expect(span.traceId).toBe(TRACE_ID);
    expect(span.parentSpanId).toBe(PARENT_ID);
  });

  it('start a new trace whatever the traceparent when OTEL_PROPAGATORS=none', async () => {
    expect(await get(isolated, '/isolated', { traceparent: TRACEPARENT })).toBe(200);
    const span = await serverSpan('/isolated');
    expect(span.traceId).not.toBe(TRACE_ID);
    expect(span.parentSpanId).toBe('');
  });

  it('ignore a malformed traceparent', async () => {
    expect(await get(app, '/malformed', { traceparent: '00-zz-yy-01' })).toBe(200);
    const span = await serverSpan('/malformed');
    expect(span.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(span.parentSpanId).toBe('');
  });

  it('mark 5xx responses as errors and 4xx responses not', async () => {
    expect(await get(app, '/unavailable')).toBe(503);
    expect(await get(app, '/missing')).toBe(404);
    expect((await serverSpan('/unavailable')).statusCode).toBe(2);
    expect((await serverSpan('/missing')).statusCode).toBe(0);
  });

  it('mark a response the client gave up on before it ended as an error', async () => {
    const controller = new AbortController();
    const res = await fetch(`http://127.0.0.1:${app.port}/hang`, { signal: controller.signal });
    expect(res.status).toBe(200);
    controller.abort();
    const span = await serverSpan('/hang');
    expect(span.statusCode).toBe(2);
    expect(span.attributes['http.response.status_code']).toBe(200);
  });

  it('give every request its own span, on one keep-alive connection too', async () => {
    const paths = Array.from({ length: 20 }, (_, i) => `/each/${i}`);
    for (const path of paths) expect(await get(app, path)).toBe(200);
    const spans = await Promise.all(paths.map(serverSpan));
    expect(new Set(spans.map((s) => s.traceId)).size).toBe(paths.length);
  });
});
