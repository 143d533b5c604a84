import { z } from 'zod';
import { DEFAULTS } from './defaults';

const port = z.number().int().min(0).max(65535);
const positiveInt = z.number().int().positive();

/** Unknown keys are rejected (strict) so a typo names itself instead of being ignored. */
export const configSchema = z
  .object({
    mode: z.enum(['sidecar', 'collector']).default(DEFAULTS.mode),
    receiver: z
      .object({
        host: z.string().min(1).default(DEFAULTS.receiver.host),
        port: port.default(DEFAULTS.receiver.port),
        maxBodyBytes: positiveInt.default(DEFAULTS.receiver.maxBodyBytes),
        maxPendingSpans: positiveInt.default(DEFAULTS.receiver.maxPendingSpans),
        retryAfterSeconds: positiveInt.default(DEFAULTS.receiver.retryAfterSeconds),
      })
      .strict()
      .prefault({}),
    api: z
      .object({
        host: z.string().min(1).default(DEFAULTS.api.host),
        port: port.default(DEFAULTS.api.port),
      })
      .strict()
      .prefault({}),
    assembly: z
      .object({
        idleMs: positiveInt.default(DEFAULTS.assembly.idleMs),
        maxOpenTraces: positiveInt.default(DEFAULTS.assembly.maxOpenTraces),
        maxSpansPerTrace: positiveInt.default(DEFAULTS.assembly.maxSpansPerTrace),
      })
      .strict()
      .prefault({}),
    aggregation: z
      .object({
        maxQueryRows: positiveInt.default(DEFAULTS.aggregation.maxQueryRows),
        maxCacheRows: positiveInt.default(DEFAULTS.aggregation.maxCacheRows),
        maxEndpointRows: positiveInt.default(DEFAULTS.aggregation.maxEndpointRows),
        relativeAccuracy: z.number().gt(0).lt(0.5).default(DEFAULTS.aggregation.relativeAccuracy),
        bucketMs: positiveInt.min(1000).default(DEFAULTS.aggregation.bucketMs),
        topEndpoints: positiveInt.default(DEFAULTS.aggregation.topEndpoints),
      })
      .strict()
      .prefault({}),
    sql: z
      .object({
        cacheEntries: positiveInt.default(DEFAULTS.sql.cacheEntries),
        maxParseBytes: positiveInt.default(DEFAULTS.sql.maxParseBytes),
      })
      .strict()
      .prefault({}),
    redis: z
      .object({
        delimiters: z.string().min(1).default(DEFAULTS.redis.delimiters),
        learnDistinct: positiveInt.min(2).default(DEFAULTS.redis.learnDistinct),
        patterns: z.array(z.string().min(1)).default([...DEFAULTS.redis.patterns]),
        maxLearnedPrefixes: positiveInt.default(DEFAULTS.redis.maxLearnedPrefixes),
      })
      .strict()
      .prefault({}),
    log: z
      .object({
        level: z
          .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
          .default(DEFAULTS.log.level),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type SpanstatConfig = z.infer<typeof configSchema>;
