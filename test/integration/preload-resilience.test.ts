import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, type LocalServer, startPostgres, startRedis } from '../../scripts/lib/local-servers';
import {
  type AppRun,
  assertBuilt,
  type Capture,
  REPO_ROOT,
  startApp,
  startCapture,
} from '../fixtures/preload-app/harness';
import { getJson, startTestSidecar, waitFor } from '../helpers/sidecar';

const CLI = join(REPO_ROOT, 'dist', 'cli', 'main.js');

// The app must not notice a sidecar that is down, hangs, or refuses work.
let pg: LocalServer;
let redis: LocalServer;
let env: Record<string, string>;

beforeAll(async () => {
  assertBuilt();
  [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
  env = {
    PG_URL: pg.url,
    REDIS_URL: redis.url,
    // Export often and hold little, so failures and the queue bound are exercised quickly.
    OTEL_BSP_SCHEDULE_DELAY: '20',
    OTEL_BSP_MAX_QUEUE_SIZE: '256',
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '64',
  };
});

afterAll(async () => {
  await Promise.all([pg?.stop(), redis?.stop()]);
});

/** `count` GETs with 8 in flight; returns the status codes seen. */
async function load(
  app: AppRun,
  count: number,
  path = (i: number) => `/api/users/${i % 50}`,
): Promise<Set<number>> {
  const statuses = new Set<number>();
  let next = 0;
  const worker = async () => {
    while (next < count) statuses.add(await app.get(path(next++)));
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return statuses;
}

async function heapAfterGc(app: AppRun): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${app.port}/mem`);
  return ((await res.json()) as { heapUsed: number }).heapUsed;
}

const warningLines = (app: AppRun) =>
  app
    .stderr()
    .split('\n')
    .filter((line) => line.includes('spanstat'));

describe('the preload when the sidecar is unavailable', () => {
  it('serves every request with no error, no unhandled rejection, one warning and no memory growth when nothing listens', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const app = await startApp({
      env: { ...env, OTEL_EXPORTER_OTLP_ENDPOINT: dead },
      nodeArgs: ['--expose-gc'],
    });
    try {
      expect(await load(app, 300)).toEqual(new Set([200]));
      const before = await heapAfterGc(app);
      expect(await load(app, 1_000)).toEqual(new Set([200]));
      const after = await heapAfterGc(app);
      // 1,000 requests make ~5,000 spans (~7 MB if kept); the queue holds at most 256.
      expect(after - before).toBeLessThan(4 * 1024 * 1024);
      expect(app.stdout()).not.toContain('UNHANDLED_REJECTION');
      expect(warningLines(app).length).toBe(1);
      expect(warningLines(app)[0]).toContain('ECONNREFUSED');
      expect(app.child.exitCode).toBeNull();
    } finally {
      await app.stop();
    }
  });

  it('serves every request when the sidecar accepts connections but never answers', async () => {
    const hanging: Capture = await startCapture(() => {
      // hold every export until the exporter gives up
    });
    const app = await startApp({
      env: { ...env, OTEL_EXPORTER_OTLP_ENDPOINT: hanging.endpoint, OTEL_EXPORTER_OTLP_TIMEOUT: '300' },
    });
    try {
      expect(await load(app, 400)).toEqual(new Set([200]));
      expect(hanging.requests).toBeGreaterThan(0);
      expect(warningLines(app).length).toBeLessThanOrEqual(1);
      expect(app.stdout()).not.toContain('UNHANDLED_REJECTION');
    } finally {
      await app.stop();
      await hanging.close();
    }
  });

  it('tells the sidecar how many spans it lost while the sidecar was away, and the sidecar counts each once', async () => {
    const port = await freePort();
    let sidecar = await startTestSidecar({ receiver: { port } });
    const app = await startApp({ env: { ...env, OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` } });
    const health = async () => {
      const h = await getJson<{
        receiver: { spansAccepted: number };
        sendersLostSpans: Record<string, number>;
      }>(`${sidecar.apiUrl}/healthz`);
      return { accepted: h.receiver.spansAccepted, lost: h.sendersLostSpans['preload-fixture-app'] ?? 0 };
    };
    try {
      // The spans the app makes as it starts (the Redis client's ready check) reach the first sidecar.
      await load(app, 5, (i) => `/first/${i}`);
      // Steady for three readings over a second: a span of these still queued when the sidecar stops
      // would be counted lost below, beside the ones made while it was away (seen once, 251 for 250).
      let before = -1;
      let unchanged = 0;
      const delivered = await waitFor(
        async () => {
          const { accepted } = await health();
          unchanged = accepted === before ? unchanged + 1 : 0;
          before = accepted;
          return accepted >= 5 && unchanged >= 2;
        },
        10_000,
        500,
      );
      expect(delivered).toBe(true);
      await sidecar.shutdown();
      // Express's 404 makes one SERVER span and nothing else: one span per request.
      const down = 150;
      expect(await load(app, down, (i) => `/lost/${i}`)).toEqual(new Set([404]));
      // An export attempt after the last of them fails, so none still waits in the queue.
      await new Promise((r) => setTimeout(r, 300));
      sidecar = await startTestSidecar({ receiver: { port } });
      // Requests until one's SERVER span arrives with the count (the exporter may still be backing off).
      let up = 0;
      const carried = await waitFor(async () => {
        await load(app, 20, (i) => `/found/${up + i}`);
        up += 20;
        return (await health()).lost > 0;
      }, 20_000);
      expect(carried).toBe(true);
      // Then every span made since is either received by this sidecar or counted lost, exactly once.
      const settled = await waitFor(async () => {
        const h = await health();
        return h.accepted + h.lost >= down + up ? h : undefined;
      }, 10_000);
      expect(settled).toBeDefined();
      const { accepted, lost } = settled as { accepted: number; lost: number };
      expect(lost).toBeGreaterThanOrEqual(down);
      expect(accepted + lost).toBe(down + up);
      const metrics = await (await fetch(`${sidecar.apiUrl}/metrics`)).text();
      expect(metrics).toContain(`spanstat_preload_spans_lost_total{service="preload-fixture-app"} ${lost}`);
      // The CLI's report says so under its table, on stderr (exit 0; asynchronously: this process
      // runs the sidecar, which a synchronous spawn would block).
      const cliArgs = [CLI, 'report', 'endpoints', '--api', sidecar.apiUrl];
      const cli = await promisify(execFile)(process.execPath, cliArgs, { encoding: 'utf8' });
      expect(cli.stdout).toContain('Endpoints — preload-fixture-app');
      expect(cli.stderr).toContain(
        `missing from these figures: preload-fixture-app ${lost.toLocaleString('en-US')}`,
      );
    } finally {
      await app.stop();
      await sidecar.shutdown();
    }
  });

  it('honours Retry-After from an overloaded sidecar by sending nothing until it passes', async () => {
    const refusing: Capture = await startCapture((_req, res) => {
      res.writeHead(503, { 'retry-after': '30' });
      res.end();
    });
    const app = await startApp({ env: { ...env, OTEL_EXPORTER_OTLP_ENDPOINT: refusing.endpoint } });
    try {
      await refusing.waitForSpans(() => refusing.requests >= 1);
      // Many batches' worth of spans, every 20 ms, within the 30 s pause: none may be sent.
      expect(await load(app, 600)).toEqual(new Set([200]));
      expect(refusing.requests).toBe(1);
      expect(warningLines(app).length).toBe(1);
      expect(warningLines(app)[0]).toContain('HTTP 503');
    } finally {
      await app.stop();
      await refusing.close();
    }
  });
});
