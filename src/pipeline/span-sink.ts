import type { CacheCall, DbCall, PoolConnect } from '../model/classified';
import type { RequestSummary } from '../model/request-summary';

/** Anything that consumes classified spans and request summaries: the aggregator, the metrics. */
export interface SpanSink {
  recordDbCall(call: DbCall): void;
  recordCacheCall(call: CacheCall): void;
  recordPoolConnect(call: PoolConnect): void;
  recordRequest(summary: RequestSummary): void;
}
