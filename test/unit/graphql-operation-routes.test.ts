import { describe, expect, it } from 'vitest';
import { OperationRoutes, operationLabel, templateOperationName } from '../../src/classify/graphql-operation';
import type { DecodedSpan } from '../../src/model/span';
import { endpointNamer, routeSpan } from '../helpers/request-naming';

const serverSpan = (attributes: DecodedSpan['attributes'], service = 'shop') =>
  routeSpan('POST', '/graphql', attributes, service);
const classifier = (perRoute?: number) => endpointNamer(perRoute);

const op = (type: string, name?: string): DecodedSpan['attributes'] =>
  name === undefined
    ? { 'graphql.operation.type': type }
    : { 'graphql.operation.type': type, 'graphql.operation.name': name };

describe('GraphQL operation endpoint names', () => {
  it('names a request by its route and operation, keeping http.route as the route', () => {
    const name = classifier();
    expect(name(serverSpan(op('query', 'GetOrders')))).toBe('POST /graphql (query GetOrders)');
    expect(name(serverSpan(op('mutation', 'PlaceOrder')))).toBe('POST /graphql (mutation PlaceOrder)');
    expect(name(serverSpan(op('subscription', 'OnOrder')))).toBe('POST /graphql (subscription OnOrder)');
    expect(name(serverSpan(op('query')))).toBe('POST /graphql (anonymous query)');
    expect(name(serverSpan(op('mutation', '')))).toBe('POST /graphql (anonymous mutation)');
    expect(name(serverSpan({ ...op('query', 'Me'), 'spanstat.graphql.operations': 3 }))).toBe(
      'POST /graphql (batch)',
    );
    // No operation, or a type GraphQL has not: the route alone.
    expect(name(serverSpan({}))).toBe('POST /graphql');
    expect(name(serverSpan(op('Query', 'Me')))).toBe('POST /graphql');
    expect(name(serverSpan({ 'graphql.operation.name': 'Me' }))).toBe('POST /graphql');
  });

  it('templates id-like parts of a name and refuses what is no GraphQL name', () => {
    expect(templateOperationName('GetUser_4711')).toBe('GetUser_:id');
    expect(templateOperationName('GetUser12345')).toBe('GetUser:id');
    expect(templateOperationName('op_7f3c9a2be41d_items')).toBe('op_:id_items');
    expect(templateOperationName('report_2024_11')).toBe('report_:id_:id');
    for (const kept of ['GetOrdersV2', 'Top100Products', 'oauth2Login', 'get_user', '_private', 'deadbeef'])
      expect(templateOperationName(kept)).toBe(kept);
    for (const refused of ['alice@example.com', 'Get User', 'a-b', '1abc', '', 'Operation "X" not supported'])
      expect(templateOperationName(refused)).toBeUndefined();
    expect(templateOperationName(`A${'b'.repeat(300)}`)).toBe(`A${'b'.repeat(99)}`);
    expect(operationLabel('query', 'alice@example.com', undefined)).toBe('(other operation)');
    expect(operationLabel('query', undefined, 1)).toBe('(anonymous query)');
  });

  it('keeps at most the cap of distinct operations per service and route; the rest share (other operation)', () => {
    const name = classifier(3);
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++)
      seen.add(
        name(serverSpan(op('query', `Probe${String.fromCharCode(97 + (i % 26))}${i >= 26 ? 'x' : ''}`))),
      );
    // The first half of the rows (2 of 3) as names come; the rest only to a name seen before.
    expect([...seen]).toEqual([
      'POST /graphql (query Probea)',
      'POST /graphql (query Probeb)',
      'POST /graphql (other operation)',
    ]);
    // Those admitted keep their rows; anonymous operations and batches never count against the cap.
    expect(name(serverSpan(op('query', 'Probeb')))).toBe('POST /graphql (query Probeb)');
    expect(name(serverSpan(op('query')))).toBe('POST /graphql (anonymous query)');
    expect(name(serverSpan({ ...op('query', 'New'), 'spanstat.graphql.operations': 2 }))).toBe(
      'POST /graphql (batch)',
    );
    // Each route and each service has a budget of its own.
    expect(name(serverSpan({ ...op('query', 'Probez'), 'http.route': '/api/graphql' }))).toBe(
      'POST /api/graphql (query Probez)',
    );
    expect(name(serverSpan(op('query', 'Probez'), 'billing'))).toBe('POST /graphql (query Probez)');
    expect(name(serverSpan(op('query', 'Probez')))).toBe('POST /graphql (other operation)');
  });

  it('counts a templated name once: ids in names do not use up the cap', () => {
    const routes = new OperationRoutes(2);
    const name = (operation: string) =>
      routes.name('shop', 'POST', '/graphql', 'query', operation, undefined);
    const names = new Set<string>();
    for (let id = 1000; id < 1100; id++) names.add(name(`User_${id}`));
    expect([...names]).toEqual(['/graphql (query User_:id)']);
  });

  it('gives the last half of the rows to names seen twice, up to the cap: a burst of one-off names cannot take them', () => {
    const routes = new OperationRoutes(4);
    const name = (operation: string) =>
      routes.name('shop', 'POST', '/graphql', 'query', operation, undefined);
    expect([name('A'), name('B')]).toEqual(['/graphql (query A)', '/graphql (query B)']);
    for (let i = 0; i < 100; i++)
      expect(name(`Fuzz${String.fromCharCode(97 + (i % 26))}${'x'.repeat(i / 26)}`)).toBe(
        '/graphql (other operation)',
      );
    // The app's own operations repeat: the second request of each takes a row, until the cap.
    expect([name('C'), name('C'), name('D'), name('D'), name('E'), name('E'), name('C')]).toEqual([
      '/graphql (other operation)',
      '/graphql (query C)',
      '/graphql (other operation)',
      '/graphql (query D)',
      '/graphql (other operation)',
      '/graphql (other operation)',
      '/graphql (query C)',
    ]);
  });
});
