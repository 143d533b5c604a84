import {
  Advisor,
  aggregatorSource,
  createAdvisorDatabases,
  createIndexInspector,
  recommendationsResponse,
} from '../advise';
import { Aggregator } from '../aggregate/aggregator';
import { ApiServer } from '../api/api-server';
import { renderReportPage } from '../api/report-page';
import { NamespaceLearner } from '../cache-keys/namespace-learner';
import { NamespaceRenames } from '../cache-keys/namespace-renames';
import { SpanClassifier } from '../classify/classify-span';
import { DoubleTracing, noticeMessage } from '../classify/double-tracing';
import type { SpanstatConfig } from '../config/schema';
import { DeployTracker, deploysResponse, RUNNING_WITHIN_MS } from '../deploys';
import { type ForwardedCounts, OtlpForwarder } from '../forward';
import type { Logger } from '../log';
import { createSpanstatMetrics, recommendationSeries } from '../metrics';
import type { SpanBatch } from '../model/span';
import { Pipeline } from '../pipeline/pipeline';
import { SliceClock } from '../pipeline/slice-clock';
import type { SpanSink } from '../pipeline/span-sink';
import { OtlpGrpcReceiver } from '../receiver/otlp-grpc-receiver';
import { OtlpHttpReceiver } from '../receiver/otlp-http-receiver';
import { loadReceiverTls } from '../receiver/receiver-tls';
import type { OtlpEncoding } from '../receiver/responses';
import type { OtlpSignal, RelayedSignal, SignalRefusal } from '../receiver/signals';
import { REPORT_NAMES, ReportCache } from '../reports';
import type { ReportQuery } from '../reports/types';
import { SqlFingerprinter } from '../sql/fingerprinter';
import { StateFile } from './state-file';

const VERSION: string = require('../../package.json').version;
/** Reports are recomputed at most once a second per view (see ReportCache). */
const REPORT_CACHE_MS = 1_000;

export interface RunningSidecar {
  receiverUrl: string;
  /** host:port of the OTLP/gRPC receiver, when receiver.grpcPort is set. */
  grpcReceiverAddress: string | undefined;
  apiUrl: string;
  aggregator: Aggregator;
  advisor: Advisor | undefined;
  pipeline: Pipeline;
  receiver: OtlpHttpReceiver;
  /** Stops receiving, processes what was accepted, drains the forward queue, stops the API. Safe twice. */
  shutdown(): Promise<ShutdownSummary>;
  /** The counts shutdown() ends with, as they stand now (for a shutdown that ran out of time). */
  summary(): ShutdownSummary;
}

/** What the sidecar did over its life and what its shutdown could not deliver: the last log line. */
export interface ShutdownSummary {
  /** Spans the receivers accepted since start. */
  spansAccepted: number;
  /** Spans the pipeline processed since start (the pending queue is drained on shutdown). */
  spansProcessed: number;
  /** Spans that were pending when shutdown began (processed by it). */
  spansPendingAtStop: number;
  /** Spans the pipeline could not use since start (failed to decode or classify, invalid). */
  spansFailed: number;
  /** Spans accepted but still queued after the drain: lost on the way out (0 unless a stage broke). */
  spansUnprocessed: number;
  /**
   * With forward.endpoint: spans the upstream took, and those dropped (queue full, or left at
   * shutdown); the data points and log records of the metrics and logs relayed likewise.
   */
  forwarded?: {
    sent: number;
    dropped: number;
    droppedAtShutdown: number;
    rejected: number;
    dataPoints: ForwardedCounts;
    logRecords: ForwardedCounts;
  };
  durationMs: number;
}

/**
 * Wires the stages: receiver → pipeline (classify → aggregate ∥ assemble) → reports on the API port.
 * A failed start undoes whatever it had started.
 */
export async function startSidecar(
  config: Readonly<SpanstatConfig>,
  logger: Logger,
): Promise<RunningSidecar> {
  const now = Date.now;
  const fingerprinter = await SqlFingerprinter.create(config.sql);
  const learner = new NamespaceLearner(config.redis);
  // Records are stamped with the pipeline's slice time: one clock read per slice, not per span.
  const sliceClock = new SliceClock(now);
  const aggregator = new Aggregator(
    {
      ...config.aggregation,
      nPlusOneMinCalls: config.advisor.nPlusOne.minRepeats,
      singleReadsMinCalls: config.advisor.cache.minSingleReadsPerRequest,
    },
    now,
    sliceClock.now,
  );
  // Versions per service (service.version) and each version's own figures, for deploy markers and advice.
  const deploys = new DeployTracker({
    thresholds: config.advisor.deploy,
    relativeAccuracy: config.aggregation.relativeAccuracy,
    recordNow: sliceClock.now,
    statementOf: (service, fingerprint) => aggregator.queries.get(service, fingerprint)?.statement,
  });
  const reportSource = aggregatorSource(aggregator, config.advisor.window);
  const advisorSource = () => ({ ...reportSource(), deploys: deploys.comparisons(now()) });
  const advisor = config.advisor.enabled
    ? new Advisor(config.advisor, advisorSource, undefined, {
        logger,
        now,
        databases: createAdvisorDatabases(
          config.advisor,
          (url) => createIndexInspector(config.advisor, url),
          // The classifier's fingerprinter, so sampled statements get the spans' fingerprints.
          (text) => fingerprinter.fingerprint('postgresql', text),
          logger,
        ),
        statementSample: (fingerprint) => fingerprinter.sampleStatement(fingerprint),
      })
    : undefined;
  // The deploy history and the recommendations from the last run, before any span or scrape: the first
  // scrape shows the same recommendation series. Saved periodically and after the drain.
  const stateFile =
    config.state.file === ''
      ? undefined
      : new StateFile({
          file: config.state.file,
          intervalMs: config.state.saveIntervalSeconds * 1000,
          collect: () => ({ deploys: deploys.snapshot(now()), recommendations: advisor?.snapshot() }),
          logger,
          now,
          writtenBy: `spanstat ${VERSION}`,
        });
  const restored = stateFile?.load();
  if (restored?.deploys !== undefined) deploys.restore(restored.deploys);
  if (restored?.recommendations !== undefined) advisor?.restore(restored.recommendations);
  const renames = new NamespaceRenames();
  learner.onMerge((from, to) => {
    for (const service of aggregator.services()) aggregator.mergeNamespace(service, from, to);
    renames.add(from, to);
  });
  const metrics = config.metrics.enabled
    ? createSpanstatMetrics({
        maxSeriesPerMetric: config.metrics.maxSeriesPerMetric,
        maxStatementChars: config.metrics.maxStatementChars,
        nPlusOneMinCalls: config.advisor.nPlusOne.minRepeats,
        version: VERSION,
      })
    : undefined;
  const sinks: SpanSink[] = metrics ? [aggregator, metrics] : [aggregator];
  const pipeline = new Pipeline(
    { maxPendingSpans: config.receiver.maxPendingSpans, assembly: config.assembly, versions: deploys },
    new SpanClassifier(
      fingerprinter,
      learner,
      config.http.routes,
      config.http.graphqlOperationsPerRoute,
      config.http.trpcProceduresPerRoute,
    ),
    sinks,
    sliceClock,
    renames,
    // Once per process (or service) found sending both the preload's spans and its own SDK's.
    new DoubleTracing((notice) => logger.warn({ ...notice }, noticeMessage(notice))),
  );
  const forwarder = config.forward.endpoint === '' ? undefined : new OtlpForwarder(config.forward, logger);
  const receiverOptions = {
    host: config.receiver.host,
    port: config.receiver.port,
    maxBodyBytes: config.receiver.maxBodyBytes,
    retryAfterSeconds: config.receiver.retryAfterSeconds,
    tls: loadReceiverTls(config.receiver),
    onSpans: (spans: SpanBatch) => pipeline.enqueue(spans),
    // Trace bodies the pipeline took, and metrics and logs bodies, which spanstat only relays.
    onAccepted:
      forwarder &&
      ((body: Buffer, encoding: OtlpEncoding, items: number, signal: OtlpSignal) =>
        forwarder.forward(body, encoding, items, signal)),
    refusal: (signal: RelayedSignal): SignalRefusal | undefined =>
      forwarder === undefined ? 'no-forward' : forwarder.relays(signal) ? undefined : 'no-url',
    isOverloaded: () => pipeline.isOverloaded(),
    logger,
  };
  const receiver = new OtlpHttpReceiver(receiverOptions);
  const grpcPort = config.receiver.grpcPort;
  const grpcReceiver =
    grpcPort === undefined
      ? undefined
      : new OtlpGrpcReceiver({ ...receiverOptions, port: grpcPort }, receiver.stats);
  const startedAt = now();
  const reportCache = new ReportCache(aggregator, REPORT_CACHE_MS, now);
  const reports: Record<string, (query: ReportQuery) => unknown> = {};
  for (const name of REPORT_NAMES) reports[name] = (query) => reportCache.get(name, query);
  const api = new ApiServer(
    { ...config.api, reportCacheMs: REPORT_CACHE_MS },
    {
      health: () => ({
        status: 'ok',
        mode: config.mode,
        uptimeSeconds: Math.round((now() - startedAt) / 1000),
        receiver: receiver.stats,
        pipeline: pipeline.stats,
        assembler: pipeline.assembler.stats,
        sql: fingerprinter.stats(),
        services: aggregator.services(),
        // Spans the apps' preloads lost before sending: the reports miss them.
        sendersLostSpans: Object.fromEntries(aggregator.senderLoss.byService()),
        // Processes traced by the preload and the app's own SDK at once: the SDK's copies set aside.
        doubleTraced: pipeline.doubleTracing.byService(),
        ...(forwarder ? { forward: forwarder.stats } : {}),
        ...(stateFile ? { state: stateFile.stats } : {}),
      }),
      reports,
      recommendations: advisor ? (params) => recommendationsResponse(advisor, params) : undefined,
      deploys: (params) => deploysResponse(deploys, params, now()),
      metrics: metrics ? () => metrics.scrape() : undefined,
      page: renderReportPage,
    },
    logger,
  );

  metrics?.setHealth(() => ({
    spansReceived: receiver.stats.spansAccepted,
    spansRejected: receiver.stats.spansRefused,
    requestsRefused: {
      overloaded: receiver.stats.overloaded,
      too_large: receiver.stats.tooLarge,
      unsupported_media: receiver.stats.unsupportedMedia,
    },
    spansDropped:
      pipeline.stats.spansFailed + pipeline.stats.spansInvalid + pipeline.assembler.stats.spansOverTraceCap,
    decodeErrors: receiver.stats.decodeErrors,
    queueDepth: pipeline.stats.pendingSpans,
    openTraces: pipeline.assembler.stats.openTraces,
    forwardedSpans: forwarder?.counts('traces'),
    forwardedDataPoints: forwarder?.counts('metrics'),
    forwardedLogRecords: forwarder?.counts('logs'),
  }));
  metrics?.setPreloadSpansLost(() => aggregator.lostSpansByService());
  metrics?.setDoubleTracedSpans(() => pipeline.doubleTracing.spansSetAside());
  metrics?.setServiceVersions(() => deploys.runningVersions(now(), RUNNING_WITHIN_MS));
  if (advisor) {
    metrics?.setRecommendations(() => recommendationSeries(advisor.list({ state: 'active' })));
    metrics?.setLockActivity(() => advisor.status().lockSampling);
  }
  pipeline.start();
  let receiverAddress: { host: string; port: number };
  let grpcAddress: { host: string; port: number } | undefined;
  let apiAddress: { host: string; port: number };
  try {
    receiverAddress = await receiver.start();
    grpcAddress = await grpcReceiver?.start();
    apiAddress = await api.start();
    // The first evaluation may wait on the advisor's read-only Postgres look-ups; serve meanwhile.
    advisor?.start().catch((err: Error) => logger.error({ err: err.message }, 'advisor failed to start'));
  } catch (err) {
    await receiver.shutdown();
    await grpcReceiver?.shutdown();
    await api.shutdown();
    await pipeline.shutdown();
    await forwarder?.shutdown();
    await advisor?.shutdown();
    await metrics?.shutdown();
    throw err;
  }
  stateFile?.start();
  const receiverUrl = `${receiverOptions.tls ? 'https' : 'http'}://${receiverAddress.host}:${receiverAddress.port}`;
  const apiUrl = `http://${apiAddress.host}:${apiAddress.port}`;
  const grpcReceiverAddress = grpcAddress && `${grpcAddress.host}:${grpcAddress.port}`;
  logger.info(
    {
      receiver: `${receiverUrl}/v1/traces`,
      grpcReceiver: grpcReceiverAddress,
      api: apiUrl,
      mode: config.mode,
      forwardTo: forwarder?.origin,
      // What the receivers take: traces always, metrics and logs only to relay them.
      signals: (['traces', 'metrics', 'logs'] as const).filter((s) => s === 'traces' || forwarder?.relays(s)),
    },
    'spanstat sidecar ready',
  );

  let stopped: Promise<ShutdownSummary> | undefined;
  let began = 0;
  let pendingAtStop = 0;
  let droppedBefore = 0;
  const summary = (): ShutdownSummary => {
    const p = pipeline.stats;
    return {
      spansAccepted: receiver.stats.spansAccepted,
      spansProcessed: p.spansProcessed,
      spansPendingAtStop: pendingAtStop,
      spansFailed: p.spansFailed + p.spansInvalid,
      spansUnprocessed: p.pendingSpans,
      forwarded: forwarder && {
        ...forwarder.counts('traces'),
        droppedAtShutdown: forwarder.stats.spansDropped - droppedBefore,
        // Metrics and logs relayed: dropped only at shutdown (a full queue refuses them to their sender).
        dataPoints: forwarder.counts('metrics'),
        logRecords: forwarder.counts('logs'),
      },
      durationMs: now() - began,
    };
  };
  const shutdown = () => {
    stopped ??= (async () => {
      began = now();
      pendingAtStop = pipeline.stats.pendingSpans;
      droppedBefore = forwarder?.stats.spansDropped ?? 0;
      // The advisor stops alongside: an evaluation in progress (Postgres look-ups) overlaps the drain.
      const advisorStopped = advisor?.shutdown();
      // Receivers first: bodies in flight finish (and are queued) before the queues drain.
      await Promise.all([receiver.shutdown(), grpcReceiver?.shutdown()]);
      await Promise.all([pipeline.shutdown(), forwarder?.shutdown()]);
      // Every accepted span is counted now: the saved history includes the app's last requests.
      await stateFile?.shutdown();
      await advisorStopped;
      await api.shutdown();
      await metrics?.shutdown();
      return summary();
    })();
    return stopped;
  };
  return {
    receiverUrl,
    grpcReceiverAddress,
    apiUrl,
    aggregator,
    advisor,
    pipeline,
    receiver,
    shutdown,
    summary,
  };
}
