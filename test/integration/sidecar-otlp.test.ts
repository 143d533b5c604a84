import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom as prng } from '../../scripts/lib/seeded-random';
import type { RecommendationsResponse } from '../../src/advise/api';
import { REPORTS } from '../../src/reports';
import type { CacheRow, EndpointRow, QueryRow, Report } from '../../src/reports/types';
import type { RunningSidecar } from '../../src/sidecar/sidecar';
import { after as plusNs, readableSpan, T0 } from '../fixtures/otlp/spans';
import { getJson, startTestSidecar, waitFor } from '../helpers/sidecar';

const CLI = join(__dirname, '..', '..', 'dist', 'cli', 'main.js');

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');

/** Exact order statistic with the sketch's documented convention: rank floor(q × (n − 1)). */
function exactQuantile(sorted: number[], q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))];
}

async function post(
  url: string,
  body: Uint8Array | string,
  contentType: string,
  headers: Record<string, string> = {},
) {
  return fetch(`${url}/v1/traces`, {
    method: 'POST',
    body,
    headers: { 'Content-Type': contentType, ...headers },
  });
}

describe('sidecar over OTLP/HTTP', () => {
  let sidecar: RunningSidecar;
  beforeAll(async () => {
    sidecar = await startTestSidecar();
  });
  afterAll(async () => {
    await sidecar?.shutdown();
  });

  it('reports p50/p95/p99 within 1% of the exact values of spans sent with known durations', async () => {
    const random = prng(42);
    const durationsMs: number[] = [];
    const batches: ReadableSpan[][] = [];
    let batch: ReadableSpan[] = [];
    for (let i = 0; i < 5000; i++) {
      // Log-normal-ish latencies between ~0.3 ms and a few hundred ms, with a slow tail.
      const ms = Math.exp(random() * 4 - 1) * (random() < 0.05 ? 20 : 1);
      const ns = Math.round(ms * 1e6);
      durationsMs.push(ns / 1e6);
      batch.push(
        readableSpan({
          name: 'pg.query:SELECT shop',
          kind: 2,
          traceId: hex(i + 1, 32),
          spanId: hex(i + 1, 16),
          start: T0,
          end: plusNs(T0, ns),
          attributes: {
            'db.system.name': 'postgresql',
            'db.query.text': `SELECT * FROM invoices WHERE id = ${i}`,
          },
        }),
      );
      if (batch.length === 500) {
        batches.push(batch);
        batch = [];
      }
    }
    for (const spans of batches) {
      const body = ProtobufTraceSerializer.serializeRequest(spans) as Uint8Array;
      expect((await post(sidecar.receiverUrl, body, 'application/x-protobuf')).status).toBe(200);
    }
    const report = await waitFor(async () => {
      const r = await getJson<Report<QueryRow>>(`${sidecar.apiUrl}/api/v1/reports/queries`);
      return r.rows.find((row) => row.calls === 5000 && row.statement.includes('invoices')) ? r : undefined;
    });
    const row = report?.rows.find((r) => r.statement.includes('invoices'));
    expect(row?.calls).toBe(5000);
    const sorted = [...durationsMs].sort((a, b) => a - b);
    for (const [q, key] of [
      [0.5, 'p50Ms'],
      [0.95, 'p95Ms'],
      [0.99, 'p99Ms'],
    ] as const) {
      const exact = exactQuantile(sorted, q);
      expect(Math.abs((row?.[key] ?? 0) - exact) / exact).toBeLessThanOrEqual(0.01);
    }
    expect(row?.maxMs).toBeCloseTo(sorted[sorted.length - 1], 2);
    // The statement is normalized: no literal survives.
    expect(row?.statement).not.toMatch(/= \d/);
  });

  it('folds word-like key segments seen in one body into their widened namespace, leaving no literal row', async () => {
    // Twelve distinct words in one export: the learner widens profile:<word> to profile:* while the
    // body is being classified, before its earlier calls were recorded.
    const words = [
      'alpha',
      'bravo',
      'charlie',
      'delta',
      'echo',
      'foxtrot',
      'golf',
      'hotel',
      'india',
      'juliet',
      'kilo',
      'lima',
    ];
    const spans = words.map((word, i) =>
      readableSpan({
        name: 'get',
        kind: 3,
        traceId: hex(9000 + i, 32),
        spanId: hex(9000 + i, 16),
        start: T0,
        end: plusNs(T0, 1e6),
        attributes: {
          'db.system.name': 'redis',
          'db.query.text': `get profile:${word}`,
          'spanstat.cache.hits': 1,
        },
      }),
    );
    const body = ProtobufTraceSerializer.serializeRequest(spans) as Uint8Array;
    expect((await post(sidecar.receiverUrl, body, 'application/x-protobuf')).status).toBe(200);
    const rows = await waitFor(async () => {
      const r = await getJson<Report<CacheRow>>(`${sidecar.apiUrl}/api/v1/reports/cache?limit=100`);
      const profile = r.rows.filter((row) => row.namespace.startsWith('profile:'));
      return profile.reduce((sum, row) => sum + row.hits, 0) === words.length ? profile : undefined;
    });
    expect(rows?.map((row) => row.namespace)).toEqual(['profile:*']);
    const metrics = await (await fetch(`${sidecar.apiUrl}/metrics`)).text();
    for (const word of words) expect(metrics).not.toContain(`profile:${word}`);
  });

  it('accepts JSON with int64 as strings and gzip bodies, with stable and old attribute names', async () => {
    const traceId = 'aa'.repeat(16);
    const spans = [
      readableSpan({
        name: 'GET',
        kind: 1,
        traceId,
        spanId: '1'.repeat(16),
        start: T0,
        end: plusNs(T0, 30_000_000),
        attributes: {
          'http.method': 'GET',
          'http.target': '/legacy/items/12345?x=1',
          'http.status_code': 503,
        },
      }),
      readableSpan({
        name: 'query',
        kind: 2,
        traceId,
        spanId: '2'.repeat(16),
        parentSpanId: '1'.repeat(16),
        start: T0,
        end: plusNs(T0, 10_000_000),
        attributes: {
          'db.system': 'postgresql',
          'db.statement': "SELECT * FROM legacy_items WHERE sku = 'SKU-991'",
        },
      }),
      readableSpan({
        name: 'get',
        kind: 2,
        traceId,
        spanId: '3'.repeat(16),
        parentSpanId: '1'.repeat(16),
        start: T0,
        end: plusNs(T0, 1_000_000),
        attributes: {
          'db.system': 'redis',
          'db.statement': 'get legacy:item:12345',
          'spanstat.cache.misses': 1,
        },
      }),
    ];
    const json = new TextDecoder().decode(JsonTraceSerializer.serializeRequest(spans) as Uint8Array);
    const response = await post(sidecar.receiverUrl, gzipSync(json), 'application/json', {
      'Content-Encoding': 'gzip',
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/application\/json/);

    const endpoints = await waitFor(async () => {
      const r = await getJson<Report<EndpointRow>>(`${sidecar.apiUrl}/api/v1/reports/endpoints`);
      return r.rows.find((row) => row.route === '/legacy/items/:id');
    });
    expect(endpoints).toMatchObject({
      method: 'GET',
      requests: 1,
      errors: 1,
      queriesPerRequest: 1,
      cacheOpsPerRequest: 1,
    });
    const cache = await getJson<Report<CacheRow>>(`${sidecar.apiUrl}/api/v1/reports/cache`);
    const legacy = cache.rows.find((row) => row.namespace.startsWith('legacy:'));
    expect(legacy).toMatchObject({ misses: 1, hits: 0, reads: 1 });
    expect(legacy?.namespace).not.toContain('12345');
    const queries = await getJson<Report<QueryRow>>(`${sidecar.apiUrl}/api/v1/reports/queries`);
    const legacyQuery = queries.rows.find((row) => row.statement.includes('legacy_items'));
    expect(legacyQuery?.statement).not.toContain('SKU-991');
    expect(legacyQuery?.topEndpoints[0]?.endpoint).toBe('GET /legacy/items/:id');
  });

  it("counts Prisma's own db_query spans as DB calls under the request, once when instrumentation-pg's span is beneath them", async () => {
    // The span shapes @prisma/instrumentation sends: Prisma 7 (`prisma:client:db_query`, db.system.name,
    // db.query.text; with @prisma/adapter-pg an app's instrumentation-pg adds `pg.query` beneath it)
    // and Prisma 6's Rust engine (`prisma:engine:db_query`, db.system). Its SQL: schema-qualified, `AND 1=1`.
    const findUnique =
      'SELECT "public"."User"."id", "public"."User"."email" FROM "public"."User" ' +
      'WHERE ("public"."User"."id" = $1 AND 1=1) LIMIT $2 OFFSET $3';
    const spans: ReadableSpan[] = [];
    for (let t = 0; t < 3; t++) {
      const traceId = hex(0xbeef00 + t, 32);
      const request = hex(0xa000 + t, 16);
      spans.push(
        readableSpan({
          name: 'GET /prisma-feed',
          kind: 1,
          traceId,
          spanId: request,
          start: T0,
          end: plusNs(T0, 50_000_000),
          attributes: {
            'http.request.method': 'GET',
            'http.route': '/prisma-feed',
            'http.response.status_code': 200,
          },
        }),
      );
      for (let i = 0; i < 6; i++) {
        const operation = hex(0xb00000 + t * 256 + i * 3, 16);
        const dbQuery = hex(0xb00001 + t * 256 + i * 3, 16);
        const start = plusNs(T0, (i + 1) * 5_000_000);
        const common = { traceId, start, end: plusNs(start, 2_000_000) };
        spans.push(
          readableSpan({
            ...common,
            name: 'prisma:client:operation',
            kind: 0,
            spanId: operation,
            parentSpanId: request,
            attributes: { method: 'findUnique', model: 'User' },
          }),
        );
        if (t < 2) {
          // Prisma 7: its span first (OTLP groups by scope), instrumentation-pg's beneath it.
          spans.push(
            readableSpan({
              ...common,
              name: 'prisma:client:db_query',
              kind: 2,
              spanId: dbQuery,
              parentSpanId: operation,
              attributes: { 'db.system.name': 'postgresql', 'db.query.text': findUnique },
            }),
            readableSpan({
              ...common,
              name: 'pg.query:SELECT app',
              kind: 2,
              spanId: hex(0xc00000 + t * 256 + i, 16),
              parentSpanId: dbQuery,
              attributes: { 'db.system': 'postgresql', 'db.statement': findUnique },
            }),
          );
        } else {
          spans.push(
            readableSpan({
              ...common,
              name: 'prisma:engine:db_query',
              kind: 2,
              spanId: dbQuery,
              parentSpanId: operation,
              attributes: { 'db.system': 'postgresql', 'db.query.text': findUnique },
            }),
          );
        }
      }
    }
    const response = await post(
      sidecar.receiverUrl,
      ProtobufTraceSerializer.serializeRequest(spans) as Uint8Array,
      'application/x-protobuf',
    );
    expect(response.status).toBe(200);
    const endpoint = await waitFor(async () => {
      const r = await getJson<Report<EndpointRow>>(`${sidecar.apiUrl}/api/v1/reports/endpoints`);
      return r.rows.find((row) => row.route === '/prisma-feed');
    });
    expect(endpoint).toMatchObject({ requests: 3, queriesPerRequest: 6 });
    // The report API caches each report for a second: an earlier test's copy may still be served.
    const rows =
      (await waitFor(async () => {
        const queries = await getJson<Report<QueryRow>>(`${sidecar.apiUrl}/api/v1/reports/queries`);
        const found = queries.rows.filter((row) => row.statement.includes('"public"."User"'));
        return found.length > 0 ? found : undefined;
      })) ?? [];
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      calls: 18,
      maxCallsPerRequest: 6,
      statement:
        'SELECT "public"."User"."id", "public"."User"."email" FROM "public"."User" ' +
        'WHERE ("public"."User"."id" = $1 AND $2=$3) LIMIT $4 OFFSET $5',
    });
    expect(rows[0].topEndpoints[0]?.endpoint).toBe('GET /prisma-feed');
  });

  it('answers 400 to malformed bodies and keeps serving', async () => {
    const garbage = await post(
      sidecar.receiverUrl,
      new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01]),
      'application/x-protobuf',
    );
    expect(garbage.status).toBe(400);
    const badJson = await post(sidecar.receiverUrl, '{"resourceSpans": [', 'application/json');
    expect(badJson.status).toBe(400);
    expect(((await badJson.json()) as { message?: string }).message).toBeTruthy();
    expect((await post(sidecar.receiverUrl, 'hello', 'text/plain')).status).toBe(415);
    const health = await getJson<{ status: string }>(`${sidecar.apiUrl}/healthz`);
    expect(health.status).toBe('ok');
    const ok = await post(
      sidecar.receiverUrl,
      ProtobufTraceSerializer.serializeRequest([]) as Uint8Array,
      'application/x-protobuf',
    );
    expect(ok.status).toBe(200);
  });

  it('rejects unknown report parameters with 400 naming the parameter', async () => {
    const response = await fetch(`${sidecar.apiUrl}/api/v1/reports/queries?window=2h`);
    expect(response.status).toBe(400);
    expect(await response.text()).toContain("'window'");
    const sort = await fetch(`${sidecar.apiUrl}/api/v1/reports/queries?sort=nope`);
    expect(sort.status).toBe(400);
  });

  it('serves the report page, /metrics without literals, and answers 404/405 on the API port', async () => {
    const page = await fetch(`${sidecar.apiUrl}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>spanstat</title>');
    const metrics = await fetch(`${sidecar.apiUrl}/metrics`);
    expect(metrics.status).toBe(200);
    const text = await metrics.text();
    expect(text).toContain('spanstat_db_query_duration_seconds');
    expect(text).not.toContain('SKU-991');
    expect(text).not.toContain('12345');
    const notFound = await fetch(`${sidecar.apiUrl}/api/v1/nope`);
    expect(notFound.status).toBe(404);
    expect(await notFound.json()).toEqual({
      error: { code: 'SPANSTAT_ERR_API_NOT_FOUND', message: 'no such endpoint: /api/v1/nope' },
    });
    const post = await fetch(`${sidecar.apiUrl}/api/v1/reports/queries`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(((await post.json()) as { error: { code: string } }).error.code).toBe('SPANSTAT_ERR_API_METHOD');
  });

  // The built CLI against this sidecar, asynchronously (a synchronous spawn would block the sidecar).
  const cli = (...args: string[]) =>
    promisify(execFile)(process.execPath, [CLI, ...args, '--api', sidecar.apiUrl], { encoding: 'utf8' });

  it('prints why the sidecar cannot start on stderr, plain: a taken port (exit 1), an unknown variable (exit 2)', async () => {
    const sidecarCli = (env: Record<string, string>, ...args: string[]) =>
      promisify(execFile)(process.execPath, [CLI, 'sidecar', '--receiver-port', '0', ...args], {
        encoding: 'utf8',
        env: { ...process.env, ...env },
        timeout: 20_000,
      }).then(
        () => ({ code: 0, stderr: '' }),
        (err: { code: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }),
      );
    const takenPort = new URL(sidecar.apiUrl).port;
    const taken = await sidecarCli({}, '--api-port', takenPort);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toMatch(new RegExp(`^spanstat: SPANSTAT_ERR_LISTEN: .*${takenPort}`, 'm'));
    const typo = await sidecarCli({ SPANSTAT_API_PROT: '9999' }, '--api-port', '0');
    expect(typo).toEqual({
      code: 2,
      stderr: expect.stringMatching(
        /^spanstat: SPANSTAT_ERR_ENV_INVALID: SPANSTAT_API_PROT: unknown environment variable/,
      ),
    });
  });

  it("titles a report by the sort the API used, the default's or --sort's", async () => {
    expect((await cli('report', 'queries')).stdout).toMatch(/^Queries.* \(sorted by totalMs; /);
    expect((await cli('report', 'queries', '--sort', 'calls')).stdout).toMatch(
      /^Queries .*\(sorted by calls; /,
    );
    expect((await cli('report', 'endpoints', '--sort', 'p99Ms')).stdout).toMatch(
      /^Endpoints .*\(sorted by p99Ms; /,
    );
  });

  it('names the services with data when --service matches none, with exit 0', async () => {
    const { services } = await getJson<{ services: string[] }>(`${sidecar.apiUrl}/healthz`);
    expect(services).toContain('shop-api');
    const nosuch = await cli('report', 'queries', '--service', 'nosuch');
    expect(nosuch.stdout).toContain(
      `(no data seen for service 'nosuch' in window all; services with data: ${services.join(', ')})`,
    );
    expect(nosuch.stdout).not.toContain('no data yet');
    // A known service without rows in this report is told apart from an unknown one.
    const noPools = await cli('report', 'pools', '--service', 'shop-api');
    expect(noPools.stdout).toContain("(no pools rows for service 'shop-api' in window all)");
  });

  it('`spanstat advise --service` with a service that sent nothing says so, not "nothing over its threshold"', async () => {
    const { services } = await getJson<{ services: string[] }>(`${sidecar.apiUrl}/healthz`);
    const nosuch = await cli('advise', '--service', 'nosuch');
    expect(nosuch.stdout.trim()).toBe(
      `No recommendations: no data seen for service 'nosuch' (services with data: ${services.join(', ') || 'none yet'}).`,
    );
  });

  it("lists each report's sort columns in --help, as the API validates them", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [CLI, 'report', '--help'], {
      encoding: 'utf8',
    });
    const help = stdout.replace(/\s+/g, ' ');
    for (const [kind, { spec }] of Object.entries(REPORTS)) {
      const others = (spec.sortable as readonly string[]).filter((c) => c !== spec.defaultSort);
      expect(help).toContain(`${kind} ${[`${spec.defaultSort} (default)`, ...others].join(', ')}`);
    }
  });

  it('says when the advisor last evaluated, in the API and in `spanstat advise`', async () => {
    const url = `${sidecar.apiUrl}/api/v1/recommendations`;
    const evaluated = await waitFor(async () => {
      const { advisor } = await getJson<RecommendationsResponse>(url);
      return advisor.lastEvaluatedMs !== null ? advisor : undefined;
    });
    expect(evaluated).toMatchObject({ intervalSeconds: 30, lastError: null });
    const { stdout } = await cli('advise', '--brief');
    expect(stdout).not.toContain('has not evaluated yet');
    expect(stdout).toMatch(
      /^(Recommendations \(\d+\)|No recommendations: nothing over its threshold .*evaluated \d+s ago)/,
    );
  });
});

describe('sidecar with http.routes', () => {
  let sidecar: RunningSidecar;
  beforeAll(async () => {
    sidecar = await startTestSidecar({ http: { routes: ['/users/:name'] } });
  });
  afterAll(async () => {
    await sidecar?.shutdown();
  });

  it('names requests without http.route by the configured template: no username in a report or metric', async () => {
    const names = ['alice', 'bob', 'carol'];
    const spans = names.map((name, i) =>
      readableSpan({
        name: 'GET',
        kind: 1,
        traceId: hex(7000 + i, 32),
        spanId: hex(7000 + i, 16),
        start: T0,
        end: plusNs(T0, 2e6),
        attributes: {
          'http.request.method': 'GET',
          'url.path': `/users/${name}`,
          'http.response.status_code': 200,
        },
      }),
    );
    const body = ProtobufTraceSerializer.serializeRequest(spans) as Uint8Array;
    expect((await post(sidecar.receiverUrl, body, 'application/x-protobuf')).status).toBe(200);
    const rows = await waitFor(async () => {
      const r = await getJson<Report<EndpointRow>>(`${sidecar.apiUrl}/api/v1/reports/endpoints`);
      return r.rows.reduce((sum, row) => sum + row.requests, 0) === names.length ? r.rows : undefined;
    });
    expect(rows?.map((row) => `${row.method} ${row.route}`)).toEqual(['GET /users/:name']);
    const metrics = await (await fetch(`${sidecar.apiUrl}/metrics`)).text();
    expect(metrics).toContain('route="/users/:name"');
    for (const name of names) expect(metrics).not.toContain(name);
  });
});
