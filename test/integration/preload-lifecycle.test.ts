import { type AddressInfo, createServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, type LocalServer, startPostgres, startRedis } from '../../scripts/lib/local-servers';
import type { DecodedSpan } from '../../src/model/span';
import { SpanKind } from '../../src/model/span';
import {
  assertBuilt,
  attr,
  type Capture,
  PRELOAD,
  startApp,
  startCapture,
} from '../fixtures/preload-app/harness';

// How the preload starts and ends with the process: signals, natural exit, OTEL_SDK_DISABLED.
let pg: LocalServer;
let redis: LocalServer;
let capture: Capture;
let env: Record<string, string>;

beforeAll(async () => {
  assertBuilt();
  [pg, redis, capture] = await Promise.all([startPostgres(), startRedis(), startCapture()]);
  // A long schedule delay: spans only leave on a flush, which is what these tests exercise.
  env = {
    PG_URL: pg.url,
    REDIS_URL: redis.url,
    OTEL_EXPORTER_OTLP_ENDPOINT: capture.endpoint,
    OTEL_BSP_SCHEDULE_DELAY: '60000',
  };
});

afterAll(async () => {
  await Promise.all([capture?.close(), pg?.stop(), redis?.stop()]);
});

const serverSpanFor = (path: string) =>
  capture.spans.find((s) => s.kind === SpanKind.SERVER && attr(s, 'url.path') === path);

describe('the preload at process end', () => {
  it('on SIGTERM, flushes and still ends an app that has no handler of its own, within 1.5 s', async () => {
    const app = await startApp({ env });
    try {
      expect(await app.get('/api/users/4001')).toBe(200);
      expect(serverSpanFor('/api/users/4001')).toBeUndefined();
      app.markExitClock();
      app.child.kill('SIGTERM');
      const exit = await app.exited;
      expect(exit.signal).toBe('SIGTERM');
      expect(exit.ms).toBeLessThan(1_500);
      expect(serverSpanFor('/api/users/4001')).toBeDefined();
    } finally {
      await app.stop();
    }
  });

  it("on SIGTERM, flushes but leaves shutting down to the app's own handler", async () => {
    const app = await startApp({ env: { ...env, APP_SIGTERM_HANDLER: '1' } });
    try {
      expect(await app.get('/api/users/4002')).toBe(200);
      app.child.kill('SIGTERM');
      const exit = await app.exited;
      expect(app.stdout()).toContain('app-sigterm-handler');
      expect(app.stdout()).toContain('app-closed');
      expect(exit).toMatchObject({ code: 0, signal: null });
      expect(serverSpanFor('/api/users/4002')).toBeDefined();
    } finally {
      await app.stop();
    }
  });

  it('on SIGINT without an app handler, ends the app by that signal', async () => {
    const app = await startApp({ env });
    try {
      app.child.kill('SIGINT');
      expect((await app.exited).signal).toBe('SIGINT');
    } finally {
      await app.stop();
    }
  });

  it('lets a script that finished its work exit by itself, delivering its spans first', async () => {
    const script = await startApp({ script: 'script.js', env });
    const exit = await script.exited;
    expect(exit.code).toBe(0);
    expect(script.stdout()).toContain('script-done');
    expect(exit.ms).toBeLessThan(5_000);
    expect(capture.spans.some((s) => attr(s, 'db.query.text') === 'get script:missing')).toBe(true);
    expect(capture.spans.some((s) => attr(s, 'db.query.text') === 'SELECT $1::int AS n')).toBe(true);
    // Its own beforeExit listener ran once, as without the preload.
    expect(script.stdout()).toContain('before-exit-count 1');
  });

  it('delivers the spans of a script that ends with process.exit()', async () => {
    capture.spans.length = 0;
    const script = await startApp({ script: 'script.js', env: { ...env, SCRIPT_PROCESS_EXIT: '1' } });
    const exit = await script.exited;
    expect(exit.code).toBe(0);
    expect(script.stdout()).toContain('script-done');
    expect(capture.spans.some((s) => attr(s, 'db.query.text') === 'get script:missing')).toBe(true);
    expect(capture.spans.some((s) => attr(s, 'db.query.text') === 'SELECT $1::int AS n')).toBe(true);
  });

  it('lets a script exit promptly when no sidecar listens', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const script = await startApp({
      script: 'script.js',
      env: { ...env, OTEL_EXPORTER_OTLP_ENDPOINT: dead },
    });
    const exit = await script.exited;
    expect(exit.code).toBe(0);
    expect(exit.ms).toBeLessThan(5_000);
    expect(
      script
        .stderr()
        .split('\n')
        .filter((l) => l.includes('spanstat')).length,
    ).toBeLessThanOrEqual(1);
  });

  it('says on stderr, once, that the spans it could not deliver at exit were dropped', async () => {
    // No export before the exit (the schedule delay is 60 s): the exit flush is the only attempt,
    // and its failure was silent — a script pointed at a wrong endpoint lost every span unsaid.
    const dead = `http://127.0.0.1:${await freePort()}`;
    for (const processExit of ['0', '1']) {
      const script = await startApp({
        script: 'script.js',
        env: { ...env, OTEL_EXPORTER_OTLP_ENDPOINT: dead, SCRIPT_PROCESS_EXIT: processExit },
      });
      expect((await script.exited).code).toBe(0);
      const lines = script
        .stderr()
        .split('\n')
        .filter((l) => l.includes('spanstat'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        /^spanstat preload warn: cannot export spans to http:\/\/127\.0\.0\.1:\d+\/v1\/traces at exit: .+; dropped \d+ spans$/,
      );
    }
  });

  it('lets a script exit promptly when the sidecar accepts connections but never answers', async () => {
    const held: Socket[] = [];
    const silent = createServer((socket) => {
      held.push(socket); // held open, never answered
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const script = await startApp({
        script: 'script.js',
        env: {
          ...env,
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`,
          OTEL_EXPORTER_OTLP_TIMEOUT: '60000',
        },
      });
      const exit = await script.exited;
      expect(exit.code).toBe(0);
      expect(script.stdout()).toContain('script-done');
      expect(exit.ms).toBeLessThan(5_000);
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});

describe('the preload in other setups', () => {
  it('traces a plain node:http server that uses none of express, pg or ioredis', async () => {
    const app = await startApp({ script: 'plain-http.js', env: { ...env, OTEL_BSP_SCHEDULE_DELAY: '50' } });
    try {
      expect(await app.get('/hello')).toBe(200);
      await capture.waitForSpans(() => serverSpanFor('/hello') !== undefined);
      const span = serverSpanFor('/hello');
      expect(attr(span as DecodedSpan, 'http.response.status_code')).toBe(200);
      expect(attr(span as DecodedSpan, 'http.route')).toBeUndefined();
      expect(app.stderr()).toBe('');
    } finally {
      await app.stop();
    }
  });

  it('patches once when required twice (e.g. --require and NODE_OPTIONS)', async () => {
    const app = await startApp({ env, nodeArgs: ['--require', PRELOAD] });
    try {
      expect(app.stdout()).toContain('"routeDispatchWraps":1');
      expect(await app.get('/api/users/6001')).toBe(200);
      app.child.kill('SIGTERM');
      await app.exited;
      expect(
        capture.spans.filter((s) => s.kind === SpanKind.SERVER && attr(s, 'url.path') === '/api/users/6001'),
      ).toHaveLength(1);
    } finally {
      await app.stop();
    }
  });
});

describe('OTEL_SDK_DISABLED=true', () => {
  it('loads and patches nothing, and exports nothing', async () => {
    const before = capture.requests;
    const app = await startApp({ env: { ...env, OTEL_SDK_DISABLED: 'true', OTEL_BSP_SCHEDULE_DELAY: '50' } });
    try {
      expect(app.stdout()).toContain(
        'patches {"http":false,"pg":false,"ioredis":false,"express":false,"routeDispatchWraps":0,"otelLoaded":false}',
      );
      expect(await app.get('/api/users/5')).toBe(200);
      await new Promise((r) => setTimeout(r, 300));
      expect(capture.requests).toBe(before);
    } finally {
      await app.stop();
    }
  });

  it('without it, patches every library, and Route#dispatch only once', async () => {
    const app = await startApp({ env });
    try {
      expect(app.stdout()).toContain(
        'patches {"http":true,"pg":true,"ioredis":true,"express":true,"routeDispatchWraps":1,"otelLoaded":true}',
      );
    } finally {
      await app.stop();
    }
  });
});
