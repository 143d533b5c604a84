/**
 * OTLP/HTTP receiver: POST /v1/traces, binary protobuf or JSON, identity or gzip; POST /v1/metrics and
 * /v1/logs alike, relayed unread when forwarding and otherwise refused with a 404 that says why
 * (relay-signal.ts). Transport only — the receipt-time checks live in check-protobuf.ts and
 * check-signals.ts, decoding in decode-*.ts, status mapping and bodies in responses.ts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { isSpanstatError, SpanstatError } from '../errors';
import type { SpanBatch } from '../model/span';
import { jsonBatch } from './decode-json';
import { errorSummary } from './error-summary';
import { protobufBatch } from './protobuf-batch';
import { type ListenAddress, ReceiverLifecycle } from './receiver-lifecycle';
import { emptyReceiverStats, type ReceiverStats } from './receiver-types';
import { refuseSignal, relaySignal, signalRefusal } from './relay-signal';
import { contentCodingOf, encodingOf, readBody } from './request-body';
import {
  CONTENT_TYPE,
  encodeExportResponse,
  encodeStatus,
  FAILURES,
  type FailureKind,
  type OtlpEncoding,
} from './responses';
import { type RelayedSignal, SIGNALS, signalOfPath } from './signals';

export const TRACES_PATH = SIGNALS.traces.httpPath;

/**
 * Idle keep-alive sockets are kept 30 s: the OTel JS BatchSpanProcessor exports every 5 s, the
 * same as Node's default keepAliveTimeout, so with the default the exporter often reuses a socket
 * the server is closing at that moment and gets ECONNRESET.
 */
const KEEP_ALIVE_TIMEOUT_MS = 30_000;
/** A whole request must arrive within this; bodies are ≤ maxBodyBytes, usually on loopback. */
const REQUEST_TIMEOUT_MS = 30_000;
/** Headers must arrive within this (Node requires it ≤ requestTimeout). */
const HEADERS_TIMEOUT_MS = 10_000;
/** shutdown() lets in-flight requests finish for this long, then closes their sockets. */
const SHUTDOWN_GRACE_MS = 2_000;
/** Bodies being read at once, in bytes, as a multiple of receiver.maxBodyBytes (64 MiB by default). */
const READING_BUDGET_FACTOR = 4;

/**
 * Refusals worth a warning: the client sends something broken, or we are. Overload (503) and
 * wrong path/method/type refusals can repeat per request and go to debug.
 */
const LOUD_FAILURES: ReadonlySet<FailureKind> = new Set<FailureKind>(['bad-data', 'too-large', 'internal']);

export class OtlpHttpReceiver extends ReceiverLifecycle {
  readonly stats: ReceiverStats = emptyReceiverStats();
  private server: Server | undefined;
  /** Set when shutdown begins: requests that arrive on kept-alive connections meanwhile are refused. */
  private draining = false;
  /** Bytes reserved by bodies being read now (their Content-Length, else receiver.maxBodyBytes). */
  private readingBytes = 0;
  private get maxReadingBytes(): number {
    return READING_BUDGET_FACTOR * this.options.maxBodyBytes;
  }

  protected listen(): Promise<ListenAddress> {
    const { host, port, tls } = this.options;
    const timeouts = { requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: HEADERS_TIMEOUT_MS };
    const handle = (req: IncomingMessage, res: ServerResponse) => this.handle(req, res);
    const server: Server =
      tls === undefined
        ? createServer(timeouts, handle)
        : createTlsServer(
            {
              ...timeouts,
              cert: tls.cert,
              key: tls.key,
              ca: tls.clientCa,
              // With a client CA, a client without a certificate it signed fails the handshake.
              requestCert: tls.clientCa !== undefined,
              rejectUnauthorized: tls.clientCa !== undefined,
            },
            handle,
          );
    server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        server.close();
        reject(
          new SpanstatError(
            'SPANSTAT_ERR_LISTEN',
            `OTLP/HTTP receiver cannot listen on ${host}:${port} (receiver.host/receiver.port): ${err.code ?? err.message}`,
            { cause: err },
          ),
        );
      };
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        server.on('error', (err) =>
          this.options.logger?.warn({ error: errorSummary(err) }, 'OTLP/HTTP receiver server error'),
        );
        // A failed TLS handshake (plain HTTP to the TLS port, a client certificate refused) ends
        // that connection only; it is the client's to fix, so debug rather than warn per attempt.
        server.on('tlsClientError', (err: Error) =>
          this.options.logger?.debug?.(
            { error: errorSummary(err) },
            'OTLP/HTTP receiver TLS handshake failed',
          ),
        );
        this.server = server;
        const addr = server.address() as AddressInfo;
        resolve({ host: addr.address, port: addr.port });
      });
    });
  }

  protected async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.draining = true;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
      timer.unref();
      server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      server.closeIdleConnections();
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.stats.requests++;
    // A client that aborts mid-body makes the request emit 'error'; there is nobody to answer.
    req.on('error', () => undefined);
    try {
      this.route(req, res);
    } catch (err) {
      this.fail(res, 'internal', 'json', 'internal error', undefined, err);
    }
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    const encoding = encodingOf(req.headers['content-type']);
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const signal = signalOfPath(path);
    if (signal === undefined) {
      this.fail(res, 'not-found', encoding ?? 'json', `not found; OTLP traces go to POST ${TRACES_PATH}`);
      return;
    }
    if (req.method !== 'POST') {
      this.fail(res, 'method-not-allowed', encoding ?? 'json', `${path} accepts POST only`, {
        Allow: 'POST',
      });
      return;
    }
    if (signal !== 'traces') {
      const why = signalRefusal(this.options, signal);
      if (why !== undefined) {
        // Refused before the body is read; the connection stays usable (Node discards the unread body).
        const message = refuseSignal(this.options, this.stats, signal, why, 'OTLP/HTTP');
        this.fail(res, 'not-relayed', encoding ?? 'json', message);
        return;
      }
    }
    if (encoding === undefined) {
      this.stats.unsupportedMedia++;
      const message = 'Content-Type must be application/x-protobuf or application/json';
      this.fail(res, 'unsupported-media-type', 'json', message);
      return;
    }
    const coding = contentCodingOf(req.headers['content-encoding']);
    if (coding === undefined) {
      this.stats.unsupportedMedia++;
      this.fail(res, 'unsupported-encoding', encoding, 'Content-Encoding must be gzip or identity', {
        'Accept-Encoding': 'gzip, identity',
      });
      return;
    }
    if (this.draining) {
      // server.close() stops new connections only: a busy kept-alive one would carry new exports
      // until the grace ends and its socket is cut mid-request. A retryable refusal that closes the
      // connection sends the exporter elsewhere (the next instance) instead. Counted as overloaded:
      // both are a retryable 503 of ours.
      this.refuseOverloaded(res, encoding, 'spanstat is shutting down; retry later', { Connection: 'close' });
      return;
    }
    if (this.overloaded()) {
      this.refuseOverloaded(res, encoding);
      return;
    }
    const max = this.options.maxBodyBytes;
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > max) {
      this.tooLarge(res, encoding);
      return;
    }
    // Bodies being read count against a byte budget too: the span cap is only known once they are in,
    // and many large uploads at once would otherwise all be read (and held) before it applies.
    const reserved = coding === 'identity' && declared > 0 ? declared : max;
    if (this.readingBytes > 0 && this.readingBytes + reserved > this.maxReadingBytes) {
      this.refuseOverloaded(res, encoding);
      return;
    }
    this.readingBytes += reserved;
    readBody(req, coding, max).then(
      (result) => {
        this.readingBytes -= reserved;
        this.stats.bytesReceived += result.wireBytes;
        if (result.ok) {
          // Over the cap since the read began (other bodies came in meanwhile): refused, not queued.
          if (this.overloaded()) this.refuseOverloaded(res, encoding);
          else if (signal === 'traces') this.accept(res, encoding, result.body);
          else this.relay(res, signal, encoding, result.body);
        } else if (result.reason === 'too-large') this.tooLarge(res, encoding);
        else if (result.reason === 'bad-gzip') {
          this.stats.decodeErrors++;
          this.fail(res, 'bad-data', encoding, 'body is not valid gzip');
        }
        // 'aborted': the client is gone.
      },
      (err: unknown) => {
        this.readingBytes -= reserved;
        this.fail(res, 'internal', encoding, 'internal error', undefined, err);
      },
    );
  }

  /** A retryable 503 with Retry-After: over the pending-span cap, or (with `Connection: close`) shutting down. */
  private refuseOverloaded(
    res: ServerResponse,
    encoding: OtlpEncoding,
    message = 'spanstat is over its pending-span cap; retry later',
    headers: Record<string, string> = {},
  ): void {
    this.stats.overloaded++;
    this.fail(res, 'overloaded', encoding, message, {
      'Retry-After': String(this.options.retryAfterSeconds),
      ...headers,
    });
  }

  private accept(res: ServerResponse, encoding: OtlpEncoding, body: Buffer): void {
    let batch: SpanBatch;
    try {
      batch = encoding === 'protobuf' ? protobufBatch(body) : jsonBatch(body.toString('utf8'));
    } catch (err) {
      this.stats.decodeErrors++;
      // Decoder messages name fields and offsets, never body content (SQL, keys).
      const message = isSpanstatError(err) ? err.message : 'the body could not be decoded';
      this.fail(res, 'bad-data', encoding, message);
      return;
    }
    if (batch.size > 0) {
      try {
        this.options.onSpans(batch);
      } catch (err) {
        this.stats.spansRefused += batch.size;
        this.fail(
          res,
          'internal',
          encoding,
          `the pipeline failed; ${batch.size} spans dropped`,
          undefined,
          err,
        );
        return;
      }
      this.stats.spansAccepted += batch.size;
      this.options.onAccepted?.(body, encoding, batch.size, 'traces');
    }
    this.reply(res, 200, encoding, encodeExportResponse(encoding));
  }

  /** A metrics or logs body, checked and queued for the forwarder as received. */
  private relay(res: ServerResponse, signal: RelayedSignal, encoding: OtlpEncoding, body: Buffer): void {
    const result = relaySignal(this.options, this.stats, signal, body, encoding);
    if (result.ok) this.reply(res, 200, encoding, encodeExportResponse(encoding));
    else if (result.kind === 'overloaded') this.refuseOverloaded(res, encoding, result.message);
    else this.fail(res, 'bad-data', encoding, result.message);
  }

  /** 413 and close the connection: the rest of the body is not worth reading. */
  private tooLarge(res: ServerResponse, encoding: OtlpEncoding): void {
    this.stats.tooLarge++;
    const message = `body is larger than receiver.maxBodyBytes (${this.options.maxBodyBytes} bytes)`;
    this.fail(res, 'too-large', encoding, message, { Connection: 'close' });
  }

  /** Answers a failure with a google.rpc.Status; bad data, size and internal errors are logged at warn. */
  private fail(
    res: ServerResponse,
    kind: FailureKind,
    encoding: OtlpEncoding,
    message: string,
    headers?: Record<string, string>,
    cause?: unknown,
  ): void {
    const { httpStatus, grpcCode } = FAILURES[kind];
    const logger = this.options.logger;
    if (logger) {
      const fields = {
        status: httpStatus,
        reason: message,
        ...(cause === undefined ? {} : { error: errorSummary(cause) }),
      };
      if (LOUD_FAILURES.has(kind)) logger.warn(fields, 'OTLP request refused');
      else logger.debug?.(fields, 'OTLP request refused');
    }
    this.reply(res, httpStatus, encoding, encodeStatus(encoding, grpcCode, message), headers);
  }

  private reply(
    res: ServerResponse,
    status: number,
    encoding: OtlpEncoding,
    body: Buffer,
    headers?: Record<string, string>,
  ): void {
    if (res.headersSent || res.destroyed) return;
    res.writeHead(status, {
      ...headers,
      'Content-Type': CONTENT_TYPE[encoding],
      'Content-Length': body.length,
    });
    res.end(body);
  }
}
