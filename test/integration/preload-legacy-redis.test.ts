/**
 * The preload with the older Redis clients many services still run: node-redis v4 (`redis` 4.7,
 * `@redis/client` 1.6) and ioredis 4, pinned in test/fixtures/compat-legacy. Its app (app.js) runs
 * under `--require dist/preload.js` exporting to `dist/cli/main.js sidecar`, with a real Redis. The
 * sidecar's reports must hold the exact figures a redis 5 or ioredis 5 app gets
 * (preload-node-redis.test.ts, preload-compat.test.ts): reads, hits, misses, writes, errors, TTLs
 * and no-expiry writes per key namespace, MGET keys in their own namespaces, MULTI/EXEC and
 * pipelines, each command under the request that issued it (concurrent, isolated, legacyMode
 * callbacks, queued across a reconnect), and no span for the connection handshake or pub/sub.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeRedisCommandInstrumentation } from '../../src/preload/node-redis-command';
import type { CacheRow, EndpointRow } from '../../src/reports/types';
import { COMPAT_LEGACY_DIR } from '../helpers/compat-fixture';
import {
  SHARED_CACHE_ROWS,
  SHARED_REQUESTS,
  sendSharedRequests,
  sharedEndpointRows,
  USER_IDS,
} from '../helpers/node-redis-shared-routes';
import { cacheFigures, redisFixtureRun } from '../helpers/redis-fixture-run';
import { waitFor } from '../helpers/sidecar';

const ISOLATED = 3;
/** Requests per client whose cache read waits in the client's queue while it reconnects. */
const BLIPS = 5;

describe('the preload with node-redis v4 and ioredis 4 (test/fixtures/compat-legacy)', () => {
  const run = redisFixtureRun({ dir: COMPAT_LEGACY_DIR, service: 'legacy-redis' });
  const { up, report, request, all } = run;
  beforeAll(run.start, 180_000);
  afterAll(run.stop);

  it("loads the fixture's pinned redis 4 and ioredis 4, and wraps both", () => {
    const { app, pins } = up();
    const patches = JSON.parse(/^patches (.*)$/m.exec(app.stdout())?.[1] ?? '{}');
    expect(patches).toEqual({
      // The libraries this app loads (the fixture also pins Fastify 4, for preload-fastify.test.ts).
      versions: Object.fromEntries(['express', 'ioredis', 'redis'].map((name) => [name, pins[name]])),
      '@redis/client': '1.6.1',
      nodeRedis: { connect: true, multiExecutor: true, addCommand: true, getPubSubListeners: true },
      ioredis: true,
    });
    expect([pins.redis, pins.ioredis]).toEqual([
      expect.stringMatching(/^4\.7\./),
      expect.stringMatching(/^4\.30\./),
    ]);
  });

  it('reports exact node-redis v4 cache figures per namespace and cache calls per request', async () => {
    await sendSharedRequests(run, '/nr');
    expect(await request('/nr/legacy/1')).toBe(200); // HGETALL: a miss, then HSET
    expect(await request('/nr/legacy/1')).toBe(200); // a hit
    // The one isolated client is held by /nr/isolated-hold: the isolated GETs wait for it.
    const hold = request('/nr/isolated-hold');
    await new Promise((r) => setTimeout(r, 50));
    const isolated = Array.from({ length: ISOLATED }, (_, i) => `/nr/isolated/${i}`);
    expect(await all(isolated)).toEqual(isolated.map(() => 200));
    expect(await hold).toBe(200);

    const total = SHARED_REQUESTS + 2 + 1 + ISOLATED;
    expect(await run.endpointFigures('/nr/', total)).toEqual(
      [
        ...sharedEndpointRows('/nr'),
        ['GET /nr/legacy/:id', 2, 0, 2],
        ['GET /nr/isolated-hold', 1, 0, 1],
        ['GET /nr/isolated/:id', ISOLATED, 0, 1],
      ].sort(),
    );

    const cache = await waitFor(async () => {
      const found = await report<CacheRow>('cache');
      return found.find((c) => c.namespace === 'isolated:*')?.calls === ISOLATED ? found : undefined;
    });
    const nodeRedis = new Set([
      ...SHARED_CACHE_ROWS.map(([namespace]) => namespace),
      'hash:*',
      'hold:*',
      'isolated:*',
    ]);
    expect(cacheFigures(cache?.filter((c) => nodeRedis.has(c.namespace)))).toEqual(
      [
        ...SHARED_CACHE_ROWS,
        // legacyMode's HGETALL (raw reply: an empty array on the miss) and HSET.
        ['hash:*', 1, 1, 2, 2, 0, null, null, 0],
        ['hold:*', 0, 1, 1, 0, 0, null, null, 0],
        ['isolated:*', 0, ISOLATED, ISOLATED, 0, 0, null, null, 0],
      ].sort(),
    );
    // The isolated GETs ran on the isolated client after /nr/isolated-hold released it, under their own requests.
    expect(cache?.find((c) => c.namespace === 'isolated:*')?.topEndpoints).toEqual([
      { endpoint: 'GET /nr/isolated/:id', calls: ISOLATED },
    ]);
  }, 60_000);

  it('reports exact ioredis 4 cache figures per namespace and cache calls per request', async () => {
    const sessions = USER_IDS.map((id) => `/io/sessions/${id}`);
    expect(await all(sessions)).toEqual(sessions.map(() => 200)); // misses, then a SET … EX 45 each
    expect(await all(sessions)).toEqual(sessions.map(() => 200)); // hits
    expect(await request('/io/carts/7')).toBe(200); // MGET: two misses, a SET without expiry
    expect(await request('/io/carts/7')).toBe(200); // MGET: a hit and a miss, a SET
    expect(await request('/io/multi')).toBe(200);
    expect(await request('/io/wrongtype/1')).toBe(200);

    expect(await run.endpointFigures('/io/', USER_IDS.length * 2 + 4)).toEqual(
      [
        ['GET /io/sessions/:id', USER_IDS.length * 2, 0, 1.5],
        ['GET /io/carts/:id', 2, 0, 2],
        // multi, GET, SET, exec; multi, GET, exec sent one by one; the pipeline's HGETALL and EXISTS.
        ['GET /io/multi', 1, 0, 9],
        ['GET /io/wrongtype/:id', 1, 0, 2],
      ].sort(),
    );
    const cache = await waitFor(async () => {
      const found = await report<CacheRow>('cache');
      return found.find((c) => c.namespace === 'iowrong:*')?.calls === 2 ? found : undefined;
    });
    const ioredis = new Set([
      'session:*',
      'cart:*',
      'cart:*:old',
      'iomulti:missing:*',
      'iomulti:ttl:*',
      'iopipe:none:*',
      'iowrong:*',
    ]);
    expect(cacheFigures(cache?.filter((c) => ioredis.has(c.namespace)))).toEqual(
      [
        ['session:*', USER_IDS.length, USER_IDS.length, USER_IDS.length * 2, USER_IDS.length, 0, 45, 45, 0],
        ['cart:*', 1, 1, 2, 2, 0, null, null, 2],
        ['cart:*:old', 0, 2, 2, 0, 0, null, null, 0],
        // GET in the pipelined MULTI: its entry of EXEC's reply, not QUEUED.
        ['iomulti:missing:*', 0, 1, 1, 0, 0, null, null, 0],
        // SET … EX 80 in MULTI, a GET in the MULTI sent command by command, EXISTS in the pipeline.
        ['iomulti:ttl:*', 2, 0, 2, 1, 0, 80, 80, 0],
        ['iopipe:none:*', 0, 1, 1, 0, 0, null, null, 0],
        ['iowrong:*', 0, 0, 1, 1, 1, 20, 20, 0],
      ].sort(),
    );
    // Both clients' transactions; the start-up FLUSHDB once. No handshake (SELECT, CLIENT SETNAME,
    // CLIENT SETINFO, INFO) nor pub/sub command: those are not cache calls.
    expect(cache?.find((c) => c.namespace === '(no key)')?.commands).toEqual({
      flushdb: 1,
      multi: 4,
      exec: 4,
    });
    expect(cache?.map((c) => c.namespace).filter((n) => n.startsWith('news'))).toEqual([]);
  }, 60_000);

  it('counts each cache call once when either client reconnects with commands queued', async () => {
    const { redisUrl, app } = up();
    const admin = new Redis(redisUrl);
    try {
      expect(await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes')).toBeGreaterThan(0);
    } finally {
      admin.disconnect();
    }
    // Both reconnect 300 ms after the drop: node-redis's GETs wait in its queue meanwhile, ioredis's
    // in its offline queue, which sends each through sendCommand again.
    await waitFor(
      async () => app.stdout().includes('reconnecting nr') && app.stdout().includes('reconnecting io'),
      5_000,
      10,
    );
    const blips = Array.from({ length: BLIPS }, (_, i) => [`/nr/blip/${i}`, `/io/blip/${i}`]).flat();
    const statuses = await all(blips);
    const figures = async (route: string, namespace: string) => {
      const row = await waitFor(async () => {
        const found = (await report<EndpointRow>('endpoints')).find((r) => r.route === route);
        return found !== undefined && found.requests >= BLIPS ? found : undefined;
      });
      const blip = await waitFor(async () => {
        const found = (await report<CacheRow>('cache')).find((c) => c.namespace === namespace);
        return found !== undefined && found.calls >= BLIPS ? found : undefined;
      });
      return [
        row?.requests,
        row?.cacheOpsPerRequest,
        blip && [blip.calls, blip.reads, blip.misses, blip.errors, blip.commands],
      ];
    };
    expect({
      statuses,
      nodeRedis: await figures('/nr/blip/:id', 'blip:*'),
      ioredis: await figures('/io/blip/:id', 'ioblip:*'),
    }).toEqual({
      statuses: blips.map(() => 200),
      nodeRedis: [BLIPS, 1, [BLIPS, BLIPS, BLIPS, 0, { get: BLIPS }]],
      ioredis: [BLIPS, 1, [BLIPS, BLIPS, BLIPS, 0, { get: BLIPS }]],
    });
  });

  it('keeps cached values out of the reports and never disturbs the app', async () => {
    const { app } = up();
    const everything = JSON.stringify([await report('endpoints'), await report('cache')]);
    expect(everything).not.toContain('secret-value-');
    expect(app.stdout()).not.toContain('UNHANDLED_REJECTION');
    expect(app.stderr()).not.toContain('spanstat');
  });

  it("wraps @redis/client 1.x's client and queue when required, and puts them back when disabled", () => {
    up();
    const instrumentation = new NodeRedisCommandInstrumentation();
    // A require of our own from the fixture, in this process: its first load, so the hook sees it.
    const load = createRequire(join(COMPAT_LEGACY_DIR, 'app.js'));
    const client = load('@redis/client/dist/lib/client/index.js').default.prototype;
    const queue = load('@redis/client/dist/lib/client/commands-queue.js').default.prototype;
    const wrapped = () => ({
      connect: Boolean(client.connect.__wrapped),
      multiExecutor: Boolean(client.multiExecutor.__wrapped),
      addCommand: Boolean(queue.addCommand.__wrapped),
      getPubSubListeners: Boolean(queue.getPubSubListeners.__wrapped),
    });
    try {
      expect(wrapped()).toEqual({
        connect: true,
        multiExecutor: true,
        addCommand: true,
        getPubSubListeners: true,
      });
    } finally {
      instrumentation.disable();
    }
    expect(wrapped()).toEqual({
      connect: false,
      multiExecutor: false,
      addCommand: false,
      getPubSubListeners: false,
    });
  });
});
