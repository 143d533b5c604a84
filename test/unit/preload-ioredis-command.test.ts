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
