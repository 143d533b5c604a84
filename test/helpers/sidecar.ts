import pino from 'pino';
import { loadConfig } from '../../src/config';
import { type RunningSidecar, startSidecar } from '../../src/sidecar/sidecar';

/**
 * An in-process sidecar on ephemeral loopback ports, with the given config overrides; `onLog` gets
 * each log line at warn and above, parsed (else the log is silent).
 */
export async function startTestSidecar(
  overrides: Record<string, unknown> = {},
  onLog?: (line: { msg: string; [field: string]: unknown }) => void,
): Promise<RunningSidecar> {
  const config = loadConfig({
    env: {},
    overrides: { receiver: { port: 0 }, api: { port: 0 }, assembly: { idleMs: 300 }, ...overrides },
  });
  const logger = onLog
    ? pino({ level: 'warn' }, { write: (line: string) => onLog(JSON.parse(line)) })
    : pino({ level: 'silent' });
  return startSidecar(config, logger);
}

/** POSTs an OTLP/HTTP protobuf body to the sidecar's receiver; answers the status. */
export async function postTraces(sidecar: RunningSidecar, body: Uint8Array): Promise<number> {
  const response = await fetch(`${sidecar.receiverUrl}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-protobuf' },
    body,
  });
  await response.arrayBuffer();
  return response.status;
}

export async function getJson<T = unknown>(url: string): Promise<T> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url} → ${response.status}: ${await response.text()}`);
  return (await response.json()) as T;
}

/** Polls `probe` until it returns a truthy value or the deadline passes (then returns the last value). */
export async function waitFor<T>(probe: () => Promise<T>, timeoutMs = 15_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = await probe();
  while (!last && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
    last = await probe();
  }
  return last;
}

/** The service's active N+1 recommendations, after an evaluation of the in-process sidecar's advisor. */
export async function activeNPlusOne(sidecar: RunningSidecar, service: string) {
  const advisor = sidecar.advisor;
  if (advisor === undefined) throw new Error('the sidecar has no advisor');
  await advisor.evaluateNow();
  return advisor.list({ kind: 'n-plus-one', state: 'active' }).filter((r) => r.service === service);
}
