export { quoteIdent } from '../sql/quote-ident';
export {
  Advisor,
  type AdvisorLogger,
  type AdvisorOptions,
  type AdvisorStatus,
  createIndexInspector,
  type LockWaitSource,
} from './advisor';
export { parseRecommendationFilter, type RecommendationsResponse, recommendationsResponse } from './api';
export {
  type AdvisorDatabase,
  type AdvisorDatabaseStatus,
  AdvisorDatabases,
  createAdvisorDatabases,
  databaseLabel,
} from './databases';
export { type Evaluation, evaluate, evaluateDetailed, sortRecommendations } from './evaluate';
export { type FormatOptions, formatEvidence, formatRecommendations } from './format';
export {
  type IndexInspector,
  PgIndexInspector,
  type PgIndexInspectorOptions,
  uncheckedFinding,
} from './index-advisor';
export { covers, planTableIndex, type TableInfo } from './index-plan';
export { createLockSampler, type LockSamplerStatus, PgLockSampler } from './lock-sampler';
export * from './lock-waits';
export { PRIVILEGE_HINT } from './lock-waits';
export { extractColumns, loadParser, type PredicateColumn, type StatementColumns } from './predicate-columns';
export { indexCandidates } from './rules/queries';
export { aggregatorSource } from './source';
export { RecommendationStore, type StoreChanges, type StoreOptions } from './store';
export type { RecommendationsSnapshot } from './store-state';
export * from './types';
