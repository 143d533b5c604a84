export { decodeTracesJson } from './decode-json';
export { decodeTracesProtobuf } from './decode-protobuf';
export {
  OtlpHttpReceiver,
  type OtlpHttpReceiverOptions,
  type ReceiverLogger,
  type ReceiverStats,
  TRACES_PATH,
} from './otlp-http-receiver';
export {
  CONTENT_TYPE,
  encodeExportResponse,
  encodeStatus,
  FAILURES,
  type FailureKind,
  type FailureMapping,
  type OtlpEncoding,
  type PartialSuccess,
} from './responses';
