/**
 * The built sidecar (dist/cli/main.js) as an operator runs it, stopped by real signals: it drains what
 * it accepted, logs one summary line and exits 0; a second signal ends it at once; a drain that
 * outlasts shutdown.timeoutMs ends with exit code 1.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { Agent, createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningSidecar } from '../../src/sidecar/sidecar';
import { requestWithQuery } from '../fixtures/otlp/spans';
import { startTestSidecar } from '../helpers/sidecar';

const MAIN = join(__dirname, '../../dist/cli/main.js');

interface LogLine {
  msg: string;
  level: number;
  [key: string]: unknown;
}

interface Spawned {
  child: ChildProcess;
  lines: LogLine[];
  receiverUrl: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; atMs: number }>;
}

/** Starts the built sidecar on free ports and waits for its ready line. */
async function spawnSidecar(env: Record<string, string>): Promise<Spawned> {
  const child = spawn(process.execPath, [MAIN, 'sidecar'], {
    env: {
      PATH: process.env.PATH ?? '',
      SPANSTAT_RECEIVER_PORT: '0',
      SPANSTAT_API_PORT: '0',
      SPANSTAT_ADVISOR_ENABLED: 'false',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: LogLine[] = [];
  let buffered = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; atMs: number }>(
    (resolve) => child.on('exit', (code, signal) => resolve({ code, signal, atMs: Date.now() })),
  );
  const ready = new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let nl = buffered.indexOf('\n');
      while (nl >= 0) {
        const line = JSON.parse(buffered.slice(0, nl)) as LogLine;
        buffered = buffered.slice(nl + 1);
        lines.push(line);
        if (line.msg === 'spanstat sidecar ready') resolve(String(line.receiver));
        nl = buffered.indexOf('\n');
      }
    });
    void exited.then(() => reject(new Error(`sidecar exited before ready: ${JSON.stringify(lines)}`)));
  });
  const receiver = await ready;
  children.push(child);
  return { child, lines, receiverUrl: receiver, exited };
}

const children: ChildProcess[] = [];
const servers: Server[] = [];
const sidecars: RunningSidecar[] = [];
afterEach(async () => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    server.close();
  }
  for (const s of sidecars.splice(0)) await s.shutdown();
});

/** One body of two spans (a request and its query), with a distinct trace per call. */
function body(n: number): Uint8Array {
  return ProtobufTraceSerializer.serializeRequest(
    requestWithQuery(n.toString(16).padStart(32, '0'), '/items/:id'),
  ) as Uint8Array;
}

async function postSpans(receiverUrl: string, bodies: number): Promise<void> {
  for (let i = 0; i < bodies; i++) {
    const res = await fetch(receiverUrl, {
      method: 'POST',
      body: body(i + 1),
      headers: { 'Content-Type': 'application/x-protobuf' },
    });
    expect(res.status).toBe(200);
  }
}

/** An OTLP endpoint that reads requests and never answers: the forward queue cannot drain. */
async function silentUpstream(): Promise<string> {
  const server = createServer(() => undefined);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
}

function waitForLine(lines: LogLine[], msg: string, timeoutMs = 5_000): Promise<LogLine> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = () => {
      const line = lines.find((l) => l.msg === msg);
      if (line) resolve(line);
      else if (Date.now() > deadline) reject(new Error(`no "${msg}" line in ${JSON.stringify(lines)}`));
      else setTimeout(poll, 10);
    };
    poll();
  });
}

describe('sidecar shutdown on signals', () => {
  it('on SIGTERM, processes and forwards the spans sent just before, logs a summary and exits 0', async () => {
    const upstream = await startTestSidecar();
    sidecars.push(upstream);
    const sidecar = await spawnSidecar({
      SPANSTAT_FORWARD_ENDPOINT: `${upstream.receiverUrl}/v1/traces`,
      SPANSTAT_FORWARD_COMPRESSION: 'none',
    });
    await postSpans(sidecar.receiverUrl, 10);
    const signalledAt = Date.now();
    sidecar.child.kill('SIGTERM');
    const exit = await sidecar.exited;

    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.atMs - signalledAt).toBeLessThan(4_000);
    expect(sidecar.lines.find((l) => l.msg === 'spanstat sidecar stopping')).toMatchObject({
      signal: 'SIGTERM',
      timeoutMs: 8_000,
    });
    const stopped = sidecar.lines.filter((l) => l.msg === 'spanstat sidecar stopped');
    expect(stopped).toHaveLength(1);
    expect(stopped[0]).toMatchObject({
      spansAccepted: 20,
      spansProcessed: 20,
      spansFailed: 0,
      spansUnprocessed: 0,
      forwarded: { sent: 20, dropped: 0, droppedAtShutdown: 0, rejected: 0 },
    });
    expect(stopped[0].durationMs).toEqual(expect.any(Number));
    // The upstream got every span the sidecar had accepted.
    expect(upstream.receiver.stats.spansAccepted).toBe(20);
    // Nothing after the summary line.
    expect(sidecar.lines.at(-1)?.msg).toBe('spanstat sidecar stopped');
  });

  it('on SIGINT, the same: summary line and exit 0', async () => {
    const sidecar = await spawnSidecar({});
    await postSpans(sidecar.receiverUrl, 3);
    sidecar.child.kill('SIGINT');
    expect(await sidecar.exited).toMatchObject({ code: 0, signal: null });
    expect(sidecar.lines.find((l) => l.msg === 'spanstat sidecar stopped')).toMatchObject({
      spansAccepted: 6,
      spansProcessed: 6,
      spansUnprocessed: 0,
    });
  });

  it('exits at once on a second signal while the forward queue drains, and says so', async () => {
    const sidecar = await spawnSidecar({
      SPANSTAT_FORWARD_ENDPOINT: await silentUpstream(),
      SPANSTAT_FORWARD_COMPRESSION: 'none',
    });
    await postSpans(sidecar.receiverUrl, 2);
    sidecar.child.kill('SIGTERM');
    await waitForLine(sidecar.lines, 'spanstat sidecar stopping');
    const secondAt = Date.now();
    sidecar.child.kill('SIGTERM');
    const exit = await sidecar.exited;

    // 128 + SIGTERM's 15, as a shell reports a process the signal ended; before the forwarder's 2-s grace.
    expect(exit).toMatchObject({ code: 143, signal: null });
    expect(exit.atMs - secondAt).toBeLessThan(1_000);
    expect(sidecar.lines.find((l) => l.level === 40)?.msg).toMatch(/second signal, exiting now/);
    expect(sidecar.lines.some((l) => l.msg === 'spanstat sidecar stopped')).toBe(false);
  });

  it('stops on SIGTERM when the reader of its log has gone (`spanstat sidecar | head -1`)', async () => {
    const sidecar = await spawnSidecar({});
    // The pipe's reading end closes: every later log line meets EPIPE.
    sidecar.child.stdout?.destroy();
    const sentAt = Date.now();
    sidecar.child.kill('SIGTERM');
    const exit = await sidecar.exited;
    expect(exit.code).toBe(0);
    expect(exit.atMs - sentAt).toBeLessThan(5_000);
  });

  it('exits with code 1 once shutdown.timeoutMs has passed, saying the shutdown timed out', async () => {
    const sidecar = await spawnSidecar({
      SPANSTAT_FORWARD_ENDPOINT: await silentUpstream(),
      SPANSTAT_FORWARD_COMPRESSION: 'none',
      SPANSTAT_SHUTDOWN_TIMEOUT_MS: '500',
    });
    await postSpans(sidecar.receiverUrl, 2);
    const signalledAt = Date.now();
    sidecar.child.kill('SIGTERM');
    const exit = await sidecar.exited;

    expect(exit).toMatchObject({ code: 1, signal: null });
    // The forwarder would wait 2 s for its queue; the bound cuts that to 0.5 s.
    expect(exit.atMs - signalledAt).toBeGreaterThanOrEqual(450);
    expect(exit.atMs - signalledAt).toBeLessThan(1_800);
    // With the counts as they stood: the spans were processed, the forward queue had not drained.
    expect(sidecar.lines.find((l) => l.level === 50)).toMatchObject({
      msg: expect.stringMatching(/shutdown timed out/),
      timeoutMs: 500,
      spansAccepted: 4,
      spansProcessed: 4,
      forwarded: { sent: 0 },
    });
  });

  it('with an upstream that never answers, still exits 0 after the forwarder gives up, counting what it dropped', async () => {
    const sidecar = await spawnSidecar({
      SPANSTAT_FORWARD_ENDPOINT: await silentUpstream(),
      SPANSTAT_FORWARD_COMPRESSION: 'none',
    });
    await postSpans(sidecar.receiverUrl, 2);
    const signalledAt = Date.now();
    sidecar.child.kill('SIGTERM');
    const exit = await sidecar.exited;

    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.atMs - signalledAt).toBeLessThan(4_000);
    expect(sidecar.lines.find((l) => l.msg === 'spanstat sidecar stopped')).toMatchObject({
      spansAccepted: 4,
      spansProcessed: 4,
      forwarded: { sent: 0, droppedAtShutdown: 4 },
    });
  });

  it('keeps a request in flight when shutdown begins, and refuses the next on that kept-alive connection with 503 + Retry-After, closing it', async () => {
    const sidecar = await startTestSidecar();
    sidecars.push(sidecar);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const url = new URL(`${sidecar.receiverUrl}/v1/traces`);
    const send = (payload: Uint8Array, beforeEnd?: () => Promise<void>) =>
      new Promise<{ status: number; headers: Record<string, unknown> }>((resolve, reject) => {
        const req = httpRequest(
          {
            host: url.hostname,
            port: url.port,
            path: url.pathname,
            method: 'POST',
            agent,
            headers: { 'Content-Type': 'application/x-protobuf', 'Content-Length': payload.length },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
          },
        );
        req.on('error', reject);
        if (!beforeEnd) return void req.end(payload);
        req.write(payload.subarray(0, 10));
        void beforeEnd().then(() => req.end(payload.subarray(10)));
      });
    let stopped: Promise<unknown> | undefined;
    const pause = () => new Promise((resolve) => setTimeout(resolve, 100));
    // Half a body sent (the receiver is reading it), then shutdown begins, then the rest.
    const first = send(body(1), async () => {
      await pause();
      stopped = sidecar.shutdown();
      await pause();
    });
    const second = send(body(2));
    expect((await first).status).toBe(200);
    const refused = await second;
    expect(refused.status).toBe(503);
    expect(refused.headers).toMatchObject({ 'retry-after': '1', connection: 'close' });
    await stopped;
    // The first body was taken and processed by the drain; the second was not taken.
    expect(sidecar.pipeline.stats.spansProcessed).toBe(2);
    agent.destroy();
  });
});
