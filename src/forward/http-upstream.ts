/**
 * An OTLP/HTTP upstream (undici): each batch POSTed in the encoding it arrived in, gzipped once on
 * libuv's thread pool when `compression` is gzip. 429/502/503/504, timeouts and network errors are
 * retryable (Retry-After honoured); any other refusal is final.
 */
import { gzip, constants as zlibConstants } from 'node:zlib';
import { Pool } from 'undici';
import { failureReason, isRetryableStatus, retryBackoffMs, retryDelayMs } from '../otlp-retry';
import { CONTENT_TYPE } from '../receiver/responses';
import {
  type Outcome,
  type OutgoingBatch,
  readUpstreamTls,
  rejectedSpans,
  type Upstream,
  type UpstreamOptions,
} from './upstream';

/**
 * zlib's fastest level: on the bench's OTLP bodies (380 B a span) it compresses 7.6× at 737k spans/s
 * on one core, against 8.6× at 427k for the default level 6 (bench/lib/otlp-batches templates).
 */
const GZIP_LEVEL = zlibConstants.Z_BEST_SPEED;

/**
 * One thread-pool task per body: zlib hands back each `chunkSize` of output through the event loop
 * before it compresses on, so with the default 16 KiB a 1-MiB batch of OTLP waits ~8 turns of a busy
 * event loop. Measured with the loop busy in 5-ms turns: 49–51 ms per gzip that way, 11–12 ms in one
 * task (4.4 ms with the loop idle).
 */
function gzipAsync(body: Buffer): Promise<Buffer> {
  const chunkSize = Math.max(64 * 1024, body.length + 1024);
  return new Promise((resolve, reject) =>
    gzip(body, { level: GZIP_LEVEL, chunkSize }, (err, out) => (err ? reject(err) : resolve(out))),
  );
}

export class HttpUpstream implements Upstream {
  readonly origin: string;
  readonly protobufOnly = false;
  private readonly pool: Pool;
  private readonly path: string;
  private readonly headers: Record<string, string>;

  constructor(
    private readonly options: UpstreamOptions,
    /** At most this many requests at once (one connection each). */
    connections: number,
    private readonly now: () => number,
  ) {
    const url = new URL(options.endpoint);
    this.origin = url.origin;
    this.path = `${url.pathname}${url.search}`;
    // Lower-case names, so a configured content-type is replaced by the body's own rather than sent twice.
    this.headers = Object.fromEntries(Object.entries(options.headers).map(([k, v]) => [k.toLowerCase(), v]));
    if (options.compression === 'gzip') this.headers['content-encoding'] = 'gzip';
    this.pool = new Pool(this.origin, {
      connections,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      connect: { timeout: options.timeoutMs, ...readUpstreamTls(options) },
    });
  }

  async send(batch: OutgoingBatch, consecutiveFailures: number): Promise<Outcome> {
    if (this.options.compression === 'gzip' && batch.wire === undefined) {
      try {
        batch.wire = await gzipAsync(batch.body);
      } catch (err) {
        return { ok: false, reason: `gzip failed: ${(err as Error).message}` };
      }
    }
    try {
      const res = await this.pool.request({
        path: this.path,
        method: 'POST',
        headers: { ...this.headers, 'content-type': CONTENT_TYPE[batch.encoding] },
        body: batch.wire ?? batch.body,
      });
      if (res.statusCode >= 200 && res.statusCode < 300)
        return {
          ok: true,
          rejected: rejectedSpans(Buffer.from(await res.body.arrayBuffer()), batch.encoding),
        };
      await res.body.dump();
      const reason = `HTTP ${res.statusCode}`;
      if (!isRetryableStatus(res.statusCode)) return { ok: false, reason };
      const retryInMs = retryDelayMs(res.headers['retry-after'], this.now(), consecutiveFailures + 1);
      return { ok: false, reason, retryInMs };
    } catch (err) {
      // Timeouts (undici's headers/body/connect timeouts) and network errors: the upstream may come back.
      return { ok: false, reason: failureReason(err), retryInMs: retryBackoffMs(consecutiveFailures + 1) };
    }
  }

  async close(): Promise<void> {
    await this.pool.destroy().catch(() => undefined);
  }
}
