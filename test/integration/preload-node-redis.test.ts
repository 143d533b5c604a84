/**
 * The preload with node-redis (`redis` v5, pinned in test/fixtures/compat): its app
 * (node-redis-app.js) runs under `--require dist/preload.js` exporting to `dist/cli/main.js
 * sidecar`, with a real Redis. The sidecar's cache report must hold the same exact figures an
 * ioredis app gets: reads, hits, misses, writes, errors, TTLs and no-expiry writes per key
 * namespace, MGET keys in their own namespaces, MULTI/EXEC and pipelines, RESP3 replies, and each
 * command under the request that issued it (concurrent, pooled, and queued across a reconnect).
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeRedisCommandInstrumentation } from '../../src/preload/node-redis-command';
import type { CacheRow, EndpointRow } from '../../src/reports/types';
import { COMPAT_DIR } from '../helpers/compat-fixture';
import {
  SHARED_CACHE_ROWS,
  SHARED_REQUESTS,
  sendSharedRequests,
  sharedEndpointRows,
} from '../helpers/node-redis-shared-routes';
import { cacheFigures, redisFixtureRun } from '../helpers/redis-fixture-run';
import { waitFor } from '../helpers/sidecar';

const POOLED = 3;
/** Requests whose cache read waits in node-redis's queue while it reconnects. */
const BLIPS = 5;

describe('the preload with node-redis (redis 5, test/fixtures/compat)', () => {
  const run = redisFixtureRun({ dir: COMPAT_DIR, script: 'node-redis-app.js', service: 'node-redis-compat' });
  const { up, report, request, all } = run;
  beforeAll(run.start, 180_000);
  afterAll(run.stop);

  it("loads the fixture's pinned redis 5 and wraps its client", () => {
    const { app, pins } = up();
    const patches = JSON.parse(/^patches (.*)$/m.exec(app.stdout())?.[1] ?? '{}');
    expect(patches).toEqual({
      versions: { redis: pins.redis, express: pins.express },
      sendCommand: true,
      executeMulti: true,
      executePipeline: true,
    });
    expect(pins.redis).toMatch(/^5\./);
  });

  it('reports exact cache figures per namespace and cache calls per request', async () => {
    await sendSharedRequests(run, '');
    expect(await request('/resp3/1')).toBe(200); // HGETALL: a miss, then HSET
    expect(await request('/resp3/1')).toBe(200); // a hit
    // The pool's one client is held by /pool-hold: the pooled GETs wait for it in the pool's queue.
    const hold = request('/pool-hold');
    await new Promise((r) => setTimeout(r, 50));
    const pooled = Array.from({ length: POOLED }, (_, i) => `/pool/${i}`);
    expect(await all(pooled)).toEqual(pooled.map(() => 200));
    expect(await hold).toBe(200);

    const total = SHARED_REQUESTS + 2 + 1 + POOLED;
    expect(await run.endpointFigures('/', total)).toEqual(
      [
        ...sharedEndpointRows(''),
        ['GET /resp3/:id', 2, 0, 2],
        ['GET /pool-hold', 1, 0, 1],
        ['GET /pool/:id', POOLED, 0, 1],
      ].sort(),
    );

    const cache = await waitFor(async () => {
      const found = await report<CacheRow>('cache');
      return found.find((c) => c.namespace === 'pooled:*')?.calls === POOLED ? found : undefined;
    });
    expect(cacheFigures(cache)).toEqual(
      [
        // The start-up FLUSHDB (once), and the two transactions' multi and exec.
        ['(no key)', 0, 0, 0, 1, 0, null, null, 0],
        ...SHARED_CACHE_ROWS,
        ['hash:*', 1, 1, 2, 2, 0, null, null, 0],
        ['hold:*', 0, 1, 1, 0, 0, null, null, 0],
        ['pooled:*', 0, POOLED, POOLED, 0, 0, null, null, 0],
      ].sort(),
    );
    const noKey = cache?.find((c) => c.namespace === '(no key)');
    expect(noKey?.commands).toEqual({ flushdb: 1, multi: 2, exec: 2 });
    // The pooled GETs ran after /pool-hold released the client, but under their own requests.
    expect(cache?.find((c) => c.namespace === 'pooled:*')?.topEndpoints).toEqual([
      { endpoint: 'GET /pool/:id', calls: POOLED },
    ]);
  }, 60_000);

  it('counts each cache call once when node-redis reconnects with commands queued', async () => {
    const { redisUrl, app } = up();
    const admin = new Redis(redisUrl);
    try {
      expect(await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes')).toBeGreaterThan(0);
    } finally {
      admin.disconnect();
    }
    // The app reconnects 300 ms after the drop: these GETs wait in its queue meanwhile.
    await waitFor(async () => app.stdout().includes('reconnecting'), 5_000, 10);
    const blips = Array.from({ length: BLIPS }, (_, i) => `/blip/${i}`);
    const statuses = await all(blips);
    const row = await waitFor(async () => {
      const found = (await report<EndpointRow>('endpoints')).find((r) => r.route === '/blip/:id');
      return found !== undefined && found.requests >= BLIPS ? found : undefined;
    });
    const blip = await waitFor(async () => {
      const found = (await report<CacheRow>('cache')).find((c) => c.namespace === 'blip:*');
      return found !== undefined && found.calls >= BLIPS ? found : undefined;
    });
    expect({
      reconnected: app.stdout().includes('reconnecting'),
      statuses,
      requests: row?.requests,
      cacheOpsPerRequest: row?.cacheOpsPerRequest,
      cache: blip && [blip.calls, blip.reads, blip.misses, blip.errors, blip.commands],
    }).toEqual({
      reconnected: true,
      statuses: blips.map(() => 200),
      requests: BLIPS,
      cacheOpsPerRequest: 1,
      cache: [BLIPS, BLIPS, BLIPS, 0, { get: BLIPS }],
    });
  });

  it('keeps cached values out of the reports and never disturbs the app', async () => {
    const { app } = up();
    const everything = JSON.stringify([await report('endpoints'), await report('cache')]);
    expect(everything).not.toContain('secret-value-');
    expect(app.stdout()).not.toContain('UNHANDLED_REJECTION');
    expect(app.stderr()).not.toContain('spanstat');
  });

  it("wraps @redis/client's client, queue and pool when required, and puts them back when disabled", () => {
    up();
    const instrumentation = new NodeRedisCommandInstrumentation();
    // A require of our own from the fixture, in this process: its first load, so the hook sees it.
    const load = createRequire(join(COMPAT_DIR, 'node-redis-app.js'));
    const prototypes = {
      client: load('@redis/client/dist/lib/client/index.js').default.prototype,
      queue: load('@redis/client/dist/lib/client/commands-queue.js').default.prototype,
      pool: load('@redis/client/dist/lib/client/pool.js').RedisClientPool.prototype,
    };
    const wrapped = () => ({
      sendCommand: Boolean(prototypes.client.sendCommand.__wrapped),
      executeMulti: Boolean(prototypes.client._executeMulti.__wrapped),
      executePipeline: Boolean(prototypes.client._executePipeline.__wrapped),
      addCommand: Boolean(prototypes.queue.addCommand.__wrapped),
      execute: Boolean(prototypes.pool.execute.__wrapped),
    });
    try {
      expect(wrapped()).toEqual({
        sendCommand: true,
        executeMulti: true,
        executePipeline: true,
        addCommand: true,
        execute: true,
      });
    } finally {
      instrumentation.disable();
    }
    expect(wrapped()).toEqual({
      sendCommand: false,
      executeMulti: false,
      executePipeline: false,
      addCommand: false,
      execute: false,
    });
  });
});
