import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ROOT_CONTEXT, type Span, SpanKind } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setSpan } from '../../src/preload/context-frame';
import { loadSync } from '../../src/preload/esm-hooks';
import { ESM_PATCH_GLOBAL, TRPC_ADAPTER_OPTIONS_ESM_ID } from '../../src/preload/esm-targets';
import { LeanTracerProvider } from '../../src/preload/lean-tracer';
import { preloadContext } from '../../src/preload/preload-context';
import {
  noteProcedures,
  TrpcProcedureInstrumentation,
  withProcedureNaming,
} from '../../src/preload/trpc-procedure';

const requireNative = createRequire(__filename);

const ended: ReadableSpan[] = [];
const tracer = new LeanTracerProvider(resourceFromAttributes({ 'service.name': 'trpc-test' }), {
  onEnd: (span) => ended.push(span),
}).getTracer('test');

let instrumentation: TrpcProcedureInstrumentation;

beforeAll(() => {
  preloadContext.enable();
  instrumentation = new TrpcProcedureInstrumentation();
  // A fresh load of @trpc/server, so the require hook sees its adapters.
  for (const id of Object.keys(requireNative.cache))
    if (/[/\\]node_modules[/\\]@trpc[/\\]server[/\\]/.test(id)) delete requireNative.cache[id];
});

afterAll(() => {
  instrumentation.disable();
  preloadContext.disable();
});

/** Runs `fn` in a request's context; answers the request span's tRPC attributes and route once it ended. */
async function inRequest(fn: (request: Span) => unknown, kind: SpanKind = SpanKind.SERVER) {
  const request = tracer.startSpan('GET', { kind });
  await preloadContext.with(setSpan(ROOT_CONTEXT, request), () => fn(request));
  request.end();
  const attributes = ended[ended.length - 1].attributes;
  return Object.fromEntries(
    Object.entries(attributes).filter(([key]) => key.includes('trpc') || key === 'http.route'),
  );
}

/** tRPC 11's fetch adapter (through the require hook) and a router of three procedures. */
function trpc11() {
  const { initTRPC } = requireNative('@trpc/server') as typeof import('@trpc/server');
  const { fetchRequestHandler } = requireNative(
    '@trpc/server/adapters/fetch',
  ) as typeof import('@trpc/server/adapters/fetch');
  const t = initTRPC.create();
  const router = t.router({
    me: t.procedure.query(() => 'ann'),
    orders: t.router({ list: t.procedure.query(() => []), touch: t.procedure.mutation(() => true) }),
  });
  const handle = (path: string, init: RequestInit = {}, options: Record<string, unknown> = {}) =>
    fetchRequestHandler({
      endpoint: '/trpc',
      req: new Request(`http://localhost/trpc/${path}`, init),
      router,
      ...options,
    });
  return { handle, fetchRequestHandler };
}

describe('the preload tRPC procedure names', () => {
  it("notes the procedures tRPC 11's adapter resolved, and tRPC's endpoint as the route", async () => {
    const { handle } = trpc11();
    expect(await inRequest(() => handle('orders.list'))).toEqual({
      'spanstat.trpc.type': 'query',
      'spanstat.trpc.procedure': 'orders.list',
      'http.route': '/trpc',
    });
    expect(
      await inRequest(() =>
        handle('orders.touch', {
          method: 'POST',
          body: '{}',
          headers: { 'content-type': 'application/json' },
        }),
      ),
    ).toMatchObject({
      'spanstat.trpc.type': 'mutation',
      'spanstat.trpc.procedure': 'orders.touch',
    });
    // A batch: its distinct procedures, sorted, and how many.
    expect(await inRequest(() => handle('orders.list,me,orders.list?batch=1&input={}'))).toMatchObject({
      'spanstat.trpc.type': 'query',
      'spanstat.trpc.procedure': 'me,orders.list',
      'spanstat.trpc.procedures': 2,
    });
    expect(await inRequest(() => handle('me,me?batch=1&input={}'))).not.toHaveProperty(
      'spanstat.trpc.procedures',
    );
    // A path the router has not: nothing, whatever the client sent.
    expect(await inRequest(() => handle('zebediah'))).toEqual({});
    expect(await inRequest(() => handle('orders.zebediah,zebediah?batch=1&input={}'))).toEqual({});
    // Outside a request (no SERVER span): nothing, and the call still answers.
    const response = await inRequest(
      async () => expect((await handle('me')).status).toBe(200),
      SpanKind.INTERNAL,
    );
    expect(response).toEqual({});
  });

  it("calls the app's own responseMeta and returns what it does", async () => {
    const { handle } = trpc11();
    const seen: unknown[] = [];
    const options = {
      responseMeta(this: unknown) {
        seen.push(this);
        return { headers: { 'x-app': 'yes' } };
      },
    };
    let header: string | null = null;
    const attributes = await inRequest(async () => {
      header = (await handle('me', {}, options)).headers.get('x-app');
    });
    expect(header).toBe('yes');
    expect(seen).toHaveLength(1);
    expect(attributes).toMatchObject({ 'spanstat.trpc.procedure': 'me' });
  });

  it('wraps options once, leaves what is not options alone, never throws', () => {
    const router = {};
    const once = withProcedureNaming({ router }) as { responseMeta: unknown };
    expect(typeof once.responseMeta).toBe('function');
    expect(withProcedureNaming(once)).toBe(once);
    for (const odd of [undefined, null, 'x', 3]) expect(withProcedureNaming(odd)).toBe(odd);
    const notAFunction = { router, responseMeta: 'x' };
    expect(withProcedureNaming(notAFunction)).toBe(notAFunction);
    expect(() =>
      noteProcedures({ info: { calls: [null, { procedure: { _def: null } }] } }, null),
    ).not.toThrow();
    expect(() => noteProcedures(null, undefined)).not.toThrow();
  });

  it("checks tRPC 10's paths against the router's procedures, with the request's type", async () => {
    const router = {
      _def: { procedures: { me: { _def: { query: true } }, 'orders.touch': { _def: { mutation: true } } } },
    };
    const note = (meta: unknown) => inRequest(() => noteProcedures(meta, router));
    expect(await note({ paths: ['me'], type: 'query' })).toEqual({
      'spanstat.trpc.type': 'query',
      'spanstat.trpc.procedure': 'me',
    });
    expect(await note({ paths: ['orders.touch'], type: 'mutation' })).toMatchObject({
      'spanstat.trpc.procedure': 'orders.touch',
    });
    // A query sent to a mutation, a path it has not, an inherited property, an unknown type: nothing.
    expect(await note({ paths: ['orders.touch'], type: 'query' })).toEqual({});
    expect(await note({ paths: ['zebediah', 'toString', '__proto__'], type: 'query' })).toEqual({});
    expect(await note({ paths: ['me'], type: 'unknown' })).toEqual({});
  });

  it('leaves the route to the framework when procedure paths span URL segments (pathSeparator "/")', async () => {
    const call = { path: 'orders.list', procedure: { _def: { type: 'query' } } };
    const url = new URL('http://localhost/trpc/orders/list');
    const note = (router: unknown) =>
      inRequest(() => noteProcedures({ info: { calls: [call], url } }, router));
    expect(await note({ _def: { _config: { pathSeparator: '/' } } })).toEqual({
      'spanstat.trpc.type': 'query',
      'spanstat.trpc.procedure': 'orders.list',
    });
    expect(await note({ _def: { _config: { pathSeparator: '.' } } })).toMatchObject({
      'http.route': '/trpc/orders',
    });
  });

  it("hands each ES module adapter's options over as its function starts (tRPC 11's own files)", () => {
    const adapters = join(dirname(requireNative.resolve('@trpc/server/adapters/express')), '.');
    const call = `opts = globalThis[Symbol.for("${ESM_PATCH_GLOBAL}")]?.("${TRPC_ADAPTER_OPTIONS_ESM_ID}", opts) ?? opts;`;
    const expected: [string, string[]][] = [
      ['express.mjs', ['function createExpressMiddleware(opts) {']],
      ['standalone.mjs', ['function createHandler(opts) {', 'function createHTTPHandler(opts) {']],
      ['next.mjs', ['function createNextApiHandler(opts) {']],
      ['fetch/index.mjs', ['async function fetchRequestHandler(opts) {']],
      ['fastify/index.mjs', ['async function fastifyRequestHandler(opts) {']],
    ];
    for (const [file, heads] of expected) {
      const source = readFileSync(join(adapters, file), 'utf8');
      const url = `file:///app/node_modules/@trpc/server/dist/adapters/${file}`;
      const out = loadSync(url, {}, () => ({ format: 'module', source })).source as string;
      for (const head of heads) expect(out).toContain(`${head} ${call}`);
      expect(out.split(call)).toHaveLength(heads.length + 1);
    }
    // tRPC 10's standalone builds its server's handler with createHTTPHandler, exported.
    const v10 = 'export function createHTTPHandler(opts) {\n  return 1;\n}\n';
    const url = 'file:///app/node_modules/@trpc/server/dist/adapters/standalone.mjs';
    expect(loadSync(url, {}, () => ({ format: 'module', source: v10 })).source).toContain(
      `export function createHTTPHandler(opts) { ${call}`,
    );
    const other = { format: 'module', source: 'export const createHTTPHandler = (o) => o;\n' };
    expect(loadSync(url, {}, () => other)).toBe(other);
  });
});
