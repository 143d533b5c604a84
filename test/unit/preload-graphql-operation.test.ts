import { tracingChannel } from 'node:diagnostics_channel';
import { createRequire } from 'node:module';
import { ROOT_CONTEXT, type Span, SpanKind } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setSpan } from '../../src/preload/context-frame';
import {
  GraphqlOperationInstrumentation,
  namingOperation,
  operationOf,
  withCompiledQueriesNaming,
} from '../../src/preload/graphql-operation';
import { LeanTracerProvider } from '../../src/preload/lean-tracer';
import { preloadContext } from '../../src/preload/preload-context';

const requireNative = createRequire(__filename);
type Graphql = typeof import('graphql');

const ended: ReadableSpan[] = [];
const tracer = new LeanTracerProvider(resourceFromAttributes({ 'service.name': 'graphql-test' }), {
  onEnd: (span) => ended.push(span),
}).getTracer('test');

let instrumentation: GraphqlOperationInstrumentation;
let graphql: Graphql;

beforeAll(() => {
  preloadContext.enable();
  instrumentation = new GraphqlOperationInstrumentation();
  // A fresh load of graphql, so the require hook sees its execution files.
  for (const id of Object.keys(requireNative.cache))
    if (/[/\\]node_modules[/\\]graphql[/\\]/.test(id)) delete requireNative.cache[id];
  graphql = requireNative('graphql') as Graphql;
});

afterAll(() => {
  instrumentation.disable();
  preloadContext.disable();
});

/** Runs `fn` in a request's context; answers the request span's graphql attributes once it ended. */
async function inRequest(fn: (request: Span) => unknown, kind: SpanKind = SpanKind.SERVER) {
  const request = tracer.startSpan('POST', { kind });
  await preloadContext.with(setSpan(ROOT_CONTEXT, request), () => fn(request));
  request.end();
  const attributes = ended[ended.length - 1].attributes;
  return Object.fromEntries(Object.entries(attributes).filter(([key]) => key.includes('graphql')));
}

const SCHEMA = `type Query { me: String, orders: [String] } type Mutation { touch(id: ID): Boolean }`;
const rootValue = { me: () => 'ann', orders: () => ['a'], touch: () => true };

describe('the preload GraphQL operation names', () => {
  it('notes the operation graphql 16 executes, by its own name or operationName, never its variables', async () => {
    const schema = graphql.buildSchema(SCHEMA);
    const run = (source: string, extra: Record<string, unknown> = {}) =>
      graphql.graphql({ schema, source, rootValue, ...extra });
    expect(await inRequest(() => run('query GetOrders { orders }'))).toEqual({
      'graphql.operation.type': 'query',
      'graphql.operation.name': 'GetOrders',
    });
    expect(await inRequest(() => run('{ me }'))).toEqual({ 'graphql.operation.type': 'query' });
    expect(
      await inRequest(() =>
        run('mutation Touch($id: ID) { touch(id: $id) } query Me { me }', {
          operationName: 'Touch',
          variableValues: { id: 'zebediah' },
        }),
      ),
    ).toEqual({ 'graphql.operation.type': 'mutation', 'graphql.operation.name': 'Touch' });
    // Nothing executed: a syntax error, an unknown field, several operations and no operationName.
    expect(await inRequest(() => run('query Broken { me'))).toEqual({});
    expect(await inRequest(() => run('query Bad { nope }'))).toEqual({});
    expect(await inRequest(() => run('query A { me } query B { me }'))).toEqual({});
  });

  it('counts the distinct operations of a batch, and one operation run twice as one', async () => {
    const schema = graphql.buildSchema(SCHEMA);
    const me = graphql.parse('query Me { me }');
    const orders = graphql.parse('query Orders { orders }');
    expect(
      await inRequest(async () => {
        await graphql.execute({ schema, document: me, rootValue });
        await graphql.execute({ schema, document: orders, rootValue });
      }),
    ).toEqual({
      'graphql.operation.type': 'query',
      'graphql.operation.name': 'Me',
      'spanstat.graphql.operations': 2,
    });
    expect(
      await inRequest(async () => {
        await graphql.execute({ schema, document: me, rootValue });
        await graphql.execute({ schema, document: me, rootValue });
      }),
    ).toEqual({ 'graphql.operation.type': 'query', 'graphql.operation.name': 'Me' });
  });

  it('names only an HTTP request: not a job run, nor work outside any request', async () => {
    const schema = graphql.buildSchema(SCHEMA);
    expect(
      await inRequest(
        () => graphql.graphql({ schema, source: 'query Me { me }', rootValue }),
        SpanKind.INTERNAL,
      ),
    ).toEqual({});
    // Outside a request: nothing to write to, and execute runs as before.
    expect(await graphql.graphql({ schema, source: 'query Me { me }', rootValue })).toEqual({
      data: { me: 'ann' },
    });
  });

  it('takes the type and name graphql 17 publishes on its graphql:execute tracing channel', async () => {
    const channel = tracingChannel('graphql:execute');
    const context = {
      document: {},
      operationType: 'subscription',
      operationName: 'OnOrder',
      rawVariableValues: { a: 1 },
    };
    expect(await inRequest(() => channel.traceSync(() => 'result', context))).toEqual({
      'graphql.operation.type': 'subscription',
      'graphql.operation.name': 'OnOrder',
    });
    // A context it cannot read is ignored, and never throws into graphql.
    expect(await inRequest(() => channel.traceSync(() => 'result', { operationType: 'drop table' }))).toEqual(
      {},
    );
    expect(
      await inRequest(() =>
        tracingChannel('graphql:subscribe').traceSync(() => 1, { operationType: 'subscription' }),
      ),
    ).toEqual({
      'graphql.operation.type': 'subscription',
    });
  });

  it('passes both call forms through and finds the operation as execute does', () => {
    const calls: unknown[][] = [];
    const wrapped = namingOperation(function (this: unknown, ...args: unknown[]) {
      calls.push([this, ...args]);
      return 'done';
    });
    expect(wrapped.call('self', { document: null })).toBe('done');
    expect(wrapped.call('self', 'schema', 'doc', undefined, undefined, undefined, 'Op')).toBe('done');
    expect(calls).toEqual([
      ['self', { document: null }],
      ['self', 'schema', 'doc', undefined, undefined, undefined, 'Op'],
    ]);
    const op = (name: string) => ({ kind: 'OperationDefinition', operation: 'query', name: { value: name } });
    const fragment = { kind: 'FragmentDefinition', name: { value: 'F' } };
    expect(operationOf({ definitions: [fragment, op('A')] }, undefined)).toEqual(op('A'));
    expect(operationOf({ definitions: [op('A'), op('B')] }, 'B')).toEqual(op('B'));
    expect(operationOf({ definitions: [op('A'), op('B')] }, null)).toBeUndefined();
    expect(operationOf({ definitions: [op('A')] }, 'C')).toBeUndefined();
    expect(operationOf({ definitions: 'nope' }, undefined)).toBeUndefined();
    expect(operationOf(undefined, undefined)).toBeUndefined();
  });

  it("notes the operation a graphql-jit compiled query runs (Mercurius's jit), its getter exports copied", async () => {
    const document = graphql.parse('query A { me } mutation Touch { touch(id: 1) }');
    const calls: unknown[][] = [];
    const exports = {};
    const compileQuery = (...args: unknown[]) => ({
      query: (...run: unknown[]) => {
        calls.push(run);
        return { data: {} };
      },
      args,
    });
    Object.defineProperty(exports, 'compileQuery', { enumerable: true, get: () => compileQuery });
    Object.defineProperty(exports, 'isCompiledQuery', { enumerable: true, get: () => () => true });
    const patched = withCompiledQueriesNaming(exports) as { compileQuery: typeof compileQuery };
    expect(patched).not.toBe(exports);
    expect(withCompiledQueriesNaming(patched)).toBe(patched);
    const compiled = patched.compileQuery('schema', document, 'Touch');
    expect(compiled.args).toEqual(['schema', document, 'Touch']);
    expect(await inRequest(() => compiled.query('root', 'context', { id: 1 }))).toEqual({
      'graphql.operation.type': 'mutation',
      'graphql.operation.name': 'Touch',
    });
    expect(calls).toEqual([['root', 'context', { id: 1 }]]);
    // An operation name the document lacks: compiled as graphql-jit does (it errs), nothing noted.
    const unknown = patched.compileQuery('schema', document, 'Nope');
    expect(await inRequest(() => unknown.query())).toEqual({});
  });
});
