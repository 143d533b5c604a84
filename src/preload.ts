/**
 * spanstat preload: `node --require spanstat/preload app.js` instruments the app's own http
 * server + Express/Fastify/Koa routes and GraphQL operations, pg/pg-pool, ioredis and node-redis (`redis`), and exports spans to
 * `spanstat sidecar` over OTLP/HTTP. It never throws into the app: a failure to start is logged once and the app runs
 * uninstrumented.
 *
 * Environment (standard OpenTelemetry names first):
 *   OTEL_SDK_DISABLED=true                 do nothing at all (nothing is loaded or patched)
 *   OTEL_SERVICE_NAME                      service.name; default: `name` in the app's package.json,
 *                                          else the main script's file name
 *   OTEL_RESOURCE_ATTRIBUTES               extra resource attributes, `k=v,k2=v2`
 *   OTEL_EXPORTER_OTLP_ENDPOINT            default http://127.0.0.1:4318; traces go to <endpoint>/v1/traces
 *   OTEL_EXPORTER_OTLP_TRACES_ENDPOINT     full traces URL, used as-is (wins over the above)
 *   OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL   http/protobuf (default) or http/json; grpc is not supported
 *   OTEL_EXPORTER_OTLP_[TRACES_]HEADERS    extra request headers, `k=v,k2=v2`
 *   OTEL_EXPORTER_OTLP_[TRACES_]COMPRESSION  gzip or none (default none: loopback, save the app's CPU)
 *   OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT    one export's deadline in ms (default 10000)
 *   OTEL_EXPORTER_OTLP_[TRACES_]CERTIFICATE  PEM CA to trust (besides Node's) for an https endpoint
 *   OTEL_EXPORTER_OTLP_[TRACES_]CLIENT_CERTIFICATE, _CLIENT_KEY  PEM client certificate and key (mutual TLS)
 *   OTEL_BSP_MAX_QUEUE_SIZE                spans held for export, more are dropped (default 2048)
 *   OTEL_BSP_MAX_EXPORT_BATCH_SIZE         spans per export request (default 512)
 *   OTEL_BSP_SCHEDULE_DELAY                longest wait before a partial batch is sent, ms (default 5000)
 *   OTEL_BSP_EXPORT_TIMEOUT                caps the export deadline as well, ms
 *   OTEL_PROPAGATORS                       `tracecontext` (default) continues incoming W3C traces; `none` ignores them
 *   OTEL_LOG_LEVEL                         preload diagnostics on stderr (default warn, at most one line a minute;
 *                                          debug and below print everything)
 *   OTEL_NODE_ENABLED_INSTRUMENTATIONS     comma list among http, express, fastify, koa, hapi, hono, restify, next, graphql, trpc, pg, postgres, ioredis, redis (default all)
 *   OTEL_NODE_DISABLED_INSTRUMENTATIONS    comma list to leave out
 *   OTEL_TRACES_SAMPLER                    ignored: the sidecar's statistics need every span
 * spanstat-only (OpenTelemetry has no name for these):
 *   SPANSTAT_POOL_CONNECT_SPANS            true (default) / false: `pg-pool.connect` spans with
 *                                          spanstat.pool.max / spanstat.pool.in_use for pool-saturation advice,
 *                                          for checkouts that waited (no idle client was free) only, and the
 *                                          pools' usage samples; postgres.js's `postgres.pool.wait` / `.usage` alike
 */
import { isMainThread } from 'node:worker_threads';
import { HOOKS_THREAD_ENV } from './preload/esm-patches';
import { isSdkDisabled, readPreloadSettings } from './preload/settings';
import type * as Start from './preload/start';

function main(): void {
  if (isSdkDisabled(process.env)) return;
  // The module loader's own thread (preload/esm-patches.ts) serves no request: nothing to trace there.
  if (process.env[HOOKS_THREAD_ENV] === '1' && !isMainThread) return;
  const state = globalThis as { __spanstatPreload?: unknown };
  // Required twice (e.g. `--require` plus NODE_OPTIONS): the second load must not patch again.
  if (state.__spanstatPreload) return;
  try {
    // Loaded only now, so OTEL_SDK_DISABLED=true loads (and patches) nothing.
    const { startPreload } = require('./preload/start') as typeof Start;
    state.__spanstatPreload = startPreload(readPreloadSettings(process.env));
  } catch (err) {
    state.__spanstatPreload = 'failed';
    const reason = err instanceof Error ? err.message : String(err);
    try {
      process.stderr.write(`spanstat preload: not started, the app runs uninstrumented: ${reason}\n`);
    } catch {
      // stderr unavailable: stay silent rather than break the app.
    }
  }
}

main();
