import { channel } from 'node:diagnostics_channel';
import { type FastifyInstance, fastify } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIDDLEWARE_ROUTE } from '../../src/classify/route-template';
import {
  createRouteHook,
  FASTIFY_INIT_CHANNEL,
  FastifyRouteInstrumentation,
  hookInstance,
  routeUrlReader,
} from '../../src/preload/fastify-route';
import { capturedRoute, type RouteCapture, startRouteCapture } from '../../src/preload/route-capture';

// A real Fastify 5 app, in process: `rewriteUrl` (which Fastify calls before routing) attaches the
// capture the preload's HTTP server span would, and each request's route is read back as the span's
// end reads it.
const instrumentation = new FastifyRouteInstrumentation();
let app: FastifyInstance;
const captures = new Map<string, RouteCapture>();
const seenByAppHook = new Map<string, string | undefined>();

beforeAll(async () => {
  instrumentation.enable();
  app = fastify({
    rewriteUrl(req) {
      captures.set(req.url as string, startRouteCapture(req));
      return req.url as string;
    },
  });
  app.addHook('onRequest', async (request, reply) => {
    seenByAppHook.set(request.url, captures.get(request.url)?.route);
    if (request.url.startsWith('/private/')) return reply.code(401).send({});
  });
  app.get('/users/:id', async () => ({}));
  app.get('/files/*', async () => ({}));
  app.get('/private/:name', async () => ({}));
  app.get('/fail/:name', async () => {
    throw new Error('boom');
  });
  app.get('/raw/:name', (_request, reply) => {
    reply.hijack();
    reply.raw.end('raw');
  });
  app.get('/cb/:name', (_request, reply) => {
    setImmediate(() => reply.send({}));
  });
  app.register(
    async (api) => {
      api.get('/', async () => ({}));
      api.register(async (v2) => v2.get('/items/:sku', async () => ({})), { prefix: '/v2' });
    },
    { prefix: '/api' },
  );
  app.register(async (spa) => spa.setNotFoundHandler((_request, reply) => reply.send('index')), {
    prefix: '/app',
  });
  await app.ready();
});

afterAll(async () => {
  instrumentation.disable();
  await app?.close();
});

async function routeOf(url: string): Promise<[number, string | undefined]> {
  const response = await app.inject({ method: 'GET', url });
  const capture = captures.get(url) as RouteCapture;
  return [response.statusCode, capturedRoute(capture, response.statusCode)];
}

describe('Fastify requests under the preload', () => {
  it("are named by their route's url, plugin prefixes included", async () => {
    expect(await routeOf('/users/42')).toEqual([200, '/users/:id']);
    expect(await routeOf('/files/board/minutes-q3.pdf')).toEqual([200, '/files/*']);
    expect(await routeOf('/api/v2/items/zebediah')).toEqual([200, '/api/v2/items/:sku']);
    // A plugin's root route, with and without the trailing slash (Fastify registers both): one name.
    expect(await routeOf('/api')).toEqual([200, '/api']);
    expect(await routeOf('/api/')).toEqual([200, '/api']);
  });

  it('are named before the app’s own onRequest hooks run, so an auth hook’s 401 keeps the route', async () => {
    expect(await routeOf('/private/zebediah')).toEqual([401, '/private/:name']);
    expect(seenByAppHook.get('/private/zebediah')).toBe('/private/:name');
  });

  it('keep the route when the handler throws, hijacks the reply or answers from a callback', async () => {
    expect(await routeOf('/fail/zebediah')).toEqual([500, '/fail/:name']);
    expect(await routeOf('/raw/zebediah')).toEqual([200, '/raw/:name']);
    expect(await routeOf('/cb/zebediah')).toEqual([200, '/cb/:name']);
  });

  it("that no route matched are left to the sidecar's (unmatched) as a 404, and (middleware) when a not-found handler answers otherwise", async () => {
    expect(await routeOf('/nowhere/zebediah')).toEqual([404, undefined]);
    expect(await routeOf('/api/zebediah')).toEqual([404, undefined]);
    expect(await routeOf('/app/zebediah/settings')).toEqual([200, MIDDLEWARE_ROUTE]);
  });
});

describe('the Fastify instrumentation', () => {
  const publish = (name: string, message: unknown) => channel(name).publish(message);

  it('hooks instances created while it is enabled, and only those', () => {
    const added: string[] = [];
    const fake = { addHook: (name: string) => added.push(name) };
    const other = new FastifyRouteInstrumentation();
    publish(FASTIFY_INIT_CHANNEL, { fastify: fake });
    // The instance instrumentation of this file is enabled.
    expect(added).toEqual(['onRequest']);
    other.enable();
    other.enable();
    publish(FASTIFY_INIT_CHANNEL, { fastify: fake });
    expect(added).toEqual(['onRequest', 'onRequest', 'onRequest']);
    other.disable();
    other.disable();
    publish(FASTIFY_INIT_CHANNEL, { fastify: fake });
    expect(added).toHaveLength(4);
  });

  it('never throws into the factory for an odd message or a failing addHook', () => {
    // A subscriber's error would reach the app as an uncaught exception.
    for (const message of [undefined, null, {}, { fastify: {} }, { fastify: { addHook: 1 } }])
      expect(() => hookInstance(message)).not.toThrow();
    const failing = {
      addHook: () => {
        throw new Error('already started');
      },
    };
    expect(() => hookInstance({ fastify: failing })).not.toThrow();
  });
});

describe('the route hook', () => {
  const run = (request: object) => {
    let calls = 0;
    createRouteHook()(request, {}, () => {
      calls++;
    });
    return calls;
  };

  it('reads routeOptions.url, or routerPath where Fastify 4 before 4.10 has no routeOptions', () => {
    const raw = {};
    const capture = startRouteCapture(raw);
    expect(run({ raw, routeOptions: { url: '/a/:id' } })).toBe(1);
    expect(capture.route).toBe('/a/:id');
    const older = startRouteCapture(raw);
    expect(run({ raw, routerPath: '/b/:id' })).toBe(1);
    expect(older.route).toBe('/b/:id');
    const notFound = startRouteCapture(raw);
    expect(run({ raw, routeOptions: { url: undefined } })).toBe(1);
    expect([notFound.route, notFound.unrouted]).toEqual([undefined, MIDDLEWARE_ROUTE]);
  });

  it("reads the url from Fastify's route context symbol when the request has one", () => {
    const context = Symbol('fastify.context');
    const reader = routeUrlReader({ [context]: {} });
    expect(reader({ [context]: { config: { url: '/c/:id' } } } as object)).toBe('/c/:id');
    expect(reader({ [context]: { config: {} } } as object)).toBeUndefined();
    expect(reader({} as object)).toBeUndefined();
  });

  it('leaves requests without a capture alone and calls done once, whatever the request holds', () => {
    expect(run({ raw: {}, routeOptions: { url: '/a' } })).toBe(1);
    expect(run({})).toBe(1);
    const raw = {};
    const capture = startRouteCapture(raw);
    const throwing = {
      raw,
      get routeOptions(): never {
        throw new Error('getter failed');
      },
    };
    expect(run(throwing)).toBe(1);
    expect(capture).toEqual({ prefix: undefined, route: undefined, unrouted: undefined });
  });
});
