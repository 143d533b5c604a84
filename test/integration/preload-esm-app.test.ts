import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalServer, startPostgres, startRedis } from '../../scripts/lib/local-servers';
import type { DecodedSpan } from '../../src/model/span';
import { SpanKind } from '../../src/model/span';
import {
  type AppRun,
  assertBuilt,
  attr,
  type Capture,
  startApp,
  startCapture,
} from '../fixtures/preload-app/harness';

// An ES module app (`import express from 'express'` …) under `node --require dist/preload.js`:
// its imports load each package's entry without `require`, which the preload's hooks watch.
let pg: LocalServer;
let redis: LocalServer;
let capture: Capture;
let app: AppRun;

beforeAll(async () => {
  assertBuilt();
  [pg, redis, capture] = await Promise.all([startPostgres(), startRedis(), startCapture()]);
  app = await startApp({
    script: 'app.mjs',
    env: {
      PG_URL: pg.url,
      REDIS_URL: redis.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: capture.endpoint,
      OTEL_BSP_SCHEDULE_DELAY: '100',
    },
  });
});

afterAll(async () => {
  await app?.stop();
  await Promise.all([capture?.close(), pg?.stop(), redis?.stop()]);
});

function serverSpan(path: string): DecodedSpan | undefined {
  return capture.spans.find((s) => s.kind === SpanKind.SERVER && attr(s, 'url.path') === path);
}

describe('the preload in an ES module app', () => {
  it('instruments express, pg, pg-pool and ioredis imported with `import`', () => {
    const line = /patches (\{.*\})/.exec(app.stdout())?.[1];
    expect(JSON.parse(line ?? '{}')).toEqual({ pg: true, pgPool: true, ioredis: true, express: true });
  });

  it('traces the request with its route template, its query and its cache calls', async () => {
    expect(await app.get('/esm/items/1')).toBe(200);
    expect(await app.get('/esm/items/1')).toBe(200);
    const children = (server: DecodedSpan | undefined) =>
      capture.spans.filter((s) => server !== undefined && s.traceId === server.traceId && s !== server);
    await capture.waitForSpans(() => {
      const servers = capture.spans.filter((s) => s.kind === SpanKind.SERVER);
      return servers.length >= 2 && servers.every((s) => children(s).length >= 1);
    });
    const [miss, hit] = capture.spans.filter((s) => s.kind === SpanKind.SERVER);
    expect(serverSpan('/esm/items/1')).toBe(miss);
    for (const server of [miss, hit]) expect(attr(server, 'http.route')).toBe('/esm/items/:id');

    // The miss: GET (a miss), the query (after the pool's first checkout), SET with a TTL, all
    // children of the request's span.
    await capture.waitForSpans(() => children(miss).length >= 3);
    const missSpans = children(miss).filter((s) => s.name !== 'pg-pool.connect');
    expect(missSpans.map((s) => s.name.split(':')[0]).sort()).toEqual(['get', 'pg.query', 'set']);
    for (const span of missSpans) expect(span.parentSpanId).toBe(miss.spanId);
    const get = missSpans.find((s) => s.name === 'get') as DecodedSpan;
    expect(attr(get, 'spanstat.cache.misses')).toBe(1);
    expect(attr(missSpans.find((s) => s.name === 'set') as DecodedSpan, 'spanstat.cache.ttl_s')).toBe(60);

    // The hit: one GET that found the key.
    const hitSpans = children(hit);
    expect(hitSpans.map((s) => s.name)).toEqual(['get']);
    expect(attr(hitSpans[0], 'spanstat.cache.hits')).toBe(1);
  });
});
