import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { SPANSTAT_ATTR } from '../../src/model/attributes';
import { tracedSendCommand } from '../../src/preload/ioredis-command';

interface FakeCommand {
  name: string;
  args: unknown[];
  resolve: (reply: unknown) => void;
  reject: (err: unknown) => void;
}

function command(name: string, args: unknown[]): FakeCommand {
  return { name, args, resolve: () => {}, reject: () => {} };
}

/**
 * A connection that is not ready yet, as ioredis's Redis#sendCommand treats one: the command goes
 * to the offline queue, and `ready()` sends each queued command through `sendCommand` again.
 */
function connectingRedis() {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const tracer = provider.getTracer('test');
  const offline: FakeCommand[] = [];
  const written: FakeCommand[] = [];
  const redis = {
    connected: false,
    sendCommand: undefined as unknown as (command: FakeCommand) => unknown,
  };
  redis.sendCommand = tracedSendCommand(
    function original(this: typeof redis, cmd: FakeCommand) {
      if (this.connected) written.push(cmd);
      else offline.push(cmd);
    } as never,
    () => tracer,
  ) as never;
  return {
    redis,
    exporter,
    written,
    ready() {
      redis.connected = true;
      for (const cmd of offline.splice(0)) redis.sendCommand(cmd);
    },
  };
}

describe('ioredis commands sent again from the offline queue', () => {
  it('have one span each, ended by their reply, with the hit or miss counted once', () => {
    const { redis, exporter, written, ready } = connectingRedis();
    redis.sendCommand(command('flushdb', []));
    redis.sendCommand(command('get', ['user:1']));
    ready();
    expect(written.map((c) => c.name)).toEqual(['flushdb', 'get']);
    written[0].resolve('OK');
    written[1].resolve(null);
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.name)).toEqual(['flushdb', 'get']);
    expect(spans[1].attributes[SPANSTAT_ATTR.cacheMisses]).toBe(1);
  });

  it('still traces a command sent on a ready connection, and each new command of the same name', () => {
    const { redis, exporter, written, ready } = connectingRedis();
    ready();
    redis.sendCommand(command('get', ['user:1']));
    redis.sendCommand(command('get', ['user:1']));
    for (const cmd of written) cmd.resolve('v');
    expect(exporter.getFinishedSpans().map((s) => [s.name, s.attributes[SPANSTAT_ATTR.cacheHits]])).toEqual([
      ['get', 1],
      ['get', 1],
    ]);
  });
});

/**
 * A Cluster pipeline as ioredis runs one: each command goes through Cluster#sendCommand with the
 * node it is for; after a redirection the pipeline re-arms every command's promise (`initPromise`)
 * and sends the pipeline again — or, when it will not retry, leaves the redirection as the answer.
 */
function clusterPipeline() {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const tracer = provider.getTracer('test');
  const sent: FakeCommand[] = [];
  const cluster = {
    sendCommand: tracedSendCommand(
      function original(cmd: FakeCommand) {
        sent.push(cmd);
      } as never,
      () => tracer,
      true,
    ) as unknown as (command: FakeCommand, stream?: unknown, node?: unknown) => unknown,
  };
  const node = { slot: 42 };
  return {
    exporter,
    sent,
    send: (...commands: FakeCommand[]) => {
      for (const cmd of commands) cluster.sendCommand(cmd, undefined, node);
    },
    rearm: (...commands: FakeCommand[]) => {
      for (const cmd of commands) {
        cmd.resolve = () => {};
        cmd.reject = () => {};
      }
    },
  };
}

const movedError = () => new Error('MOVED 42 127.0.0.1:7001');
const nextMacrotask = () => new Promise((resolve) => setImmediate(resolve));
const outcome = (exporter: InMemorySpanExporter) =>
  exporter
    .getFinishedSpans()
    .map((s) => [s.name, s.status.code, s.attributes[SPANSTAT_ATTR.cacheHits] ?? null]);

describe('ioredis Cluster pipeline commands redirected by MOVED/ASK', () => {
  it('keep their span across the pipeline sent again, ended by the new owner’s answer', async () => {
    const { exporter, sent, send, rearm } = clusterPipeline();
    const get = command('get', ['user:1']);
    send(get);
    get.reject(movedError());
    rearm(get);
    await nextMacrotask();
    expect(exporter.getFinishedSpans()).toEqual([]);
    send(get);
    expect(sent).toEqual([get, get]);
    get.resolve('v');
    expect(outcome(exporter)).toEqual([['get', 0, 1]]);
  });

  it('end with the redirection when the pipeline does not send them again', async () => {
    const { exporter, send } = clusterPipeline();
    const get = command('get', ['user:1']);
    send(get);
    get.reject(new Error('ASK 42 127.0.0.1:7001'));
    expect(exporter.getFinishedSpans()).toEqual([]);
    await nextMacrotask();
    expect(outcome(exporter)).toEqual([['get', 2, null]]);
  });

  it('in a transaction: one span per command, the queued ones taking their entry of the second EXEC', async () => {
    const { exporter, send, rearm } = clusterPipeline();
    const [multi, get, exec] = [command('multi', []), command('get', ['user:1']), command('exec', [])];
    send(multi, get, exec);
    multi.resolve('OK');
    get.reject(movedError());
    exec.reject(new Error('EXECABORT Transaction discarded because of previous errors.'));
    rearm(multi, get, exec);
    await nextMacrotask();
    send(multi, get, exec);
    multi.resolve('OK');
    get.resolve('QUEUED');
    exec.resolve(['v']);
    expect(outcome(exporter).sort()).toEqual([
      ['exec', 0, null],
      ['get', 0, 1],
      ['multi', 0, null],
    ]);
  });
});
