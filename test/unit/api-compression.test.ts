import { request } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiServer } from '../../src/api/api-server';
import { acceptsGzip, MIN_GZIP_BYTES } from '../../src/api/compression';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A report big enough to compress: rows that repeat their keys, as the query report's do. */
function bigReport(rows: number) {
  return {
    rows: Array.from({ length: rows }, (_, i) => ({
      fingerprint: `fp${i}`,
      statement: `SELECT id, name FROM t${i} WHERE id = $1`,
      calls: i * 3,
      p95Ms: i / 7,
    })),
  };
}

describe('API responses and gzip', () => {
  let api: ApiServer;
  let base: string;
  let builds = 0;

  beforeAll(async () => {
    api = new ApiServer(
      { host: '127.0.0.1', port: 0, reportCacheMs: 60_000 },
      {
        health: () => ({ status: 'ok' }),
        reports: {
          queries: () => {
            builds++;
            return bigReport(2_000);
          },
          cache: () => ({ rows: [] }),
        },
        page: () => `<!doctype html><title>spanstat</title>${'<p>row</p>'.repeat(500)}`,
      },
    );
    const { port } = await api.start();
    base = `http://127.0.0.1:${port}`;
  });

  afterAll(() => api.shutdown());

  it('gzips a report for a client that accepts gzip, and the body is the same JSON', async () => {
    const plain = await get(`${base}/api/v1/reports/queries`);
    const gzipped = await get(`${base}/api/v1/reports/queries`, { 'accept-encoding': 'gzip, deflate, br' });
    expect(plain.status).toBe(200);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(gzipped.status).toBe(200);
    expect(gzipped.headers['content-encoding']).toBe('gzip');
    expect(gzipped.headers.vary).toBe('Accept-Encoding');
    expect(plain.headers.vary).toBe('Accept-Encoding');
    expect(gzipped.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(Number(gzipped.headers['content-length'])).toBe(gzipped.body.length);
    expect(gzipped.body.length).toBeLessThan(plain.body.length / 4);
    expect(gunzipSync(gzipped.body).equals(plain.body)).toBe(true);
    expect(JSON.parse(plain.body.toString()).rows).toHaveLength(2_000);
  });

  it('serves the cached report to both kinds of client without building it again', async () => {
    const before = builds;
    const answers = await Promise.all([
      get(`${base}/api/v1/reports/queries?cached=1`, { 'accept-encoding': 'gzip' }),
      get(`${base}/api/v1/reports/queries?cached=1`, { 'accept-encoding': 'gzip' }),
      get(`${base}/api/v1/reports/queries?cached=1`),
    ]);
    expect(builds - before).toBe(1);
    expect(answers.map((a) => a.headers['content-encoding'])).toEqual(['gzip', 'gzip', undefined]);
    expect(gunzipSync(answers[0].body).equals(answers[2].body)).toBe(true);
    expect(answers[1].body.equals(answers[0].body)).toBe(true);
  });

  it('answers as it is when the client refuses gzip or prefers the identity', async () => {
    for (const header of ['gzip;q=0', 'identity, gzip;q=0.5', 'br, zstd', '']) {
      const answer = await get(`${base}/api/v1/reports/queries`, { 'accept-encoding': header });
      expect(answer.headers['content-encoding'], header).toBeUndefined();
      expect(JSON.parse(answer.body.toString()).rows, header).toHaveLength(2_000);
    }
  });

  it('leaves small bodies uncompressed', async () => {
    for (const path of ['/healthz', '/api/v1/reports/cache', '/api/v1/reports/nope']) {
      const answer = await get(`${base}${path}`, { 'accept-encoding': 'gzip' });
      expect(answer.body.length, path).toBeLessThan(MIN_GZIP_BYTES);
      expect(answer.headers['content-encoding'], path).toBeUndefined();
    }
  });

  it('gzips the report page', async () => {
    const answer = await get(`${base}/`, { 'accept-encoding': 'gzip' });
    expect(answer.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(answer.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(answer.body).toString()).toMatch(
      /^<!doctype html><title>spanstat<\/title>(<p>row<\/p>){500}$/,
    );
  });

  it('answers HEAD with the headers of the GET and no body', async () => {
    const answer = await get(`${base}/api/v1/reports/queries`, { 'accept-encoding': 'gzip' }, 'HEAD');
    expect(answer.status).toBe(200);
    expect(answer.headers['content-encoding']).toBe('gzip');
    expect(answer.body.length).toBe(0);
  });

  it("decodes transparently for fetch, as the CLI's requests do", async () => {
    const response = await fetch(`${base}/api/v1/reports/queries`);
    expect(response.headers.get('content-encoding')).toBe('gzip');
    expect(((await response.json()) as { rows: unknown[] }).rows).toHaveLength(2_000);
  });
});

describe('/metrics', () => {
  it('sends the exposition text gzipped to a scraper that accepts it, and a 500 when collection fails', async () => {
    let fail = false;
    const text = Array.from({ length: 2_000 }, (_, i) => `spanstat_x{service="s",route="/r${i}"} ${i}`).join(
      '\n',
    );
    const api = new ApiServer(
      { host: '127.0.0.1', port: 0 },
      {
        health: () => ({}),
        reports: {},
        metrics: () => (fail ? Promise.reject(new Error('collect failed')) : Promise.resolve(`${text}\n`)),
      },
    );
    const { port } = await api.start();
    try {
      // Prometheus's scrape request header.
      const scraped = await get(`http://127.0.0.1:${port}/metrics`, {
        'accept-encoding': 'gzip',
        accept: 'text/plain;version=0.0.4;q=0.3,*/*;q=0.1',
      });
      expect(scraped.status).toBe(200);
      expect(scraped.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(scraped.headers['content-encoding']).toBe('gzip');
      expect(gunzipSync(scraped.body).toString()).toBe(`${text}\n`);
      const plain = await get(`http://127.0.0.1:${port}/metrics`);
      expect(plain.body.toString()).toBe(`${text}\n`);
      fail = true;
      const failed = await get(`http://127.0.0.1:${port}/metrics`);
      expect(failed.status).toBe(500);
      expect(JSON.parse(failed.body.toString()).error.code).toBe('SPANSTAT_ERR_API_INTERNAL');
    } finally {
      await api.shutdown();
    }
  });
});

describe('API body cache', () => {
  it('keeps an expensive body twenty times as long as it took to make, a cheap one for the configured period', async () => {
    const builds = { slow: 0, cheap: 0 };
    const api = new ApiServer(
      { host: '127.0.0.1', port: 0, reportCacheMs: 100 },
      {
        health: () => ({}),
        reports: {
          slow: () => {
            builds.slow++;
            const until = performance.now() + 120;
            while (performance.now() < until);
            return { rows: [] };
          },
          cheap: () => ({ rows: [builds.cheap++] }),
        },
      },
    );
    const { port } = await api.start();
    try {
      for (const name of ['slow', 'cheap']) await get(`http://127.0.0.1:${port}/api/v1/reports/${name}`);
      await new Promise((r) => setTimeout(r, 300));
      for (const name of ['slow', 'cheap']) await get(`http://127.0.0.1:${port}/api/v1/reports/${name}`);
      // The slow one (≥ 120 ms to make) is served for ≥ 2.4 s; the cheap one was rebuilt after 100 ms.
      expect(builds).toEqual({ slow: 1, cheap: 2 });
    } finally {
      await api.shutdown();
    }
  });
});

describe('API body cache after a cheap rebuild', () => {
  it('keeps counting the dearer build: a report found still cached makes a cheap body, not a short-lived one', async () => {
    let builds = 0;
    const api = new ApiServer(
      { host: '127.0.0.1', port: 0, reportCacheMs: 100 },
      {
        health: () => ({}),
        reports: {
          view: () => {
            // The first build is the report's (120 ms); the next ones find it cached.
            if (builds++ === 0) {
              const until = performance.now() + 120;
              while (performance.now() < until);
            }
            return { rows: [] };
          },
        },
      },
    );
    const { port } = await api.start();
    const url = `http://127.0.0.1:${port}/api/v1/reports/view`;
    try {
      await get(url);
      await new Promise((r) => setTimeout(r, 2_600)); // past 20 × 120 ms
      await get(url);
      expect(builds).toBe(2);
      await new Promise((r) => setTimeout(r, 300));
      await get(url);
      // Served from the second body: its lifetime still counts the 120-ms build.
      expect(builds).toBe(2);
    } finally {
      await api.shutdown();
    }
  });
});

describe('API body cache bounds', () => {
  it('keeps at most 32 MiB of bodies, whatever the number of URLs asked for', async () => {
    let builds = 0;
    const row = 'x'.repeat(1_000);
    const api = new ApiServer(
      { host: '127.0.0.1', port: 0, reportCacheMs: 60_000 },
      {
        health: () => ({}),
        reports: {
          big: () => {
            builds++;
            return { rows: Array.from({ length: 3_000 }, () => row) }; // ~3 MiB
          },
        },
      },
    );
    const { port } = await api.start();
    try {
      for (let i = 0; i < 20; i++) await get(`http://127.0.0.1:${port}/api/v1/reports/big?i=${i}`);
      expect(builds).toBe(20);
      expect(api.cachedBodyBytes).toBeGreaterThan(25 * 2 ** 20);
      expect(api.cachedBodyBytes).toBeLessThanOrEqual(32 * 2 ** 20);
      // The newest stayed; the oldest made room.
      await get(`http://127.0.0.1:${port}/api/v1/reports/big?i=19`);
      expect(builds).toBe(20);
      await get(`http://127.0.0.1:${port}/api/v1/reports/big?i=0`);
      expect(builds).toBe(21);
    } finally {
      await api.shutdown();
    }
  });

  it('drops expired bodies when another is cached, not only when their URL comes back', async () => {
    const api = new ApiServer(
      { host: '127.0.0.1', port: 0, reportCacheMs: 50 },
      { health: () => ({}), reports: { small: () => ({ rows: ['a'.repeat(100)] }) } },
    );
    const { port } = await api.start();
    try {
      for (let i = 0; i < 3; i++) await get(`http://127.0.0.1:${port}/api/v1/reports/small?i=${i}`);
      const one = api.cachedBodyBytes / 3;
      await new Promise((r) => setTimeout(r, 200));
      await get(`http://127.0.0.1:${port}/api/v1/reports/small?i=3`);
      expect(api.cachedBodyBytes).toBe(one);
    } finally {
      await api.shutdown();
    }
  });
});

describe('acceptsGzip', () => {
  it.each([
    ['gzip', true],
    ['gzip, deflate', true],
    ['deflate, gzip;q=0.8, identity;q=0.5', true],
    ['*', true],
    ['gzip;q=0', false],
    ['identity;q=1, gzip;q=0.5', false],
    ['br', false],
    ['', false],
  ])('%j → %s', (header, expected) => {
    expect(acceptsGzip({ headers: { 'accept-encoding': header } })).toBe(expected);
  });

  it('is false without the header', () => {
    expect(acceptsGzip({ headers: {} })).toBe(false);
  });
});
