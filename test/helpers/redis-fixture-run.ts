/**
 * A compat fixture's Redis app under the preload, for the Redis client tests (preload-node-redis,
 * preload-legacy-redis): a real Redis, the sidecar, and the app (`script` in `dir`) exporting to it
 * as `service`, with the reports and requests those tests read.
 */
import { type SidecarProcess, startSidecarProcess } from '../../scripts/lib/demo-stack';
import { type LocalServer, startRedis } from '../../scripts/lib/local-servers';
import type { CacheRow, EndpointRow, Report } from '../../src/reports/types';
import { type AppOptions, type AppRun, assertBuilt, startApp } from '../fixtures/preload-app/harness';
import { installedPins } from './compat-fixture';
import { getJson, waitFor } from './sidecar';

export interface Started {
  sidecar: SidecarProcess;
  app: AppRun;
  redisUrl: string;
  pins: Record<string, string>;
}

export function redisFixtureRun(options: { dir: string; script?: AppOptions['script']; service: string }) {
  let redis: LocalServer | undefined;
  let sidecar: SidecarProcess | undefined;
  let app: AppRun | undefined;
  let pins: Record<string, string> | undefined;
  let failure: unknown;
  /** What start() started; a failed start fails every test with its reason (thrown from beforeAll, they would count as skipped). */
  const up = (): Started => {
    if (failure !== undefined) throw failure;
    return {
      sidecar: sidecar as SidecarProcess,
      app: app as AppRun,
      redisUrl: (redis as LocalServer).url,
      pins: pins as Record<string, string>,
    };
  };
  const report = async <T>(kind: string) =>
    (
      await getJson<Report<T>>(
        `${up().sidecar.apiUrl}/api/v1/reports/${kind}?service=${options.service}&window=all&limit=1000`,
      )
    ).rows;
  const request = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(`http://127.0.0.1:${up().app.port}${path}`, {
      signal: AbortSignal.timeout(10_000),
      ...init,
    });
    await res.arrayBuffer();
    return res.status;
  };
  return {
    up,
    report,
    /**
     * The endpoint rows of routes under `prefix` once they add up to `total` requests, sorted:
     * `METHOD route`, requests, errors, cache calls per request.
     */
    async endpointFigures(prefix: string, total: number) {
      const rows = await waitFor(async () => {
        const found = (await report<EndpointRow>('endpoints')).filter((r) => r.route.startsWith(prefix));
        return found.reduce((n, r) => n + r.requests, 0) >= total ? found : undefined;
      });
      return (rows ?? [])
        .map((r) => [`${r.method} ${r.route}`, r.requests, r.errors, r.cacheOpsPerRequest])
        .sort();
    },
    request,
    all: (paths: string[]) => Promise.all(paths.map((path) => request(path))),
    /** For beforeAll: never throws (see up). */
    async start() {
      try {
        assertBuilt();
        pins = installedPins(options.dir);
        redis = await startRedis();
        sidecar = await startSidecarProcess({ env: { SPANSTAT_ASSEMBLY_IDLE_MS: '1500' } });
        app = await startApp({
          dir: options.dir,
          script: options.script,
          env: {
            REDIS_URL: redis.url,
            OTEL_EXPORTER_OTLP_ENDPOINT: sidecar.receiverUrl,
            OTEL_BSP_SCHEDULE_DELAY: '100',
            OTEL_SERVICE_NAME: options.service,
          },
        });
      } catch (err) {
        failure = err;
      }
    },
    async stop() {
      await app?.stop();
      await sidecar?.child.stop();
      await redis?.stop();
    },
  };
}

/** A cache report's figures per namespace, sorted: namespace, hits, misses, reads, writes, errors, TTL min/max, no-expiry writes. */
export function cacheFigures(rows: CacheRow[] | undefined) {
  return (rows ?? [])
    .map((c) => [
      c.namespace,
      c.hits,
      c.misses,
      c.reads,
      c.writes,
      c.errors,
      c.minTtlSeconds,
      c.maxTtlSeconds,
      c.noExpiryWrites,
    ])
    .sort();
}
