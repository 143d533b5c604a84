import { describe, expect, it } from 'vitest';
import { templateProcedureBatch, templateProcedurePath } from '../../src/classify/trpc-procedure';
import { DEFAULTS } from '../../src/config/defaults';
import { loadConfig } from '../../src/config/load';
import type { DecodedSpan } from '../../src/model/span';
import { endpointNamer, routeSpan } from '../helpers/request-naming';

const serverSpan = (attributes: DecodedSpan['attributes'], method = 'GET') =>
  routeSpan(method, '/trpc', attributes);
const classifier = (perRoute?: number) => endpointNamer(undefined, perRoute);

const call = (type: string, procedure?: string, procedures?: number): DecodedSpan['attributes'] => ({
  'spanstat.trpc.type': type,
  ...(procedure === undefined ? {} : { 'spanstat.trpc.procedure': procedure }),
  ...(procedures === undefined ? {} : { 'spanstat.trpc.procedures': procedures }),
});

describe('tRPC procedure endpoint names', () => {
  it('names a request by its route and procedure, a batch by its procedures', () => {
    const name = classifier();
    expect(name(serverSpan(call('query', 'orders.list')))).toBe('GET /trpc (query orders.list)');
    expect(name(serverSpan(call('mutation', 'orders.touch'), 'POST'))).toBe(
      'POST /trpc (mutation orders.touch)',
    );
    expect(name(serverSpan(call('subscription', 'onOrder')))).toBe('GET /trpc (subscription onOrder)');
    // A batch: its procedures, templated, distinct, sorted.
    expect(name(serverSpan(call('query', 'orders.list,me', 2)))).toBe('GET /trpc (batch: me, orders.list)');
    expect(name(serverSpan(call('query', 'me,users.u_4711,users.u_4712', 3)))).toBe(
      'GET /trpc (batch: me, users.u_:id)',
    );
    expect(name(serverSpan(call('query', 'me,no such/path', 2)))).toBe('GET /trpc (other operation)');
    expect(name(serverSpan(call('query', undefined, 2)))).toBe('GET /trpc (batch)');
    // No procedure, or a type tRPC has not: the route alone.
    expect(name(serverSpan({}))).toBe('GET /trpc');
    expect(name(serverSpan(call('Query', 'me')))).toBe('GET /trpc');
    expect(name(serverSpan({ 'spanstat.trpc.procedure': 'me' }))).toBe('GET /trpc');
    // GraphQL's attributes, when a span had both, come first.
    expect(name(serverSpan({ ...call('query', 'me'), 'graphql.operation.type': 'query' }))).toBe(
      'GET /trpc (anonymous query)',
    );
  });

  it('templates id-like parts of a path and refuses one that is not made of names', () => {
    expect(templateProcedurePath('orders.list')).toBe('orders.list');
    expect(templateProcedurePath('users.u_4711.get')).toBe('users.u_:id.get');
    expect(templateProcedurePath('report12345')).toBe('report:id');
    for (const refused of ['orders..list', '.me', 'a-b', 'alice@example.com', 'orders/list', ''])
      expect(templateProcedurePath(refused)).toBeUndefined();
    expect(templateProcedurePath(`a.${'b'.repeat(300)}`)).toBe(`a.${'b'.repeat(98)}`);
    // A long batch keeps whole names up to 300 characters.
    const many = Array.from({ length: 40 }, (_, i) => `procedure${String.fromCharCode(97 + (i % 26))}${i}`);
    const list = templateProcedureBatch(many.join(',')) as string;
    expect(list.length).toBeLessThanOrEqual(303);
    expect(list.endsWith(', …')).toBe(true);
    for (const kept of list.slice(0, -3).split(', ')) expect(many).toContain(kept);
    const name = classifier();
    expect(name(serverSpan(call('query', 'users.u_4711')))).toBe('GET /trpc (query users.u_:id)');
    expect(name(serverSpan(call('query', 'no such/path')))).toBe('GET /trpc (other operation)');
  });

  it('keeps at most trpcProceduresPerRoute procedures per route, the last half for ones seen twice', () => {
    const name = classifier(4);
    expect(name(serverSpan(call('query', 'a')))).toBe('GET /trpc (query a)');
    expect(name(serverSpan(call('query', 'b')))).toBe('GET /trpc (query b)');
    expect(name(serverSpan(call('query', 'c')))).toBe('GET /trpc (other operation)');
    expect(name(serverSpan(call('query', 'c')))).toBe('GET /trpc (query c)');
    expect(name(serverSpan(call('query', 'd')))).toBe('GET /trpc (other operation)');
    expect(name(serverSpan(call('query', 'd')))).toBe('GET /trpc (query d)');
    expect(name(serverSpan(call('query', 'e')))).toBe('GET /trpc (other operation)');
    expect(name(serverSpan(call('query', 'e')))).toBe('GET /trpc (other operation)');
    // Batches count against the cap, as procedures do; a bare count does not.
    expect(name(serverSpan(call('query', 'a,b', 2)))).toBe('GET /trpc (other operation)');
    expect(name(serverSpan(call('query', undefined, 2)))).toBe('GET /trpc (batch)');
    // Another method is another route, with rows of its own.
    expect(name(serverSpan(call('mutation', 'e'), 'POST'))).toBe('POST /trpc (mutation e)');
  });

  it('reads http.trpcProceduresPerRoute from the config, a positive integer', () => {
    expect(DEFAULTS.http.trpcProceduresPerRoute).toBe(100);
    const load = (value: unknown) =>
      loadConfig({ env: {}, overrides: { http: { trpcProceduresPerRoute: value } } }).http
        .trpcProceduresPerRoute;
    expect(load(7)).toBe(7);
    expect(() => load(0)).toThrow(/http\.trpcProceduresPerRoute/);
  });
});
