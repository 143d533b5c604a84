/**
 * An OTLP/HTTP upstream (undici): each batch POSTed in the encoding it arrived in, gzipped once on
 * libuv's thread pool when `compression` is gzip. 429/502/503/504, timeouts and network errors are
 * retryable (Retry-After honoured); any other refusal is final.
 */
import { Pool } from 'undici';
import { gzipBody } from '../gzip-body';
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
        batch.wire = await gzipBody(batch.body);
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
