/**
 * ioredis 5.11+'s `ioredis:command` tracing channel (a bundled ioredis no require hook reaches), played
 * as ioredis publishes it: `tracePromise(() => command.promise, context)` from inside `sendCommand`.
 */
import { tracingChannel } from 'node:diagnostics_channel';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { SPANSTAT_ATTR } from '../../src/model/attributes';
import { IORedisChannelSubscriber } from '../../src/preload/ioredis-channel';
import { tracedSendCommand } from '../../src/preload/ioredis-command';

const channel = tracingChannel('ioredis:command');

/** What ioredis's `_buildCommandContext` publishes: its arguments already redacted (`sanitizeArgs`). */
function publish(command: string, args: string[], settle: Promise<unknown>): Promise<unknown> {
  const context = { command, args, database: 0, serverAddress: '127.0.0.1', serverPort: 6390 };
  return channel.tracePromise(() => settle, context);
}

function setup() {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const subscriber = new IORedisChannelSubscriber(() => provider.getTracer('test'));
  subscriber.enable();
  return { exporter, subscriber, tracer: provider.getTracer('test') };
}

let active: IORedisChannelSubscriber | undefined;
afterEach(() => active?.disable());

describe('ioredis commands from its tracing channel', () => {
  it('get one CLIENT span each, keys only, with the lookup hit or missed, ended when the reply comes', async () => {
    const { exporter, subscriber } = setup();
    active = subscriber;
    await publish('get', ['user:61'], Promise.resolve('{"name":"x"}'));
    await publish('get', ['user:62'], Promise.resolve(null));
    await publish('set', ['user:61', '?', '?', '?'], Promise.resolve('OK'));
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => [s.name, s.attributes['db.query.text'], s.attributes['server.port']])).toEqual([
      ['get', 'get user:61', 6390],
      ['get', 'get user:62', 6390],
      ['set', 'set user:61 [3 other arguments]', 6390],
    ]);
    expect(
      spans.map((s) => [s.attributes[SPANSTAT_ATTR.cacheHits], s.attributes[SPANSTAT_ATTR.cacheMisses]]),
    ).toEqual([
      [1, 0],
      [0, 1],
      [undefined, undefined],
    ]);
    // A redacted SET says nothing of its expiry: no TTL mark, never "written without one".
    expect(spans[2].attributes[SPANSTAT_ATTR.cacheTtlSeconds]).toBeUndefined();
  });

  it('ends a failed command with an error status naming its class, not its message', async () => {
    const { exporter, subscriber } = setup();
    active = subscriber;
    const failure = Object.assign(new Error('WRONGTYPE value of user:61'), { name: 'ReplyError' });
    await expect(publish('get', ['user:61'], Promise.reject(failure))).rejects.toBe(failure);
    const [span] = exporter.getFinishedSpans();
    expect(span.status.code).toBe(2);
    expect(JSON.stringify(span.status)).not.toContain('user:61');
  });

  it('leaves a command the sendCommand patch traces to the patch, replays included', async () => {
    const { exporter, subscriber, tracer } = setup();
    active = subscriber;
    let connected = false;
    const offline: { name: string; args: unknown[]; resolve(r: unknown): void }[] = [];
    const sendCommand = tracedSendCommand(
      function original(cmd: { name: string; args: string[]; resolve(r: unknown): void }) {
        if (!connected) return void offline.push(cmd);
        // ioredis 5.11+: published once, when written.
        publish(cmd.name, cmd.args, Promise.resolve(null));
        cmd.resolve(null);
      } as never,
      () => tracer,
    );
    const queued = { name: 'get', args: ['user:63'], resolve: () => {}, reject: () => {} };
    sendCommand.call({}, queued as never);
    connected = true;
    for (const cmd of offline.splice(0)) sendCommand.call({}, cmd as never);
    sendCommand.call({}, { name: 'get', args: ['user:64'], resolve: () => {}, reject: () => {} } as never);
    await new Promise((r) => setImmediate(r));
    expect(exporter.getFinishedSpans().map((s) => s.attributes['db.query.text'])).toEqual([
      'get user:63',
      'get user:64',
    ]);
  });

  it('traces nothing once disabled', async () => {
    const { exporter, subscriber } = setup();
    subscriber.disable();
    await publish('get', ['user:61'], Promise.resolve(null));
    expect(exporter.getFinishedSpans()).toEqual([]);
  });
});
