import type { CacheCall, DbCall, PoolConnect, SenderLoss } from '../model/classified';
import type { RequestSummary } from '../model/request-summary';

/** Anything that consumes classified spans and request summaries: the aggregator, the metrics. */
export interface SpanSink {
  recordDbCall(call: DbCall): void;
  recordCacheCall(call: CacheCall): void;
  recordPoolConnect(call: PoolConnect): void;
  recordRequest(summary: RequestSummary): void;
  /** A request span's report of the spans its sender lost (SPANSTAT_ATTR.lostSpans); optional. */
  recordSenderLoss?(service: string, loss: SenderLoss): void;
}
