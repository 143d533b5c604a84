/** Minimal HTTP clients for the benches: JSON GETs and OTLP/HTTP protobuf POSTs over keep-alive. */
import { Agent, request } from 'node:http';
import { createGunzip } from 'node:zlib';

const jsonAgent = new Agent({ keepAlive: true, maxSockets: 4 });

/** GET url and parse the JSON body; rejects on a non-2xx status or no answer. */
export function getJson<T>(url: string, timeoutMs = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: jsonAgent, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        if ((res.statusCode ?? 0) >= 300)
          return reject(new Error(`GET ${url}: ${res.statusCode} ${text.slice(0, 200)}`));
        try {
          resolve(JSON.parse(text) as T);
        } catch (err) {
          reject(err);
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export interface TimedGet {
  status: number;
  /** Body bytes as they came over the wire (gzipped when the server chose gzip). */
  bytes: number;
  /** Body bytes after decoding (= bytes when sent as is). */
  decodedBytes: number;
  /** Request sent → last body byte received and decoded, ms. */
  ms: number;
}

/**
 * GET with a caller's agent, timing the whole exchange including the body. With `gzip` it asks for
 * gzip as browsers, Node's fetch (the CLI) and Go's HTTP client (Grafana) do, and the time includes
 * the client's gunzip.
 */
export function timedGet(
  agent: Agent,
  url: string,
  options: { gzip?: boolean; timeoutMs?: number } = {},
): Promise<TimedGet> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const headers = options.gzip ? { 'accept-encoding': 'gzip' } : {};
    const req = request(url, { agent, timeout: timeoutMs, headers }, (res) => {
      let bytes = 0;
      let decodedBytes = 0;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
      });
      res.on('error', reject);
      const gzipped = res.headers['content-encoding'] === 'gzip';
      const body = gzipped ? res.pipe(createGunzip()) : res;
      if (gzipped) body.on('data', (c: Buffer) => (decodedBytes += c.length));
      body.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          bytes,
          decodedBytes: gzipped ? decodedBytes : bytes,
          ms: performance.now() - t0,
        }),
      );
      body.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export interface PostResult {
  /** HTTP status, 0 when no answer came (connection refused/reset). */
  status: number;
  /** Retry-After header in seconds, when sent. */
  retryAfter?: number;
  error?: string;
}

/** An OTLP/HTTP protobuf client with its own keep-alive pool. */
export class OtlpPoster {
  private readonly agent: Agent;
  private readonly url: URL;

  constructor(receiverUrl: string, sockets = 8) {
    this.url = new URL('/v1/traces', receiverUrl);
    this.agent = new Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });
  }

  post(body: Uint8Array, timeoutMs = 30_000): Promise<PostResult> {
    return new Promise((resolve) => {
      const req = request(
        {
          agent: this.agent,
          host: this.url.hostname,
          port: this.url.port,
          path: this.url.pathname,
          method: 'POST',
          timeout: timeoutMs,
          headers: { 'Content-Type': 'application/x-protobuf', 'Content-Length': body.byteLength },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            const header = res.headers['retry-after'];
            const retryAfter = header === undefined ? undefined : Number(header);
            resolve(
              retryAfter === undefined
                ? { status: res.statusCode ?? 0 }
                : { status: res.statusCode ?? 0, retryAfter },
            );
          });
          res.on('error', (err) => resolve({ status: 0, error: err.message }));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (err) => resolve({ status: 0, error: err.message }));
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

export function closeJsonAgent(): void {
  jsonAgent.destroy();
}
