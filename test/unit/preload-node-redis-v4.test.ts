import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SPANSTAT_ATTR } from '../../src/model/attributes';
import {
  introducedConnect,
  remembersClient,
  tracedMultiExecutor,
  tracedQueueCommand,
} from '../../src/preload/node-redis-v4';
import { preloadContext } from '../../src/preload/preload-context';

type Args = unknown[];

interface Pending {
  args: Args;
  options: Record<string, unknown> | undefined;
  resolve: (reply: unknown) => void;
}

/**
 * A RedisClient and its RedisCommandsQueue shaped like @redis/client 1.6's: the queue is private to
 * the client (`#queue` here a closure), every command goes through the queue's `addCommand`, which
 * keeps it in `pending` for the test to answer; `multiExecutor(commands, selectedDB, chainId)`
 * queues MULTI, the commands and EXEC with the chain id (a transaction), or only the commands.
 */
function fakeV4(socket: Record<string, unknown> = { host: 'cache.internal', port: 6380 }) {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const tracer = provider.getTracer('test');
  const pending: Pending[] = [];
  const queue = {
    addCommand: tracedQueueCommand(
      function addCommand(args: unknown, options: unknown) {
        return new Promise((resolve) => {
          pending.push({ args: args as Args, options: options as Pending['options'], resolve });
        });
      } as never,
      () => tracer,
    ) as (args: Args, options?: Record<string, unknown>) => Promise<unknown>,
    getPubSubListeners: remembersClient(function getPubSubListeners() {
      return new Map();
    } as never),
  };
  const client = {
    options: { socket },
    getPubSubListeners(type: string) {
      return queue.getPubSubListeners(type);
    },
    connect: introducedConnect(async function connect() {
      // The handshake, as v4's socket initiator queues it.
      return Promise.all([
        queue.addCommand(['SELECT', '1'], { asap: true }),
        queue.addCommand(['CLIENT', 'SETINFO', 'LIB-NAME', 'node-redis'], { asap: true }),
      ]);
    } as never) as () => Promise<unknown>,
    get: (key: string) => queue.addCommand(['GET', key], undefined),
    quit: () => queue.addCommand(['QUIT']),
    multiExecutor: tracedMultiExecutor(
      async function multiExecutor(commands: unknown, _db: unknown, chainId: unknown) {
        const list = commands as { args: Args }[];
        const promise = chainId
          ? Promise.all([
              queue.addCommand(['MULTI'], { chainId }),
              Promise.all(list.map(({ args }) => queue.addCommand(args, { chainId }))),
              queue.addCommand(['EXEC'], { chainId }),
            ])
          : Promise.all(list.map(({ args }) => queue.addCommand(args, {})));
        return promise;
      } as never,
      () => tracer,
    ) as (commands: { args: Args }[], db?: number, chainId?: symbol) => Promise<unknown>,
  };
  const answer = (...replies: unknown[]) => {
    for (const reply of replies) pending.shift()?.resolve(reply);
  };
  return { client, queue, pending, answer, spans: () => exporter.getFinishedSpans(), tracer };
}

const summary = (span: ReadableSpan) => ({
  name: span.name,
  operation: span.attributes['db.operation.name'],
  text: span.attributes['db.query.text'],
  hits: span.attributes[SPANSTAT_ATTR.cacheHits],
  misses: span.attributes[SPANSTAT_ATTR.cacheMisses],
});

beforeAll(() => preloadContext.enable());
afterAll(() => preloadContext.disable());

describe('node-redis v4 commands queued with RedisCommandsQueue#addCommand', () => {
  it('have the v5 span shape, with the server of the client whose connect introduced the queue', async () => {
    const { client, answer, spans } = fakeV4();
    const connected = client.connect();
    answer('OK', 'OK');
    await connected;
    const reply = client.get('user:42');
    answer('cached');
    expect(await reply).toBe('cached');
    expect(spans().map((s) => s.attributes)).toEqual([
      {
        'db.system.name': 'redis',
        'server.address': 'cache.internal',
        'server.port': 6380,
        'db.operation.name': 'get',
        'db.query.text': 'get user:42',
        [SPANSTAT_ATTR.cacheHits]: 1,
        [SPANSTAT_ATTR.cacheMisses]: 0,
      },
    ]);
  });

  it('leave the connection handshake (queued asap) and QUIT untraced', async () => {
    const { client, answer, spans } = fakeV4();
    const connected = client.connect();
    const quit = client.quit();
    answer('OK', 'OK', 'OK');
    await Promise.all([connected, quit]);
    expect(spans()).toEqual([]);
  });

  it("are children of the caller's span, also when issued concurrently from different contexts", async () => {
    const { client, answer, spans, tracer } = fakeV4();
    const a = tracer.startSpan('a');
    const b = tracer.startSpan('b');
    const replies = [
      preloadContext.with(trace.setSpan(ROOT_CONTEXT, a), () => client.get('k:a')),
      preloadContext.with(trace.setSpan(ROOT_CONTEXT, b), () => client.get('k:b')),
    ];
    answer(null, 'v');
    await Promise.all(replies);
    expect(spans().map((s) => [s.attributes['db.query.text'], s.parentSpanContext?.spanId])).toEqual([
      ['get k:a', a.spanContext().spanId],
      ['get k:b', b.spanContext().spanId],
    ]);
  });

  it('go without a server address from a queue whose client never connected through connect', async () => {
    const { client, answer, spans } = fakeV4();
    const reply = client.get('k:1');
    answer(null);
    await reply;
    expect(spans()[0].attributes).toEqual({
      'db.system.name': 'redis',
      'db.operation.name': 'get',
      'db.query.text': 'get k:1',
      [SPANSTAT_ATTR.cacheHits]: 0,
      [SPANSTAT_ATTR.cacheMisses]: 1,
    });
  });
});

describe('node-redis v4 multi() batches', () => {
  it('are multi, MULTI <command> ended by its entry of EXEC, and exec when given a chain id', async () => {
    const { client, answer, spans } = fakeV4();
    const result = client.multiExecutor(
      [{ args: ['GET', 'multi:missing:1'] }, { args: ['SET', 'multi:ttl:1', 'v', 'EX', '90'] }],
      undefined,
      Symbol('RedisMultiCommand Chain Id'),
    );
    answer('OK', 'QUEUED', 'QUEUED', [null, 'OK']);
    await result;
    expect(spans().map(summary)).toEqual([
      { name: 'multi', operation: 'multi', text: 'multi' },
      { name: 'get', operation: 'MULTI get', text: 'get multi:missing:1', hits: 0, misses: 1 },
      { name: 'set', operation: 'MULTI set', text: 'set multi:ttl:1 [3 other arguments]' },
      { name: 'exec', operation: 'exec', text: 'exec' },
    ]);
    expect(spans()[2].attributes[SPANSTAT_ATTR.cacheTtlSeconds]).toBe(90);
  });

  it('are PIPELINE <command> spans without a chain id (execAsPipeline)', async () => {
    const { client, answer, spans } = fakeV4();
    const result = client.multiExecutor([{ args: ['GET', 'a:1'] }, { args: ['GET', 'b:1'] }], undefined);
    answer('v', null);
    await result;
    expect(spans().map(summary)).toEqual([
      { name: 'get', operation: 'PIPELINE get', text: 'get a:1', hits: 1, misses: 0 },
      { name: 'get', operation: 'PIPELINE get', text: 'get b:1', hits: 0, misses: 1 },
    ]);
  });
});

describe('the v4 wrappers never break the app', () => {
  it('pass commands that are not [NAME, …args] through untraced', async () => {
    const { queue, answer, spans } = fakeV4();
    const reply = queue.addCommand([] as Args);
    answer('x');
    expect(await reply).toBe('x');
    expect(spans()).toEqual([]);
  });

  it('connect a client whose getPubSubListeners throws', async () => {
    const { client, answer } = fakeV4();
    client.getPubSubListeners = () => {
      throw new Error('not this shape');
    };
    const connected = client.connect();
    answer('OK', 'OK');
    expect(await connected).toEqual(['OK', 'OK']);
  });
});
