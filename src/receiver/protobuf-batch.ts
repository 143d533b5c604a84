import { READ_ATTRIBUTE_KEYS } from '../model/attributes';
import type { SpanBatch } from '../model/span';
import { AttributeKeyMatcher } from './attribute-keys';
import { countTraceSpans } from './check-protobuf';
import { forEachTraceSpan } from './decode-protobuf';

/** The span attributes the pipeline reads, matched on the wire. */
export const READ_ATTRIBUTES = new AttributeKeyMatcher(READ_ATTRIBUTE_KEYS);

/**
 * An ExportTraceServiceRequest body checked now (throws SPANSTAT_ERR_OTLP_DECODE when malformed) and
 * decoded when the pipeline walks it, span by span and only the attributes the pipeline reads (see
 * SpanBatch). The same for OTLP/HTTP and OTLP/gRPC: both carry this message.
 */
export function protobufBatch(body: Buffer): SpanBatch {
  const size = countTraceSpans(body);
  return {
    size,
    forEach(visit, onSender) {
      forEachTraceSpan(body, visit, READ_ATTRIBUTES, onSender);
    },
  };
}
