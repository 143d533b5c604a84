/**
 * OTLP/HTTP response bodies and the one place that maps a failure to an HTTP status.
 *
 * Success: ExportTraceServiceResponse (collector/trace/v1/trace_service.proto), empty or with
 * partial_success {rejected_spans = 1 (int64), error_message = 2 (string)}. The metrics and logs
 * responses have the same shape (rejected_data_points, rejected_log_records), so the empty one
 * answers a relayed metrics or logs export too.
 * Failure: google.rpc.Status {code = 1 (int32), message = 2 (string)} — the OTLP/HTTP spec
 * ("Failures") requires it as the body of every 4xx/5xx.
 * Both in binary protobuf or in the OTLP JSON mapping, matching the request's Content-Type.
 */
import { Writer } from 'protobufjs/minimal';

export type OtlpEncoding = 'protobuf' | 'json';

export const CONTENT_TYPE: Record<OtlpEncoding, string> = {
  protobuf: 'application/x-protobuf',
  json: 'application/json',
};

export type FailureKind =
  | 'bad-data'
  | 'too-large'
  | 'unsupported-media-type'
  | 'unsupported-encoding'
  | 'overloaded'
  | 'not-found'
  | 'not-relayed'
  | 'method-not-allowed'
  | 'internal';

export interface FailureMapping {
  httpStatus: number;
  /** google.rpc.Code; the spec lets clients ignore it but it helps when reading logs. */
  grpcCode: number;
  /** Whether an OTLP client should retry (429/502/503/504 per the spec), for our own docs and logs. */
  retryable: boolean;
}

/** Every failure the receiver can answer, and why it gets that status. */
export const FAILURES: Record<FailureKind, FailureMapping> = {
  // OTLP/HTTP "Bad Data": data that cannot be decoded or is otherwise invalid, permanently →
  // 400 Bad Request; the client MUST NOT retry.
  'bad-data': { httpStatus: 400, grpcCode: 3 /* INVALID_ARGUMENT */, retryable: false },
  // OTLP/HTTP "Request": the server MUST limit the body, including after decompression, and answer
  // 413 Content Too Large when it is exceeded. Not in the retryable list, so not retried.
  'too-large': { httpStatus: 413, grpcCode: 8 /* RESOURCE_EXHAUSTED */, retryable: false },
  // OTLP/HTTP multiplexes on Content-Type (x-protobuf or json); anything else is left to HTTP
  // semantics: RFC 9110 §15.5.16 415 Unsupported Media Type.
  'unsupported-media-type': { httpStatus: 415, grpcCode: 3 /* INVALID_ARGUMENT */, retryable: false },
  // The spec defines gzip only; RFC 9110 §15.5.16 names 415 for an unsupported content coding too.
  'unsupported-encoding': { httpStatus: 415, grpcCode: 3 /* INVALID_ARGUMENT */, retryable: false },
  // OTLP/HTTP "Throttling": an overloaded server SHOULD answer 429 or 503 and MAY add
  // Retry-After, which the client SHOULD honour. 503 because the cause is our backlog, not the
  // client's rate.
  overloaded: { httpStatus: 503, grpcCode: 14 /* UNAVAILABLE */, retryable: true },
  // Paths other than /v1/traces: "All Other Responses" fall back to HTTP, RFC 9110 §15.5.5.
  'not-found': { httpStatus: 404, grpcCode: 5 /* NOT_FOUND */, retryable: false },
  // /v1/metrics and /v1/logs when spanstat does not relay them (signals.ts): it serves no such
  // resource, as any trace-only endpoint would answer, but says why and what to do. The gRPC
  // receiver answers the same calls UNIMPLEMENTED, as a server without that service does.
  'not-relayed': { httpStatus: 404, grpcCode: 12 /* UNIMPLEMENTED */, retryable: false },
  // OTLP/HTTP uses POST only; RFC 9110 §15.5.6 405 with an Allow header.
  'method-not-allowed': { httpStatus: 405, grpcCode: 12 /* UNIMPLEMENTED */, retryable: false },
  // A bug of ours, not the client's data; 500 is not in the retryable list, so the batch is not
  // resent into the same bug.
  internal: { httpStatus: 500, grpcCode: 13 /* INTERNAL */, retryable: false },
};

const EMPTY_PROTOBUF = Buffer.alloc(0);
const EMPTY_JSON = Buffer.from('{}');

export interface PartialSuccess {
  rejectedSpans: number;
  errorMessage: string;
}

/** ExportTraceServiceResponse; partial_success left unset on full success, as the spec requires. */
export function encodeExportResponse(encoding: OtlpEncoding, partial?: PartialSuccess): Buffer {
  if (!partial) return encoding === 'protobuf' ? EMPTY_PROTOBUF : EMPTY_JSON;
  if (encoding === 'json') {
    // int64 is a decimal string in the proto3 JSON mapping.
    const body = {
      partialSuccess: { rejectedSpans: String(partial.rejectedSpans), errorMessage: partial.errorMessage },
    };
    return Buffer.from(JSON.stringify(body));
  }
  const w = Writer.create();
  w.uint32(10).fork(); // partial_success = 1, length-delimited
  if (partial.rejectedSpans !== 0) w.uint32(8).int64(partial.rejectedSpans); // rejected_spans = 1
  if (partial.errorMessage !== '') w.uint32(18).string(partial.errorMessage); // error_message = 2
  w.ldelim();
  return asBuffer(w.finish());
}

/** google.rpc.Status {code, message}. */
export function encodeStatus(encoding: OtlpEncoding, code: number, message: string): Buffer {
  if (encoding === 'json') return Buffer.from(JSON.stringify({ code, message }));
  const w = Writer.create();
  if (code !== 0) w.uint32(8).int32(code); // code = 1
  if (message !== '') w.uint32(18).string(message); // message = 2
  return asBuffer(w.finish());
}

/** Writer.create() is a BufferWriter under Node, so this does not copy. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
