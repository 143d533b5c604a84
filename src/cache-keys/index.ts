export { isIdLikeSegment } from './id-segments';
export { compileKeyPattern, type KeyPattern, matchKeyPattern } from './key-patterns';
export { type MergeListener, NamespaceLearner, type NamespaceLearnerOptions } from './namespace-learner';
export { isSqlTextKey, SQL_QUERY_CACHE_NAMESPACE } from './query-cache-keys';
export {
  describeRedisCommand,
  MAX_SERIALIZED_KEY_CHARS,
  MAX_SERIALIZED_KEYS,
  parseRedisStatement,
  type RedisCommandInfo,
  type RedisStatement,
  serializeRedisCommand,
} from './redis-commands';
