export { decodeTracesJson } from './decode-json';
export { decodeTracesProtobuf } from './decode-protobuf';
export { exportService, OtlpGrpcReceiver, TRACE_EXPORT_PATH } from './otlp-grpc-receiver';
export { OtlpHttpReceiver, TRACES_PATH } from './otlp-http-receiver';
export type { ReceiverLogger, ReceiverOptions, ReceiverStats } from './receiver-types';
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
export { type OtlpSignal, type RelayedSignal, SIGNALS, type SignalRefusal } from './signals';
