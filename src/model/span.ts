/**
 * The span as the receiver hands it to the pipeline: one flat record per span, decoded from
 * OTLP protobuf or JSON. Only what the pipeline reads is kept; ids are lowercase hex.
 */
export type AttributeValue = string | number | boolean;
export type Attributes = Record<string, AttributeValue>;

/** OTLP SpanKind numbers (opentelemetry-proto trace.proto). */
export const SpanKind = {
  UNSPECIFIED: 0,
  INTERNAL: 1,
  SERVER: 2,
  CLIENT: 3,
  PRODUCER: 4,
  CONSUMER: 5,
} as const;

/** OTLP Status.code numbers. */
export const StatusCode = { UNSET: 0, OK: 1, ERROR: 2 } as const;

/**
 * The resource a span came from, as the decoders read it once per ResourceSpans (never per span): the
 * process that sent it, for telling the spanstat preload and an app's own SDK in one process apart
 * (classify/double-tracing.ts). A batch hands it to the pipeline before the resource's spans, not on each span:
 * one more field on every decoded span was a cost per span for a fact per resource.
 */
export interface SpanSender {
  readonly service: string;
  /** `telemetry.distro.name` is `spanstat`: the spanstat preload's resource. */
  readonly preload: boolean;
  /** `host.name`, `process.pid` and `service.instance.id`, when the resource has them. */
  readonly hostName: string | undefined;
  readonly pid: number | undefined;
  readonly instanceId: string | undefined;
  /**
   * `service.version` (at most MAX_VERSION_CHARS characters), when the resource has one: which release sent
   * the spans, for deploy markers and the per-version comparison (src/deploys).
   */
  readonly version: string | undefined;
}

export interface DecodedSpan {
  /** `service.name` of the span's resource, `unknown_service` when absent. */
  service: string;
  traceId: string;
  spanId: string;
  /** Empty string for a root span. */
  parentSpanId: string;
  name: string;
  kind: number;
  /** Start time in milliseconds since the epoch (float). */
  startMs: number;
  /** end − start in milliseconds, computed from the int64 nanoseconds without precision loss. */
  durationMs: number;
  statusCode: number;
  /**
   * The status message is a Redis Cluster redirection (`MOVED …`, `ASK …`: redis-redirection.ts):
   * an attempt the client sent again. Set only then (the message is not kept).
   */
  redirected?: true;
  /** Span attributes; arrays are joined with ',' and bytes dropped (the pipeline reads scalars only). */
  attributes: Attributes;
}

/**
 * The spans of one export request as the receiver hands them to the pipeline. A protobuf body is
 * checked on receipt (so a malformed one still gets its 400) but decoded only when the pipeline
 * walks it, one span at a time: pending spans then cost their wire bytes outside the JS heap, and at
 * most a chunk of decoded spans (256, see Pipeline) is alive at once.
 */
export interface SpanBatch {
  /** Number of spans, known without decoding. */
  readonly size: number;
  /**
   * Visits every span in order; a protobuf body is decoded on the way. `onSender`, when given, is
   * called with each resource's sender before the spans of that resource (a batch built from spans
   * alone, spanBatchOf, calls it never).
   */
  forEach(visit: (span: DecodedSpan) => void, onSender?: (sender: SpanSender) => void): void;
}

/** A batch over spans decoded already (OTLP/JSON, tests). */
export function spanBatchOf(spans: readonly DecodedSpan[]): SpanBatch {
  return {
    size: spans.length,
    forEach(visit) {
      for (const span of spans) visit(span);
    },
  };
}
