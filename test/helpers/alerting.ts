import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One alert of an Alertmanager webhook notification. */
export interface WebhookAlert {
  status: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface AlertWebhook {
  /** Give this to Alertmanager as the webhook receiver's URL. */
  url: string;
  /** Every alert delivered so far, in arrival order. */
  received: WebhookAlert[];
  close(): Promise<void>;
}

export function listen(server: Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

/** An HTTP server on a free loopback port that records the alerts Alertmanager posts to it. */
export async function startAlertWebhook(): Promise<AlertWebhook> {
  const received: WebhookAlert[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      received.push(...(JSON.parse(body).alerts as WebhookAlert[]));
      res.end('ok');
    });
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}/alerts`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * Polls `probe` until it returns a value; a probe that throws (e.g. Prometheus not answering yet) is
 * retried, and its last error is named if the deadline passes.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 60_000,
  intervalMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
