import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalServer, startPostgres } from '../../scripts/lib/local-servers';
import { SpanKind } from '../../src/model/span';
import {
  type AppRun,
  assertBuilt,
  type Capture,
  startApp,
  startCapture,
} from '../fixtures/preload-app/harness';

// An app that runs its own OpenTelemetry SDK under the preload: each keeps its own tracing.
let pg: LocalServer;
let capture: Capture;
let app: AppRun;

beforeAll(async () => {
  assertBuilt();
  [pg, capture] = await Promise.all([startPostgres(), startCapture()]);
  app = await startApp({
    script: 'own-otel-app.js',
    env: { PG_URL: pg.url, OTEL_EXPORTER_OTLP_ENDPOINT: capture.endpoint, OTEL_BSP_SCHEDULE_DELAY: '50' },
  });
});

afterAll(async () => {
  await app?.stop();
  await Promise.all([capture?.close(), pg?.stop()]);
});

interface OwnSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
}

describe('the preload beside an app’s own OpenTelemetry SDK', () => {
  it('leaves the app its global registrations and its spans, and still traces the request itself', async () => {
    expect(await app.get('/greeting')).toBe(200);
    const own = (await (await fetch(`http://127.0.0.1:${app.port}/own-spans`)).json()) as {
      registered: Record<string, boolean>;
      spans: OwnSpan[];
    };
    expect(own.registered).toEqual({ trace: true, context: true, propagation: true });
    const handler = own.spans.find((s) => s.name === 'load-greeting');
    const appServer = own.spans.find((s) => s.name === 'GET');
    expect(handler).toBeDefined();
    expect(appServer).toBeDefined();
    // The app's span hierarchy is its own: its handler span sits under its own HTTP server span.
    expect(handler?.parentSpanId).toBe(appServer?.spanId);

    const isQuery = (s: { name: string }) => s.name.startsWith('pg.query');
    await capture.waitForSpans((spans) => spans.some(isQuery));
    const query = capture.spans.find(isQuery);
    const server = capture.spans.find(
      (s) => s.kind === SpanKind.SERVER && s.attributes['url.path'] === '/greeting',
    );
    expect(server).toBeDefined();
    // spanstat's query span hangs under spanstat's server span, not under a span it never exports.
    expect(query?.parentSpanId).toBe(server?.spanId);
    expect(query?.traceId).toBe(server?.traceId);
    // One query, one span on each side: the app's pg instrumentation wrapped over the preload's patch
    // without removing it, and neither side wrapped twice.
    expect(capture.spans.filter(isQuery)).toHaveLength(1);
    const ownQueries = own.spans.filter(isQuery);
    expect(ownQueries).toHaveLength(1);
    expect(ownQueries[0].parentSpanId).toBe(handler?.spanId);
    // Neither side saw the other's spans.
    expect(capture.spans.some((s) => s.name === 'load-greeting')).toBe(false);
    expect(ownQueries[0].traceId).not.toBe(query?.traceId);
  });
});
