/**
 * Reading an OTLP/HTTP request: content negotiation and a size-capped body, gunzipped under the
 * same cap. Pure node:http / node:zlib; the receiver decides what to answer.
 */
import type { IncomingMessage } from 'node:http';
import { gunzip } from 'node:zlib';
import type { OtlpEncoding } from './responses';

/** Media type of the body ("; charset=…" and case ignored), or undefined when not OTLP. */
export function encodingOf(contentType: string | undefined): OtlpEncoding | undefined {
  if (!contentType) return undefined;
  const semi = contentType.indexOf(';');
  const media = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  if (media === 'application/x-protobuf') return 'protobuf';
  if (media === 'application/json') return 'json';
  return undefined;
}

export type ContentCoding = 'identity' | 'gzip';

/** Content-Encoding the receiver can undo, or undefined (→ 415). */
export function contentCodingOf(header: string | undefined): ContentCoding | undefined {
  if (header === undefined) return 'identity';
  const coding = header.trim().toLowerCase();
  if (coding === '' || coding === 'identity') return 'identity';
  if (coding === 'gzip' || coding === 'x-gzip') return 'gzip';
  return undefined;
}

export type BodyResult =
  | { ok: true; body: Buffer; wireBytes: number }
  | { ok: false; reason: 'too-large' | 'bad-gzip' | 'aborted'; wireBytes: number };

/**
 * Reads the body, stopping (and pausing the request) as soon as it passes maxBytes; a gzip body
 * is inflated with zlib's maxOutputLength = maxBytes, so a bomb stops at the cap.
 */
export function readBody(req: IncomingMessage, coding: ContentCoding, maxBytes: number): Promise<BodyResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (result: BodyResult): void => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        // Stop reading: the caller answers 413 with Connection: close.
        req.pause();
        settle({ ok: false, reason: 'too-large', wireBytes: size });
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      const raw = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
      if (coding === 'identity') {
        settle({ ok: true, body: raw, wireBytes: size });
        return;
      }
      const wireBytes = size;
      gunzip(raw, { maxOutputLength: maxBytes }, (err, out) => {
        if (!err) settle({ ok: true, body: out, wireBytes });
        else if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
          settle({ ok: false, reason: 'too-large', wireBytes });
        } else settle({ ok: false, reason: 'bad-gzip', wireBytes });
      });
      // gunzip is asynchronous: detach now so a later 'close' cannot report an abort.
      req.off('close', onClose);
    };
    const onClose = (): void => {
      if (!req.complete) settle({ ok: false, reason: 'aborted', wireBytes: size });
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('close', onClose);
  });
}
