import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecodedSpan } from '../../src/model/span';
import { SpanKind } from '../../src/model/span';
import { attr, startTracedApp, type TracedApp } from '../fixtures/preload-app/harness';

// An ES module app (`import express from 'express'` …) under `node --require dist/preload.js`:
// its imports load each package's entry without `require`, which the preload's hooks watch.
let traced: TracedApp;

beforeAll(async () => {
  traced = await startTracedApp('app.mjs');
});

afterAll(async () => {
  await traced?.stop();
});

function serverSpan(path: string): DecodedSpan | undefined {
  return traced.capture.spans.find((s) => s.kind === SpanKind.SERVER && attr(s, 'url.path') === path);
}

describe('the preload in an ES module app', () => {
  it('instruments express, pg, pg-pool and ioredis imported with `import`', () => {
    const line = /patches (\{.*\})/.exec(traced.app.stdout())?.[1];
    expect(JSON.parse(line ?? '{}')).toEqual({ pg: true, pgPool: true, ioredis: true, express: true });
  });

  it('traces the request with its route template, its query and its cache calls', async () => {
    expect(await traced.app.get('/esm/items/1')).toBe(200);
    expect(await traced.app.get('/esm/items/1')).toBe(200);
    const children = (server: DecodedSpan | undefined) =>
      traced.capture.spans.filter(
        (s) => server !== undefined && s.traceId === server.traceId && s !== server,
      );
    await traced.capture.waitForSpans(() => {
      const servers = traced.capture.spans.filter((s) => s.kind === SpanKind.SERVER);
      return servers.length >= 2 && servers.every((s) => children(s).length >= 1);
    });
    const [miss, hit] = traced.capture.spans.filter((s) => s.kind === SpanKind.SERVER);
    expect(serverSpan('/esm/items/1')).toBe(miss);
    for (const server of [miss, hit]) expect(attr(server, 'http.route')).toBe('/esm/items/:id');

    // The miss: GET (a miss), the query (after the pool's first checkout), SET with a TTL, all
    // children of the request's span.
    await traced.capture.waitForSpans(() => children(miss).length >= 3);
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
