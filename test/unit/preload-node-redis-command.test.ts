import { ROOT_CONTEXT, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_EXPIRY, SPANSTAT_ATTR } from '../../src/model/attributes';
import {
  executeInCallerContext,
  tracedAddCommand,
  tracedSendCommand,
} from '../../src/preload/node-redis-command';
import { tracedBatch } from '../../src/preload/node-redis-span';
import { preloadContext } from '../../src/preload/preload-context';

type Args = unknown[];

/** node-redis's reply error class is named ErrorReply; its message starts with the Redis error prefix. */
class ErrorReply extends Error {
  override name = 'ErrorReply';
}

interface Pending {
  args: Args;
  resolve: (reply: unknown) => void;
  reject: (err: unknown) => void;
}

/**
 * A RedisClient whose `sendCommand` and queue are fakes shaped like node-redis 5's: every command
 * waits in `pending` for the test to answer it, and `_executeMulti`/`_executePipeline` queue
 * MULTI, the commands and EXEC (or the commands) with the queue's `addCommand`, synchronously.
 */
function fakeClient(socket: Record<string, unknown> = { host: 'cache.internal', port: 6380 }) {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const tracer = provider.getTracer('test');
  const pending: Pending[] = [];
  const enqueue = (args: Args) =>
    new Promise((resolve, reject) => {
      pending.push({ args, resolve, reject });
    });
  const addCommand = tracedAddCommand(function addCommand(args: unknown) {
    return enqueue(args as Args);
  } as never);
  const queue = { addCommand };
  const client = {
    options: { socket },
    sendCommand: tracedSendCommand(
      function sendCommand(args: unknown) {
        return enqueue(args as Args);
      } as never,
      () => tracer,
    ) as (args: Args) => Promise<unknown>,
    _executeMulti: tracedBatch(
      async function executeMulti(commands: unknown) {
        const promises = [queue.addCommand(['MULTI'])];
        for (const { args } of commands as { args: Args }[]) promises.push(queue.addCommand(args));
        promises.push(queue.addCommand(['EXEC']));
        const results = await Promise.all(promises);
        return results[results.length - 1];
      } as never,
      () => tracer,
      true,
    ) as (commands: { args: Args }[]) => Promise<unknown>,
    _executePipeline: tracedBatch(
      async function executePipeline(commands: unknown) {
        return Promise.all((commands as { args: Args }[]).map(({ args }) => queue.addCommand(args)));
      } as never,
      () => tracer,
      false,
    ) as (commands: { args: Args }[]) => Promise<unknown>,
  };
  const spans = () => exporter.getFinishedSpans();
  return { client, queue, pending, spans, tracer };
}

const flush = () => new Promise((r) => setImmediate(r));
const summary = (span: ReadableSpan) => ({
  name: span.name,
  operation: span.attributes['db.operation.name'],
  text: span.attributes['db.query.text'],
  hits: span.attributes[SPANSTAT_ATTR.cacheHits],
  misses: span.attributes[SPANSTAT_ATTR.cacheMisses],
  ttl: span.attributes[SPANSTAT_ATTR.cacheTtlSeconds],
  error: span.status.code === SpanStatusCode.ERROR ? span.status.message : undefined,
});

beforeAll(() => preloadContext.enable());
afterAll(() => preloadContext.disable());

describe('node-redis commands sent with RedisClient#sendCommand', () => {
  it('have one CLIENT span each, named in lower case, with the attributes of an ioredis span', async () => {
    const { client, pending, spans } = fakeClient();
    const reply = client.sendCommand(['GET', 'user:42']);
    pending[0].resolve('cached');
    expect(await reply).toBe('cached');
    const [span] = spans();
    expect(span.name).toBe('get');
    expect(span.kind).toBe(2); // SpanKind.CLIENT
    expect(span.attributes).toEqual({
      'db.system.name': 'redis',
      'server.address': 'cache.internal',
      'server.port': 6380,
      'db.operation.name': 'get',
      'db.query.text': 'get user:42',
      [SPANSTAT_ATTR.cacheHits]: 1,
      [SPANSTAT_ATTR.cacheMisses]: 0,
    });
  });

  it('mark misses, MGET keys found, TTLs and writes that leave no expiry from the raw reply', async () => {
    const { client, pending, spans } = fakeClient();
    const replies: [Args, unknown][] = [
      [['GET', 'user:1'], null],
      [
        ['MGET', 'item:1', 'item:1:old', 'item:2'],
        ['v', null, 'w'],
      ],
      [['SET', 'user:1', 'secret-value', 'EX', '60'], 'OK'],
      [['SET', 'item:1', 'secret-value'], 'OK'],
      [['HGETALL', 'hash:1'], {}], // RESP3's empty map
      [['EXISTS', 'user:1', 'user:2'], 1],
    ];
    const done = replies.map(([args]) => client.sendCommand(args));
    replies.forEach(([, reply], i) => {
      pending[i].resolve(reply);
    });
    await Promise.all(done);
    expect(spans().map(summary)).toEqual([
      { name: 'get', operation: 'get', text: 'get user:1', hits: 0, misses: 1 },
      { name: 'mget', operation: 'mget', text: 'mget item:1 item:1:old item:2', hits: 2, misses: 1 },
      { name: 'set', operation: 'set', text: 'set user:1 [3 other arguments]', ttl: 60 },
      { name: 'set', operation: 'set', text: 'set item:1 [1 other arguments]', ttl: NO_EXPIRY },
      { name: 'hgetall', operation: 'hgetall', text: 'hgetall hash:1', hits: 0, misses: 1 },
      { name: 'exists', operation: 'exists', text: 'exists user:1 user:2', hits: 1, misses: 1 },
    ]);
    expect(spans()[1].attributes[SPANSTAT_ATTR.cacheKeyHits]).toBe('101');
    // Values never leave: the key and a count of the other arguments only.
    expect(JSON.stringify(spans().map((s) => s.attributes))).not.toContain('secret-value');
  });

  it('end with an error status naming the error class and Redis prefix, and pass the rejection on', async () => {
    const { client, pending, spans } = fakeClient();
    const reply = client.sendCommand(['HGET', 'user:1', 'f']);
    const err = new ErrorReply('WRONGTYPE Operation against a key holding the wrong kind of value');
    pending[0].reject(err);
    await expect(reply).rejects.toBe(err);
    expect(spans().map(summary)).toEqual([
      {
        name: 'hget',
        operation: 'hget',
        text: 'hget user:1 [1 other arguments]',
        error: 'ErrorReply WRONGTYPE',
      },
    ]);
  });

  it("are children of the caller's span, also when issued concurrently from different contexts", async () => {
    const { client, pending, spans, tracer } = fakeClient();
    const parents = [tracer.startSpan('request 1'), tracer.startSpan('request 2')];
    const replies = parents.map((parent, i) =>
      preloadContext.with(trace.setSpan(ROOT_CONTEXT, parent), () =>
        client.sendCommand(['GET', `user:${i}`]),
      ),
    );
    const outside = client.sendCommand(['GET', 'user:9']);
    for (const p of pending) p.resolve(null);
    await Promise.all([...replies, outside]);
    const byText = new Map(spans().map((s) => [s.attributes['db.query.text'], s.parentSpanContext?.spanId]));
    expect([...byText]).toEqual([
      ['get user:0', parents[0].spanContext().spanId],
      ['get user:1', parents[1].spanContext().spanId],
      ['get user:9', undefined],
    ]);
  });

  it("take node-redis's defaults for a client without host or port, and a socket path as the address", async () => {
    for (const [socket, expected] of [
      [{}, { 'server.address': 'localhost', 'server.port': 6379 }],
      [{ path: '/run/redis.sock' }, { 'server.address': '/run/redis.sock' }],
    ] as const) {
      const { client, pending, spans } = fakeClient(socket);
      const reply = client.sendCommand(['PING']);
      pending[0].resolve('PONG');
      await reply;
      const { 'server.address': address, 'server.port': port } = spans()[0].attributes;
      expect({ 'server.address': address, ...(port === undefined ? {} : { 'server.port': port }) }).toEqual(
        expected,
      );
    }
  });

  it('are passed through untraced when they are not [NAME, …args], and when the tracer fails', async () => {
    const { client, pending, spans } = fakeClient();
    const odd = client.sendCommand('GET' as never);
    const buffer = client.sendCommand([Buffer.from('GET'), 'k']);
    pending[0].resolve('a');
    pending[1].resolve('b');
    expect([await odd, await buffer]).toEqual(['a', 'b']);
    expect(spans()).toEqual([]);

    const broken = tracedSendCommand(
      (args: unknown) => Promise.resolve(args),
      () => {
        throw new Error('tracer gone');
      },
    );
    expect(await broken.call({}, ['GET', 'k'])).toEqual(['GET', 'k']);
  });

  it('end their span with the error when sendCommand throws, and rethrow it', () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const throwing = tracedSendCommand(
      () => {
        throw new TypeError('bad argument');
      },
      () => provider.getTracer('t'),
    );
    expect(() => throwing.call({}, ['SET', 'k'])).toThrow('bad argument');
    expect(exporter.getFinishedSpans().map(summary)).toEqual([
      { name: 'set', operation: 'set', text: 'set k', error: 'TypeError' },
    ]);
  });
});

describe('node-redis multi() batches', () => {
  it('are multi, MULTI <command> per command ended by its entry of EXEC, and exec, as with ioredis', async () => {
    const { client, pending, spans } = fakeClient();
    const result = client._executeMulti([
      { args: ['GET', 'multi:missing:1'] },
      { args: ['SET', 'multi:ttl:1', 'v', 'EX', '90'] },
      { args: ['HGET', 'wrong:1', 'f'] },
    ]);
    expect(pending.map((p) => p.args[0])).toEqual(['MULTI', 'GET', 'SET', 'HGET', 'EXEC']);
    pending[0].resolve('OK');
    for (const p of pending.slice(1, 4)) p.resolve('QUEUED');
    await flush();
    // Nothing but MULTI has ended: the queued commands wait for EXEC's reply.
    expect(spans().map((s) => s.name)).toEqual(['multi']);
    const wrongType = new ErrorReply('WRONGTYPE Operation against a key holding the wrong kind of value');
    pending[4].resolve([null, 'OK', wrongType]);
    await result;
    expect(spans().map(summary)).toEqual([
      { name: 'multi', operation: 'multi', text: 'multi' },
      { name: 'get', operation: 'MULTI get', text: 'get multi:missing:1', hits: 0, misses: 1 },
      { name: 'set', operation: 'MULTI set', text: 'set multi:ttl:1 [3 other arguments]', ttl: 90 },
      {
        name: 'hget',
        operation: 'MULTI hget',
        text: 'hget wrong:1 [1 other arguments]',
        error: 'ErrorReply WRONGTYPE',
      },
      { name: 'exec', operation: 'exec', text: 'exec' },
    ]);
  });

  it('end their commands without an outcome when a WATCH failed (EXEC answered null)', async () => {
    const { client, pending, spans } = fakeClient();
    const result = client._executeMulti([{ args: ['GET', 'k:1'] }]);
    pending[0].resolve('OK');
    pending[1].resolve('QUEUED');
    pending[2].resolve(null);
    await result;
    expect(spans().map(summary)).toEqual([
      { name: 'multi', operation: 'multi', text: 'multi' },
      { name: 'get', operation: 'MULTI get', text: 'get k:1' },
      { name: 'exec', operation: 'exec', text: 'exec' },
    ]);
  });

  it("end their commands with EXEC's error when the transaction aborted", async () => {
    const { client, pending, spans } = fakeClient();
    const result = client._executeMulti([{ args: ['GET', 'k:1'] }, { args: ['NOPE', 'k:1'] }]);
    pending[0].resolve('OK');
    pending[1].resolve('QUEUED');
    pending[2].reject(new ErrorReply("ERR unknown command 'NOPE'"));
    pending[3].reject(new ErrorReply('EXECABORT Transaction discarded because of previous errors.'));
    await expect(result).rejects.toThrow(/unknown command/);
    await flush();
    expect(spans().map(summary)).toEqual([
      { name: 'multi', operation: 'multi', text: 'multi' },
      { name: 'nope', operation: 'MULTI nope', text: 'nope k:1', error: 'ErrorReply ERR' },
      { name: 'get', operation: 'MULTI get', text: 'get k:1', error: 'ErrorReply EXECABORT' },
      { name: 'exec', operation: 'exec', text: 'exec', error: 'ErrorReply EXECABORT' },
    ]);
  });

  it('as a pipeline are PIPELINE <command> spans, each ended by its own reply', async () => {
    const { client, pending, spans, tracer } = fakeClient();
    const parent = tracer.startSpan('request');
    const result = preloadContext.with(trace.setSpan(ROOT_CONTEXT, parent), () =>
      client._executePipeline([{ args: ['GET', 'multi:ttl:1'] }, { args: ['GET', 'pipe:none:1'] }]),
    );
    pending[0].resolve('v');
    pending[1].resolve(null);
    expect(await result).toEqual(['v', null]);
    expect(spans().map(summary)).toEqual([
      { name: 'get', operation: 'PIPELINE get', text: 'get multi:ttl:1', hits: 1, misses: 0 },
      { name: 'get', operation: 'PIPELINE get', text: 'get pipe:none:1', hits: 0, misses: 1 },
    ]);
    expect(spans().map((s) => s.parentSpanContext?.spanId)).toEqual([
      parent.spanContext().spanId,
      parent.spanContext().spanId,
    ]);
  });

  it("leave the queue's other commands untraced: sendCommand's own, and the connection handshake", async () => {
    const { client, queue, pending, spans } = fakeClient();
    const handshake = queue.addCommand(['HELLO', '3']);
    const reply = client.sendCommand(['GET', 'k:1']);
    pending[0].resolve('OK');
    pending[1].resolve(null);
    await Promise.all([handshake, reply]);
    expect(spans().map((s) => s.name)).toEqual(['get']);
  });
});

describe('a RedisClientPool command waiting for a free client', () => {
  it("runs in the caller's context, not in that of the command whose release starts it", async () => {
    const { tracer } = fakeClient();
    const waiting: (() => void)[] = [];
    const pool = {
      idleClients: 0,
      execute: executeInCallerContext(function execute(fn: unknown) {
        // As RedisClientPool: queued, run later from another command's release.
        waiting.push(fn as () => void);
      } as never) as (fn: () => void) => void,
    };
    const caller = tracer.startSpan('request');
    let seen: string | undefined;
    preloadContext.with(trace.setSpan(ROOT_CONTEXT, caller), () =>
      pool.execute(() => {
        seen = trace.getSpan(preloadContext.active())?.spanContext().spanId;
      }),
    );
    const other = tracer.startSpan('other request');
    preloadContext.with(trace.setSpan(ROOT_CONTEXT, other), () => waiting[0]());
    expect(seen).toBe(caller.spanContext().spanId);
  });
});
