export {
  type ForwardedCounts,
  type ForwarderLogger,
  type ForwarderOptions,
  type ForwardStats,
  OtlpForwarder,
} from './otlp-forwarder';
