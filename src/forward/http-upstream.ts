/**
 * An OTLP/HTTP upstream (undici): each batch POSTed in the encoding it arrived in, gzipped once on
 * libuv's thread pool when `compression` is gzip. 429/502/503/504, timeouts and network errors are
 * retryable (Retry-After honoured); any other refusal is final.
 *
 * `endpoint` is the traces URL, taken whole (as OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is: a path of
 * its own is kept, none added). Metrics and logs go to that URL with its trailing /v1/traces made
 * /v1/metrics or /v1/logs (query kept) — what an SDK given the collector's base URL would use for
 * each. An endpoint whose path does not end in /v1/traces names no such URL, and spanstat does not
 * guess one: metrics and logs are then not relayed (the receivers refuse them, saying why).
 */
import { Pool } from 'undici';
import { gzipBody } from '../gzip-body';
import { failureReason, isRetryableStatus, retryBackoffMs, retryDelayMs } from '../otlp-retry';
import { CONTENT_TYPE } from '../receiver/responses';
import { type OtlpSignal, SIGNALS } from '../receiver/signals';
import {
  type Outcome,
  type OutgoingBatch,
  readUpstreamTls,
  rejectedItems,
  type Upstream,
  type UpstreamOptions,
} from './upstream';

export class HttpUpstream implements Upstream {
  readonly origin: string;
  readonly protobufOnly = false;
  private readonly pool: Pool;
  /** Each signal's path and query; metrics and logs only when the traces path ends in /v1/traces. */
  private readonly paths: Partial<Record<OtlpSignal, string>>;
  private readonly headers: Record<string, string>;

  constructor(
    private readonly options: UpstreamOptions,
    /** At most this many requests at once (one connection each). */
    connections: number,
    private readonly now: () => number,
  ) {
    const url = new URL(options.endpoint);
    this.origin = url.origin;
    this.paths = signalPaths(url.pathname, url.search);
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

  relays(signal: OtlpSignal): boolean {
    return this.paths[signal] !== undefined;
  }

  async send(batch: OutgoingBatch, consecutiveFailures: number): Promise<Outcome> {
    const path = this.paths[batch.signal];
    // The receivers take no body of a signal without a path; a final refusal, should one get here.
    if (path === undefined) return { ok: false, reason: `no URL for ${batch.signal}` };
    if (this.options.compression === 'gzip' && batch.wire === undefined) {
      try {
        batch.wire = await gzipBody(batch.body);
      } catch (err) {
        return { ok: false, reason: `gzip failed: ${(err as Error).message}` };
      }
    }
    try {
      const res = await this.pool.request({
        path,
        method: 'POST',
        headers: { ...this.headers, 'content-type': CONTENT_TYPE[batch.encoding] },
        body: batch.wire ?? batch.body,
      });
      if (res.statusCode >= 200 && res.statusCode < 300)
        return {
          ok: true,
          rejected: rejectedItems(Buffer.from(await res.body.arrayBuffer()), batch.encoding, batch.signal),
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

const TRACES_SUFFIX = SIGNALS.traces.httpPath;

/** The traces path as given; the metrics and logs paths beside it when it ends in /v1/traces. */
export function signalPaths(pathname: string, search: string): Partial<Record<OtlpSignal, string>> {
  const paths: Partial<Record<OtlpSignal, string>> = { traces: `${pathname}${search}` };
  if (pathname.endsWith(TRACES_SUFFIX)) {
    const base = pathname.slice(0, -TRACES_SUFFIX.length);
    paths.metrics = `${base}${SIGNALS.metrics.httpPath}${search}`;
    paths.logs = `${base}${SIGNALS.logs.httpPath}${search}`;
  }
  return paths;
}
