/**
 * The preload with Redis Cluster clients — an ioredis `Cluster` and a node-redis (`redis` 5) `createCluster`:
 * a real three-master Redis Cluster (scripts/lib/local-servers.ts), the sidecar, and the app under
 * `--require dist/preload.js`. While the app runs, the test moves hash slots between masters as a
 * resharding does: a command sent to the old owner is answered MOVED (slot moved) or ASK (slot being
 * migrated) and the client sends it again to the new owner. Each must count once, with the outcome of
 * the attempt that answered it — a redirection is not an error, and the hit or miss is the new owner's.
 */

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SidecarProcess, startSidecarProcess } from '../../scripts/lib/demo-stack';
import { type LocalRedisCluster, type LocalServer, startRedisCluster } from '../../scripts/lib/local-servers';
import type { CacheRow, EndpointRow, Report } from '../../src/reports/types';
import {
  type AppOptions,
  type AppRun,
  assertBuilt,
  FIXTURE_DIR,
  startApp,
} from '../fixtures/preload-app/harness';
import { COMPAT_DIR, COMPAT_LEGACY_DIR, installedPins } from '../helpers/compat-fixture';
import { getJson, waitFor } from '../helpers/sidecar';

const OWN_SDK = join(FIXTURE_DIR, 'own-sdk-register.js');

/**
 * A cluster, the sidecar and `script` (in `dir`) under the preload (or, with `ownSdk`, traced by
 * OpenTelemetry's NodeSDK instead), with the slot moves the tests make.
 */
function clusterRun(
  service: string,
  script: AppOptions['script'],
  { dir, ownSdk = false, env = {} }: { dir?: string; ownSdk?: boolean; env?: Record<string, string> } = {},
) {
  let cluster: LocalRedisCluster;
  let sidecar: SidecarProcess;
  let app: AppRun;
  const run = {
    app: () => app,
    cluster: () => cluster,
    async start() {
      assertBuilt();
      cluster = await startRedisCluster(3);
      sidecar = await startSidecarProcess({ env: { SPANSTAT_ASSEMBLY_IDLE_MS: '1500' } });
      app = await startApp({
        script,
        dir,
        ...(ownSdk ? { preload: false, nodeArgs: ['--require', OWN_SDK] } : {}),
        env: {
          REDIS_CLUSTER_NODES: cluster.nodes.map((n) => `${n.host}:${n.port}`).join(','),
          OTEL_EXPORTER_OTLP_ENDPOINT: sidecar.receiverUrl,
          OTEL_BSP_SCHEDULE_DELAY: '100',
          OTEL_SERVICE_NAME: service,
          ...env,
        },
      });
    },
    async stop() {
      await app?.stop();
      await sidecar?.child.stop();
      await cluster?.stop();
    },
    report: async <T>(kind: string) =>
      (
        await getJson<Report<T>>(
          `${sidecar.apiUrl}/api/v1/reports/${kind}?service=${service}&window=all&limit=1000`,
        )
      ).rows,
    /** The endpoint rows once they add up to `total` requests (requests are summarised after their spans). */
    endpointRows: async (total: number) =>
      (await waitFor(async () => {
        const rows = await run.report<EndpointRow>('endpoints');
        return rows.reduce((n, r) => n + r.requests, 0) >= total ? rows : undefined;
      })) ?? [],
    calculateSlot: (key: string) => Number(cluster.command(cluster.nodes[0], 'CLUSTER', 'KEYSLOT', key)),
    /** Starts moving `slot` to another master (its keys still on the old one, which answers ASK for keys it lacks). */
    startMigrating(slot: number) {
      const per = Math.ceil(16384 / cluster.nodes.length);
      const from = cluster.nodes[Math.floor(slot / per)];
      const to = cluster.nodes.find((n) => n !== from) as LocalServer;
      cluster.command(to, 'CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', nodeId(from));
      cluster.command(from, 'CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', nodeId(to));
      return { from, to };
    },
    /** Moves `slot` with `keys` to another master; the app's client still thinks the old one owns it (MOVED). */
    moveSlot(slot: number, keys: string[]) {
      const { from, to } = run.startMigrating(slot);
      cluster.command(from, 'MIGRATE', to.host, String(to.port), '', '0', '5000', 'KEYS', ...keys);
      for (const node of cluster.nodes)
        cluster.command(node, 'CLUSTER', 'SETSLOT', String(slot), 'NODE', nodeId(to));
    },
    /** An id whose `user:<id>` key lives in another slot than `avoid`. */
    userIdBeside(avoid: number) {
      for (let i = 100; ; i++) if (run.calculateSlot(`user:${i}`) !== avoid) return String(i);
    },
    /** The error replies of `kind` (MOVED, ASK) the cluster's nodes sent, as Redis counts them. */
    redirections(kind: string) {
      return cluster.nodes.reduce((n, node) => {
        const found = new RegExp(`errorstat_${kind}:count=(\\d+)`).exec(
          cluster.command(node, 'INFO', 'errorstats'),
        );
        return n + Number(found?.[1] ?? 0);
      }, 0);
    },
  };
  const nodeId = (node: LocalServer) => cluster.command(node, 'CLUSTER', 'MYID');
  return run;
}

describe('the preload with an ioredis Cluster', () => {
  const run = clusterRun('redis-cluster-app', 'redis-cluster-app.js');
  const { report, endpointRows, moveSlot, startMigrating, calculateSlot, userIdBeside, redirections } = run;
  beforeAll(run.start, 120_000);
  afterAll(run.stop);

  it("counts a redirected command once, with the new owner's answer", async () => {
    for (const id of ['1', '2', '3']) expect(await run.app().get(`/user/${id}`)).toBe(200); // 3 misses + 3 SETs
    for (const id of ['1', '2', '3']) expect(await run.app().get(`/user/${id}`)).toBe(200); // 3 hits
    expect(await run.app().get('/cart/7')).toBe(200); // pipeline: 2 misses; transaction: 2 SETs
    expect(await run.app().get('/order/8')).toBe(200); // transaction: SET + GET (a miss)

    // MOVED: the slots of user:1, cart:{7} and order:{8} move, keys and all, to other masters, one
    // at a time (a MOVED makes the client fetch the whole slot map again).
    const userSlot = calculateSlot('user:1');
    moveSlot(userSlot, ['user:1']);
    expect(await run.app().get('/user/1')).toBe(200); // GET: a hit, after MOVED
    moveSlot(calculateSlot('cart:{7}:items'), ['cart:{7}:items', 'cart:{7}:total']);
    expect(await run.app().get('/cart/7')).toBe(200); // the pipeline's 2 GETs: hits, after MOVED; then 2 SETs
    moveSlot(calculateSlot('order:{8}:state'), ['order:{8}:state']);
    expect(await run.app().get('/order/8')).toBe(200); // SET + GET (a miss) in MULTI, after MOVED

    // ASK: a slot being migrated; the key is on neither master, so the old one sends the client on.
    const id = userIdBeside(userSlot);
    startMigrating(calculateSlot(`user:${id}`));
    expect(await run.app().get(`/user/${id}`)).toBe(200); // GET: a miss, after ASK; SET, after ASK

    // The redirections happened (Redis counts the error replies it sent).
    expect(redirections('MOVED')).toBe(5); // user:1's GET, the pipeline's 2 GETs, the transaction's SET and GET
    expect(redirections('ASK')).toBe(2); // the GET and the SET

    const cache = await waitFor(async () => {
      const rows = await report<CacheRow>('cache');
      const user = rows.find((r) => r.namespace === 'user:*');
      return user !== undefined && user.reads >= 8 && user.writes >= 4 && rows.length >= 6 ? rows : undefined;
    });
    // namespace, hits, misses, reads, writes, calls, errors
    expect(
      cache?.map((r) => [r.namespace, r.hits, r.misses, r.reads, r.writes, r.calls, r.errors]).sort(),
    ).toEqual(
      [
        ['user:*', 4, 4, 8, 4, 12, 0],
        ['cart:*:items', 1, 1, 2, 2, 4, 0],
        ['cart:*:total', 1, 1, 2, 2, 4, 0],
        ['order:*:state', 0, 0, 0, 2, 2, 0],
        ['order:*:total', 0, 2, 2, 0, 2, 0],
        // MULTI and EXEC, once per transaction (4): a redirected transaction's EXECABORT is no error.
        ['(no key)', 0, 0, 0, 0, 8, 0],
      ].sort(),
    );
    const endpoints = await endpointRows(12);
    expect(endpoints.map((r) => [r.route, r.requests, r.errors, r.cacheOpsPerRequest]).sort()).toEqual([
      ['/cart/:id', 2, 0, 6],
      ['/order/:id', 2, 0, 4],
      ['/user/:id', 8, 0, 1.5],
    ]);
  });
});

describe.each<{ major: string; dir: string; env: Record<string, string> }>([
  { major: '5', dir: COMPAT_DIR, env: {} },
  // v4 sends each attempt through the patched client, a span each: the sidecar sets the redirected one aside.
  {
    major: '4',
    dir: COMPAT_LEGACY_DIR,
    env: { REDIS_PACKAGE: join(COMPAT_LEGACY_DIR, 'node_modules', 'redis') },
  },
])('the preload with a node-redis Cluster (redis $major)', ({ major, dir, env }) => {
  const run = clusterRun(`node-redis${major}-cluster-app`, 'node-redis-cluster-app.js', {
    dir: COMPAT_DIR,
    env,
  });
  const { report, endpointRows, moveSlot, startMigrating, calculateSlot, userIdBeside, redirections } = run;
  beforeAll(run.start, 120_000);
  afterAll(run.stop);

  it("counts a redirected command once, with the new owner's answer", async () => {
    expect(installedPins(dir).redis).toMatch(new RegExp(`^${major}\\.`));
    const get = (path: string) => run.app().get(path);
    for (const id of ['1', '2', '3']) expect(await get(`/user/${id}`)).toBe(200); // 3 misses + 3 SETs
    for (const id of ['1', '2', '3']) expect(await get(`/user/${id}`)).toBe(200); // 3 hits
    const userSlot = calculateSlot('user:1');
    moveSlot(userSlot, ['user:1']);
    expect(await get('/user/1')).toBe(200); // GET: a hit, after MOVED
    const id = userIdBeside(userSlot);
    startMigrating(calculateSlot(`user:${id}`));
    expect(await get(`/user/${id}`)).toBe(200); // GET: a miss, after ASK; SET, after ASK
    expect(redirections('MOVED')).toBe(1);
    expect(redirections('ASK')).toBe(2);

    const cache = await waitFor(async () => {
      const rows = await report<CacheRow>('cache');
      const user = rows.find((r) => r.namespace === 'user:*');
      return user !== undefined && user.reads >= 8 && user.writes >= 4 ? rows : undefined;
    });
    // namespace, hits, misses, reads, writes, calls, errors: ASKING is not a cache call.
    expect(cache?.map((r) => [r.namespace, r.hits, r.misses, r.reads, r.writes, r.calls, r.errors])).toEqual([
      ['user:*', 4, 4, 8, 4, 12, 0],
    ]);
    const endpoints = await endpointRows(8);
    expect(endpoints.map((r) => [r.route, r.requests, r.errors, r.cacheOpsPerRequest])).toEqual([
      ['/user/:id', 8, 0, 1.5],
    ]);
  });
});

/**
 * instrumentation-ioredis traces each attempt. ioredis sends a redirected command's next attempt from
 * the redirecting node's socket callback, so whether that attempt is traced — and in which trace — depends
 * on where that connection was opened: with `requireParentSpan` (its default) often not at all, without it
 * always (in an old request's trace, or as a root). Either way the command counts once, without an error.
 */
describe.each([
  { requireParentSpan: 'true', traced: 'sometimes' },
  { requireParentSpan: 'false', traced: 'always' },
])(
  'an ioredis Cluster traced by OpenTelemetry’s own SDK (instrumentation-ioredis, requireParentSpan $requireParentSpan: next attempt traced $traced), not the preload',
  ({ requireParentSpan }) => {
    const run = clusterRun(`sdk-redis-cluster-app-${requireParentSpan}`, 'redis-cluster-app.js', {
      ownSdk: true,
      env: { IOREDIS_REQUIRE_PARENT_SPAN: requireParentSpan },
    });
    const { report, moveSlot, startMigrating, calculateSlot, userIdBeside, redirections } = run;
    beforeAll(run.start, 120_000);
    afterAll(run.stop);
    /** The user:* row: reads, writes, calls, errors (hit/miss needs the preload). */
    const userRow = async () => {
      const row = (await report<CacheRow>('cache')).find((r) => r.namespace === 'user:*');
      return row && [row.reads, row.writes, row.calls, row.errors];
    };

    /**
     * The row once it is `ready` and has not changed for a second (the SDK exports every 100 ms); else,
     * after 30 s (a loaded CI machine), the last row read, so a failure shows the figures.
     */
    const settledRow = async (ready: (row: number[]) => boolean) => {
      const settled = await waitFor(
        async () => {
          const row = await userRow();
          if (!row || !ready(row)) return undefined;
          await new Promise((resolve) => setTimeout(resolve, 1000));
          return JSON.stringify(await userRow()) === JSON.stringify(row) ? row : undefined;
        },
        30_000,
        200,
      );
      return settled ?? (await userRow());
    };

    it('counts a redirected command once, not its redirected attempt as a failed call', async () => {
      const get = (path: string) => run.app().get(path);
      // Warm-up: every master's connection opened. (instrumentation-ioredis traces a command sent
      // before its connection is ready twice — ioredis resends its offline queue through the patched
      // sendCommand — so the figures below are taken from here on.)
      for (const id of ['1', '2', '3']) expect(await get(`/user/${id}`)).toBe(200);
      for (const id of ['1', '2', '3']) expect(await get(`/user/${id}`)).toBe(200);
      const before = await settledRow((row) => row[0] >= 6 && row[1] >= 3);

      const userSlot = calculateSlot('user:1');
      moveSlot(userSlot, ['user:1']);
      expect(await get('/user/1')).toBe(200); // GET, after MOVED
      const id = userIdBeside(userSlot);
      startMigrating(calculateSlot(`user:${id}`));
      expect(await get(`/user/${id}`)).toBe(200); // GET and SET, each after ASK
      // The redirected attempts end as errors (status `MOVED …` / `ASK …`).
      expect(redirections('MOVED')).toBe(1);
      expect(redirections('ASK')).toBe(2);

      const [reads, writes, calls, errors] = before as number[];
      const after = await settledRow((row) => row[2] >= calls + 3);
      // Three commands (two GETs, a SET), each once, none an error.
      expect(after).toEqual([reads + 2, writes + 1, calls + 3, errors]);
      // Not counted late: the row stays as it is.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(await userRow()).toEqual(after);
    }, 90_000);
  },
);
