'use strict';
/**
 * The stock OpenTelemetry setup the preload benchmark compares against: NodeSDK with every default
 * auto-instrumentation (`getNodeAutoInstrumentations()`: http, express, pg, ioredis, net, dns, …)
 * and the OTLP/HTTP protobuf trace exporter behind the default BatchSpanProcessor — what the
 * OpenTelemetry "getting started" for Node sets up.
 *
 *   node --require ./bench/stock-otel-preload.js app.js
 *
 * Env: OTEL_EXPORTER_OTLP_ENDPOINT and the other standard OTEL_* variables. Metrics and logs are
 * off (the spanstat sidecar receives traces only); cloud resource detectors are left out, as they
 * probe metadata endpoints at start and add nothing per request.
 */
const { NodeSDK } = require('@opentelemetry/sdk-node');
const { getNodeAutoInstrumentations } = require('@opentelemetry/auto-instrumentations-node');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');

// Traces only: without these the SDK would also export metrics and logs over OTLP.
process.env.OTEL_METRICS_EXPORTER ??= 'none';
process.env.OTEL_LOGS_EXPORTER ??= 'none';

const sdk = new NodeSDK({
  traceExporter: new OTLPTraceExporter(),
  instrumentations: [getNodeAutoInstrumentations()],
});
sdk.start();

const shutdown = () => {
  sdk.shutdown().catch(() => {});
};
process.once('SIGTERM', shutdown);
process.once('beforeExit', shutdown);
