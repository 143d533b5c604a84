/**
 * Assembles the preload's tracing: a lean tracer provider (lean-tracer.ts; always-on sampling:
 * the sidecar's statistics need every request), the bounded batch processor and OTLP exporter, and
 * its instrumentations — our http server spans (http-server.ts), our Express, Fastify, Koa, hapi, Hono, Restify and Next.js route capture and
 * GraphQL operation names (graphql-operation.ts), our pg
 * query spans (pg-query.ts) and waited pool-connect spans, and ioredis and node-redis (hit/miss, TTL, keys-only statements). NodeSDK is not used: it loads every
 * exporter and detector at startup and patches disabled instrumentations anyway (DESIGN.md).
 * It registers none of the OpenTelemetry API's globals and shares no require hook (preload-context.ts,
 * module-hooks.ts): an app's own OpenTelemetry SDK keeps working beside it.
 */

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { DiagLogLevel, diag, ROOT_CONTEXT } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { BoundedBatchSpanProcessor } from './batch-processor';
import { createRateLimitedLogger } from './diag-logger';
import { installEsmHooks } from './esm-patches';
import { installExitHooks } from './exit-hooks';
import { readExportTls } from './export-tls';
import { ExpressRouteInstrumentation } from './express-route';
import { FastifyRouteInstrumentation } from './fastify-route';
import { GraphqlOperationInstrumentation } from './graphql-operation';
import { HapiRouteInstrumentation } from './hapi-route';
import { HonoRouteInstrumentation } from './hono-route';
import { HttpServerInstrumentation } from './http-server';
import { IORedisCommandInstrumentation } from './ioredis-command';
import { createJobRunner, JOBS_KEY } from './job-root';
import { KoaRouteInstrumentation } from './koa-route';
import { LeanTracerProvider } from './lean-tracer';
import type { LostSpans } from './lost-spans';
import type { PreloadInstrumentation } from './module-hooks';
import { NextRouteInstrumentation } from './next-route';
import { NodeRedisCommandInstrumentation } from './node-redis-command';
import { OtlpHttpExporter } from './otlp-exporter';
import { PgPoolConnectInstrumentation } from './pg-pool-connect';
import { PgQueryInstrumentation } from './pg-query';
import { PostgresJsQueryInstrumentation } from './postgres-js-query';
import { preloadContext } from './preload-context';
import { RestifyRouteInstrumentation } from './restify-route';
import { detectServiceName, detectServiceVersion } from './service-name';
import type { LogLevelName, PreloadSettings } from './settings';
import { TrpcProcedureInstrumentation } from './trpc-procedure';

/** Longest a signal's or the exit's flush may hold the process (ms). */
export const EXIT_FLUSH_TIMEOUT_MS = 1_000;

export interface PreloadHandle {
  readonly serviceName: string;
  readonly processor: BoundedBatchSpanProcessor;
  readonly exporter: OtlpHttpExporter;
  /** Exports everything queued now. */
  flush(): Promise<void>;
  /** Flushes, unpatches and removes the exit hooks (tests; apps never need it). */
  shutdown(): Promise<void>;
}

const LOG_LEVELS: Record<LogLevelName, DiagLogLevel> = {
  none: DiagLogLevel.NONE,
  error: DiagLogLevel.ERROR,
  warn: DiagLogLevel.WARN,
  info: DiagLogLevel.INFO,
  debug: DiagLogLevel.DEBUG,
  verbose: DiagLogLevel.VERBOSE,
  all: DiagLogLevel.ALL,
};

export function startPreload(settings: PreloadSettings): PreloadHandle {
  const level = LOG_LEVELS[settings.logLevel];
  diag.setLogger(
    createRateLimitedLogger({
      write: (line) => process.stderr.write(line),
      // Someone who asked for debug output wants all of it.
      intervalMs: level >= DiagLogLevel.DEBUG ? 0 : undefined,
    }),
    { logLevel: level, suppressOverrideMessage: true },
  );
  const problems = [...settings.problems];
  const exportTls = readExportTls(settings.tlsFiles, problems);
  if (problems.length > 0) diag.warn(problems.join('; '));

  // Private, not the API's globals: an app's own OpenTelemetry SDK registers those (preload-context.ts).
  preloadContext.enable();

  const serviceName = settings.serviceName ?? detectServiceName(process.argv[1], process.cwd());
  // OTEL_RESOURCE_ATTRIBUTES' service.version wins (an empty one sends none); else the app's package.json's.
  const version =
    settings.resourceAttributes['service.version'] ?? detectServiceVersion(process.argv[1], process.cwd());
  const resource = defaultResource().merge(
    resourceFromAttributes({
      ...(version ? { 'service.version': version } : {}),
      ...settings.resourceAttributes,
      'service.name': serviceName,
      'telemetry.distro.name': 'spanstat',
      'process.pid': process.pid,
      'host.name': hostname(),
    }),
  );

  const exporter = new OtlpHttpExporter({
    url: settings.tracesUrl,
    headers: settings.headers,
    protocol: settings.protocol,
    gzip: settings.gzip,
    timeoutMs: settings.exportTimeoutMs,
    tls: exportTls,
  });
  const processor = new BoundedBatchSpanProcessor(exporter, settings.batch, suppressTracing(ROOT_CONTEXT));
  // Always-on sampling: the sidecar's statistics need every span (see lean-tracer.ts).
  const provider = new LeanTracerProvider(resource, processor);

  // Carried by SERVER spans and job roots alike, so a worker without an HTTP server reports it too.
  const lostSpans: LostSpans = {
    count: () => processor.droppedSpans + processor.unencodableSpans + exporter.droppedSpans,
    instance: randomUUID(),
  };
  let httpServer: HttpServerInstrumentation | undefined;
  if (settings.instrumentations.http) {
    httpServer = new HttpServerInstrumentation({
      propagate: settings.propagateTraceContext,
      captureRoutes:
        settings.instrumentations.express ||
        settings.instrumentations.fastify ||
        settings.instrumentations.koa ||
        settings.instrumentations.hapi ||
        settings.instrumentations.hono ||
        settings.instrumentations.restify ||
        settings.instrumentations.next,
      lostSpans,
    });
    httpServer.setTracer(provider.getTracer('spanstat-http-server', '1.0.0'));
    httpServer.enable();
  }
  // Fastify instances announce themselves on a diagnostics channel: no require hook (fastify-route.ts).
  let fastifyRoutes: FastifyRouteInstrumentation | undefined;
  if (settings.instrumentations.http && settings.instrumentations.fastify) {
    fastifyRoutes = new FastifyRouteInstrumentation();
    fastifyRoutes.enable();
  }
  const instrumentations = createInstrumentations(settings);
  // The ES builds of the packages whose `import` skips the require hooks (esm-patches.ts).
  installEsmHooks();
  for (const instrumentation of instrumentations) instrumentation.setTracerProvider(provider);
  // For `runJob` (src/job.ts), in whichever copy of spanstat the app requires.
  const jobRunner = createJobRunner(provider.getTracer('spanstat-job', '1.0.0'), lostSpans);
  const globals = globalThis as Record<symbol, unknown>;
  globals[JOBS_KEY] = jobRunner;

  const flush = () => processor.forceFlush();
  const removeExitHooks = installExitHooks(
    { flush, flushOnExit: (timeoutMs) => processor.flushOnExit(timeoutMs) },
    { timeoutMs: EXIT_FLUSH_TIMEOUT_MS },
  );
  return {
    serviceName,
    processor,
    exporter,
    flush,
    async shutdown() {
      removeExitHooks();
      if (globals[JOBS_KEY] === jobRunner) delete globals[JOBS_KEY];
      httpServer?.disable();
      fastifyRoutes?.disable();
      for (const instrumentation of instrumentations) instrumentation.disable();
      await processor.shutdown();
      preloadContext.disable();
    },
  };
}

/** Instrumentations enable (hook `require`) as they are constructed, so only wanted ones are built. */
function createInstrumentations(settings: PreloadSettings): PreloadInstrumentation[] {
  const enabled = settings.instrumentations;
  const list: PreloadInstrumentation[] = [];
  // The http server patch (http-server.ts) hooks no require; startPreload adds it.
  if (enabled.http && enabled.express) list.push(new ExpressRouteInstrumentation());
  // @koa/router's matched route, and Koa requests no route took as (middleware) (koa-route.ts).
  if (enabled.http && enabled.koa) list.push(new KoaRouteInstrumentation());
  // hapi's route path, from an onPreResponse extension on each server (hapi-route.ts).
  if (enabled.http && enabled.hapi) list.push(new HapiRouteInstrumentation());
  // Hono's matched route, from the Context its dispatch builds for each request (hono-route.ts).
  if (enabled.http && enabled.hono) list.push(new HonoRouteInstrumentation());
  // Restify's matched route, copied as its router looks it up (restify-route.ts).
  if (enabled.http && enabled.restify) list.push(new RestifyRouteInstrumentation());
  // Next.js's route template, from the route Next notes on its own tracer (next-route.ts).
  if (enabled.http && enabled.next) list.push(new NextRouteInstrumentation());
  // The GraphQL operation each request executed, on its SERVER span (graphql-operation.ts).
  if (enabled.http && enabled.graphql) list.push(new GraphqlOperationInstrumentation());
  // The tRPC procedures each request called, on its SERVER span (trpc-procedure.ts).
  if (enabled.http && enabled.trpc) list.push(new TrpcProcedureInstrumentation());
  if (enabled.pg) {
    list.push(new PgQueryInstrumentation());
    if (settings.poolConnectSpans) list.push(new PgPoolConnectInstrumentation());
  }
  // postgres.js (the `postgres` package) queries, as pg's, and its instances' pools (postgres-js-query.ts).
  if (enabled.postgres)
    list.push(new PostgresJsQueryInstrumentation({ poolSpans: settings.poolConnectSpans }));
  // Keys with their argument positions, no values, and hit/miss/TTL marks (ioredis-command.ts).
  if (enabled.ioredis) list.push(new IORedisCommandInstrumentation());
  // The same span shape for node-redis (`redis` 4.6–6) commands (node-redis-command.ts).
  if (enabled.redis) list.push(new NodeRedisCommandInstrumentation());
  return list;
}
