/**
 * The preload's own context manager and trace-context propagator, never registered with the
 * OpenTelemetry API. An app with its own OpenTelemetry SDK registers the global tracer provider,
 * context manager and propagator after the preload has run, and the API keeps the first
 * registration of each and refuses the rest: had the preload taken them, the app's own tracing
 * would export nothing. Kept private, the two stay apart — the app's SDK sees none of spanstat's
 * spans, and spanstat none of the app's.
 */
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';

/** `context.active()` / `context.with()` for the preload's instrumentations; enabled by startPreload. */
export const preloadContext = new AsyncLocalStorageContextManager();

/** Reads an incoming `traceparent` (http-server.ts) when OTEL_PROPAGATORS allows. */
export const traceContextPropagator = new W3CTraceContextPropagator();
