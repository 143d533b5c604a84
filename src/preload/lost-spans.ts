import type { Span } from '@opentelemetry/api';
import { SPANSTAT_ATTR } from '../model/attributes';

/** Spans this process has lost so far (batch-processor.ts, otlp-exporter.ts), and its random id. */
export interface LostSpans {
  count: () => number;
  instance: string;
}

/**
 * Puts the lost-span count and the process's id on a unit root (a SERVER span or a job root) once the
 * count is not zero (SPANSTAT_ATTR.lostSpans), so the sidecar can say how much its reports miss.
 */
export function markLostSpans(span: Span, lost: LostSpans | undefined): void {
  if (lost === undefined) return;
  const lostSpans = lost.count();
  if (lostSpans > 0) {
    span.setAttribute(SPANSTAT_ATTR.lostSpans, lostSpans);
    span.setAttribute(SPANSTAT_ATTR.preloadInstance, lost.instance);
  }
}
