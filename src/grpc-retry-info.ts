/**
 * The throttling hint of OTLP/gRPC: a google.rpc.Status in the `grpc-status-details-bin` trailer
 * carrying a google.rpc.RetryInfo. The sidecar's gRPC receiver sends it when over its cap; the
 * forwarder reads it from a gRPC upstream. Written with protobufjs's wire reader and writer: the
 * three small messages are not worth loading their .proto files for.
 *
 * google.rpc.Status {code = 1, message = 2, details = 3 (repeated Any {type_url = 1, value = 2})};
 * google.rpc.RetryInfo {retry_delay = 1 (google.protobuf.Duration {seconds = 1, nanos = 2})}.
 */
import { Reader, Writer } from 'protobufjs/minimal';

const RETRY_INFO_TYPE = 'type.googleapis.com/google.rpc.RetryInfo';

/** A google.rpc.Status with `code`, `message` and one RetryInfo of `delaySeconds`. */
export function statusWithRetryInfo(code: number, message: string, delaySeconds: number): Buffer {
  const w = Writer.create();
  w.uint32(8).int32(code);
  w.uint32(18).string(message);
  w.uint32(26).fork(); // details = 3, Any
  w.uint32(10).string(RETRY_INFO_TYPE); // type_url = 1
  w.uint32(18).fork(); // value = 2, RetryInfo
  w.uint32(10).fork(); // retry_delay = 1, Duration
  w.uint32(8).int64(delaySeconds); // seconds = 1
  w.ldelim().ldelim().ldelim();
  const bytes = w.finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * The RetryInfo delay a google.rpc.Status carries, in milliseconds; undefined when it carries none or
 * the bytes are not a Status (a server's details are a hint, never a reason to fail).
 */
export function retryInfoDelayMs(status: Uint8Array): number | undefined {
  try {
    const reader = Reader.create(status);
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      if (tag !== 26) {
        reader.skipType(tag & 7);
        continue;
      }
      const delay = readRetryInfoAny(reader.bytes());
      if (delay !== undefined) return delay;
    }
  } catch {
    // Not a Status: no hint.
  }
  return undefined;
}

/** An Any's RetryInfo delay (ms), or undefined when the Any holds something else. */
function readRetryInfoAny(any: Uint8Array): number | undefined {
  const reader = Reader.create(any);
  let typeUrl = '';
  let value: Uint8Array | undefined;
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag === 10) typeUrl = reader.string();
    else if (tag === 18) value = reader.bytes();
    else reader.skipType(tag & 7);
  }
  if (typeUrl !== RETRY_INFO_TYPE || value === undefined) return undefined;
  const retryInfo = Reader.create(value);
  while (retryInfo.pos < retryInfo.len) {
    const tag = retryInfo.uint32();
    if (tag === 10) return readDurationMs(retryInfo.bytes());
    retryInfo.skipType(tag & 7);
  }
  return undefined;
}

function readDurationMs(duration: Uint8Array): number {
  const reader = Reader.create(duration);
  let seconds = 0;
  let nanos = 0;
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag === 8) seconds = Number(reader.int64().toString());
    else if (tag === 16) nanos = reader.int32();
    else reader.skipType(tag & 7);
  }
  return Math.max(0, seconds * 1000 + Math.floor(nanos / 1e6));
}
