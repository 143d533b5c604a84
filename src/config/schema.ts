import { z } from 'zod';
import { DEFAULTS } from './defaults';

const port = z.number().int().min(0).max(65535);
const positiveInt = z.number().int().positive();

const share = z.number().min(0).max(1);
const nonNegative = z.number().min(0);
const A = DEFAULTS.advisor;
const POSTGRES_URL = /^postgres(ql)?:\/\//;

/** A TLS section's certificate and key come together: names the one missing with `message`. */
function requireCertWithKey(
  files: { tlsCertFile?: string; tlsKeyFile?: string },
  ctx: z.RefinementCtx,
  message: string,
): void {
  if ((files.tlsCertFile === undefined) !== (files.tlsKeyFile === undefined)) {
    const given = files.tlsCertFile === undefined ? 'tlsKeyFile' : 'tlsCertFile';
    ctx.addIssue({
      code: 'custom',
      path: [given === 'tlsKeyFile' ? 'tlsCertFile' : 'tlsKeyFile'],
      message,
      // The missing field has no source; the error names whoever set the one given (see load.ts).
      params: { setBy: given },
    });
  }
}

/** Advisor rule thresholds; defaults and their sources are in defaults.ts. */
const advisorSchema = z
  .object({
    enabled: z.boolean().default(A.enabled),
    intervalSeconds: z.number().gt(0).default(A.intervalSeconds),
    window: z.enum(['1m', '5m', '15m', 'all']).default(A.window),
    maxRecommendations: positiveInt.default(A.maxRecommendations),
    resolvedRetentionSeconds: positiveInt.default(A.resolvedRetentionSeconds),
    unobservedResolveSeconds: positiveInt.default(A.unobservedResolveSeconds),
    clearMargin: z.number().min(0).lt(1).default(A.clearMargin),
    postgresUrl: z
      .string()
      .refine((v) => v === '' || POSTGRES_URL.test(v), 'must be a postgres:// URL or empty')
      .default(A.postgresUrl),
    databases: z
      .array(
        z
          .object({
            url: z.string().regex(POSTGRES_URL, 'must be a postgres:// URL'),
            services: z.array(z.string().min(1)).min(1, 'names at least one service'),
          })
          .strict(),
      )
      .default([])
      .superRefine((databases, ctx) => {
        const seen = new Map<string, number>();
        databases.forEach((d, i) => {
          d.services.forEach((service, j) => {
            const first = seen.get(service);
            if (first !== undefined && first !== i)
              ctx.addIssue({
                code: 'custom',
                path: [i, 'services', j],
                message: `service '${service}' is already in advisor.databases[${first}]: a service's statements run on one database`,
              });
            else seen.set(service, i);
          });
        });
      }),
    postgresTimeoutMs: positiveInt.default(A.postgresTimeoutMs),
    indexCacheSeconds: nonNegative.default(A.indexCacheSeconds),
    maxIndexChecks: z.number().int().min(0).default(A.maxIndexChecks),
    lockSampleMs: z.number().int().min(0).default(A.lockSampleMs),
    lockMinSamples: positiveInt.default(A.lockMinSamples),
    idleInTransactionMs: positiveInt.default(A.idleInTransactionMs),
    nPlusOne: z
      .object({
        minRepeats: positiveInt.min(2).default(A.nPlusOne.minRepeats),
        minTotalMs: nonNegative.default(A.nPlusOne.minTotalMs),
        minAffectedRequests: positiveInt.default(A.nPlusOne.minAffectedRequests),
      })
      .strict()
      .prefault({}),
    slowQuery: z
      .object({
        p95Ms: z.number().gt(0).default(A.slowQuery.p95Ms),
        criticalP95Ms: z.number().gt(0).default(A.slowQuery.criticalP95Ms),
        minCalls: positiveInt.default(A.slowQuery.minCalls),
      })
      .strict()
      .prefault({}),
    topConsumer: z
      .object({
        minShare: share.default(A.topConsumer.minShare),
        minTotalMs: nonNegative.default(A.topConsumer.minTotalMs),
        minCalls: positiveInt.default(A.topConsumer.minCalls),
      })
      .strict()
      .prefault({}),
    missingIndex: z
      .object({
        minTableRows: z.number().int().min(0).default(A.missingIndex.minTableRows),
        minMeanMs: nonNegative.default(A.missingIndex.minMeanMs),
        minCalls: positiveInt.default(A.missingIndex.minCalls),
        maxColumns: positiveInt.max(8).default(A.missingIndex.maxColumns),
      })
      .strict()
      .prefault({}),
    cache: z
      .object({
        targetHitRate: share.default(A.cache.targetHitRate),
        minReads: positiveInt.default(A.cache.minReads),
        shortTtlSeconds: nonNegative.default(A.cache.shortTtlSeconds),
        minSingleReadsPerRequest: positiveInt.min(2).default(A.cache.minSingleReadsPerRequest),
        minAffectedRequests: positiveInt.default(A.cache.minAffectedRequests),
        minNoExpiryWrites: positiveInt.default(A.cache.minNoExpiryWrites),
        deletesPerWriteExempt: share.default(A.cache.deletesPerWriteExempt),
      })
      .strict()
      .prefault({}),
    endpoint: z
      .object({
        sloMs: z.number().gt(0).default(A.endpoint.sloMs),
        routeSloMs: z.record(z.string().min(1), z.number().gt(0)).default({}),
        minRequests: positiveInt.default(A.endpoint.minRequests),
        maxServerErrorRate: share.default(A.endpoint.maxServerErrorRate),
      })
      .strict()
      .prefault({}),
    deploy: z
      .object({
        windowSeconds: positiveInt.default(A.deploy.windowSeconds),
        minRequests: positiveInt.default(A.deploy.minRequests),
        latencyRatio: z.number().gt(1).default(A.deploy.latencyRatio),
        minLatencyDeltaMs: nonNegative.default(A.deploy.minLatencyDeltaMs),
        queriesRatio: z.number().gt(1).default(A.deploy.queriesRatio),
        minQueriesDelta: nonNegative.default(A.deploy.minQueriesDelta),
        errorRateDelta: z.number().gt(0).max(1).default(A.deploy.errorRateDelta),
        settleMinutes: z.number().gt(0).default(A.deploy.settleMinutes),
      })
      .strict()
      .prefault({}),
    pool: z
      .object({
        waitP95Ms: z.number().gt(0).default(A.pool.waitP95Ms),
        waitShare: share.default(A.pool.waitShare),
        inUseRatio: share.default(A.pool.inUseRatio),
        minConnects: positiveInt.default(A.pool.minConnects),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({});

/** Unknown keys are rejected (strict) so a typo names itself instead of being ignored. */
export const configSchema = z
  .object({
    mode: z.enum(['sidecar', 'collector']).default(DEFAULTS.mode),
    receiver: z
      .object({
        host: z.string().min(1).default(DEFAULTS.receiver.host),
        port: port.default(DEFAULTS.receiver.port),
        /** OTLP/gRPC port (4317 is the standard one); no default: off unless set. */
        grpcPort: port.optional(),
        maxBodyBytes: positiveInt.default(DEFAULTS.receiver.maxBodyBytes),
        maxPendingSpans: positiveInt.default(DEFAULTS.receiver.maxPendingSpans),
        retryAfterSeconds: positiveInt.default(DEFAULTS.receiver.retryAfterSeconds),
        /** PEM certificate (chain) and key: both receivers then serve TLS only. */
        tlsCertFile: z.string().min(1).optional(),
        tlsKeyFile: z.string().min(1).optional(),
        /** PEM CA: clients must present a certificate it signed (mutual TLS). Needs the two above. */
        tlsClientCaFile: z.string().min(1).optional(),
      })
      .strict()
      .superRefine((r, ctx) => {
        requireCertWithKey(r, ctx, 'TLS needs both receiver.tlsCertFile and receiver.tlsKeyFile');
        if (r.tlsClientCaFile !== undefined && r.tlsCertFile === undefined)
          ctx.addIssue({
            code: 'custom',
            path: ['tlsClientCaFile'],
            message: 'client certificates (mutual TLS) need receiver.tlsCertFile and receiver.tlsKeyFile',
          });
      })
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
        templateIds: z.boolean().default(DEFAULTS.sql.templateIds),
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
    http: z
      .object({
        routes: z
          .array(
            z.string().regex(/^\/[^?#\s]*$/, 'must be a path starting with / (no query string or spaces)'),
          )
          .default([...DEFAULTS.http.routes]),
        graphqlOperationsPerRoute: positiveInt.default(DEFAULTS.http.graphqlOperationsPerRoute),
        trpcProceduresPerRoute: positiveInt.default(DEFAULTS.http.trpcProceduresPerRoute),
      })
      .strict()
      .prefault({}),
    advisor: advisorSchema,
    forward: z
      .object({
        endpoint: z
          .string()
          .refine(
            (v) => v === '' || /^https?:\/\/[^/]/.test(v),
            'must be an http:// or https:// URL or empty',
          )
          .default(DEFAULTS.forward.endpoint),
        protocol: z.enum(['http', 'grpc']).default(DEFAULTS.forward.protocol),
        headers: z.record(z.string().min(1), z.string()).default({}),
        maxQueuedBytes: positiveInt.default(DEFAULTS.forward.maxQueuedBytes),
        maxBatchBytes: positiveInt.default(DEFAULTS.forward.maxBatchBytes),
        timeoutMs: positiveInt.default(DEFAULTS.forward.timeoutMs),
        compression: z.enum(['none', 'gzip']).default(DEFAULTS.forward.compression),
        /** PEM CA trusted for an https endpoint, besides Node's own. */
        tlsCaFile: z.string().min(1).optional(),
        /** PEM client certificate and key, for an endpoint that asks for one (mutual TLS). */
        tlsCertFile: z.string().min(1).optional(),
        tlsKeyFile: z.string().min(1).optional(),
      })
      .strict()
      .superRefine((f, ctx) => {
        requireCertWithKey(
          f,
          ctx,
          'a client certificate needs both forward.tlsCertFile and forward.tlsKeyFile',
        );
        // gRPC calls a fixed method path; a path here is an OTLP/HTTP URL given to the wrong protocol.
        if (f.protocol === 'grpc' && f.endpoint !== '' && !/^https?:\/\/[^/]+\/?$/.test(f.endpoint))
          ctx.addIssue({
            code: 'custom',
            path: ['endpoint'],
            message:
              'an OTLP/gRPC endpoint is a scheme, host and port, without a path (e.g. http://collector:4317)',
          });
        const tlsFile = (['tlsCaFile', 'tlsCertFile', 'tlsKeyFile'] as const).find((k) => f[k] !== undefined);
        if (tlsFile !== undefined && !f.endpoint.startsWith('https://'))
          ctx.addIssue({
            code: 'custom',
            path: [tlsFile],
            message: 'TLS files need an https:// forward.endpoint',
          });
      })
      .prefault({}),
    metrics: z
      .object({
        enabled: z.boolean().default(DEFAULTS.metrics.enabled),
        maxSeriesPerMetric: positiveInt.default(DEFAULTS.metrics.maxSeriesPerMetric),
        maxStatementChars: positiveInt.min(20).default(DEFAULTS.metrics.maxStatementChars),
      })
      .strict()
      .prefault({}),
    state: z
      .object({
        /** Empty = in memory only. */
        file: z.string().default(DEFAULTS.state.file),
        saveIntervalSeconds: positiveInt.default(DEFAULTS.state.saveIntervalSeconds),
      })
      .strict()
      .prefault({}),
    shutdown: z
      .object({
        timeoutMs: positiveInt.default(DEFAULTS.shutdown.timeoutMs),
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
