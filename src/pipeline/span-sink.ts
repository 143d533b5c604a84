import type { CacheCall, DbCall, PoolConnect, PoolUsageSample, SenderLoss } from '../model/classified';
import type { RequestSummary } from '../model/request-summary';

/** Anything that consumes classified spans and request summaries: the aggregator, the metrics. */
export interface SpanSink {
  recordDbCall(call: DbCall): void;
  recordCacheCall(call: CacheCall): void;
  recordPoolConnect(call: PoolConnect): void;
  /** A pool's peak clients in use over a few seconds, made whether or not a checkout waited. */
  recordPoolUsage(sample: PoolUsageSample): void;
  recordRequest(summary: RequestSummary): void;
  /** A request span's report of the spans its sender lost (SPANSTAT_ATTR.lostSpans); optional. */
  recordSenderLoss?(service: string, loss: SenderLoss): void;
}
