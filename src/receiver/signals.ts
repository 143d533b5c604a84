/**
 * The three OTLP signals as the receivers and the forwarder tell them apart: where each arrives
 * (OTLP/HTTP path, OTLP/gRPC method), what its bodies are counted in, and why metrics and logs are
 * refused when spanstat does not relay them. spanstat reads traces only; metrics and logs are
 * accepted only to be relayed as received (config `forward`), never decoded beyond the receipt-time
 * check (check-signals.ts).
 */

export type OtlpSignal = 'traces' | 'metrics' | 'logs';
/** The signals spanstat only relays. */
export type RelayedSignal = Exclude<OtlpSignal, 'traces'>;

export interface SignalInfo {
  /** OTLP/HTTP path, as the OTLP spec names it (an SDK adds it to OTEL_EXPORTER_OTLP_ENDPOINT). */
  readonly httpPath: string;
  /** OTLP/gRPC method path: the collector service's Export. */
  readonly grpcPath: string;
  /** What a body of this signal is counted in (partial_success counts the same unit). */
  readonly items: string;
}

export const SIGNALS: Readonly<Record<OtlpSignal, SignalInfo>> = {
  traces: {
    httpPath: '/v1/traces',
    grpcPath: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
    items: 'spans',
  },
  metrics: {
    httpPath: '/v1/metrics',
    grpcPath: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
    items: 'data points',
  },
  logs: {
    httpPath: '/v1/logs',
    grpcPath: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
    items: 'log records',
  },
};

export const RELAYED_SIGNALS: readonly RelayedSignal[] = ['metrics', 'logs'];

/** The signal an OTLP/HTTP path (without its query) carries, or undefined for any other path. */
export function signalOfPath(path: string): OtlpSignal | undefined {
  if (path === SIGNALS.traces.httpPath) return 'traces';
  if (path === SIGNALS.metrics.httpPath) return 'metrics';
  if (path === SIGNALS.logs.httpPath) return 'logs';
  return undefined;
}

/**
 * Why spanstat does not take a metrics or logs export: `no-forward` when forward.endpoint is unset,
 * `no-url` when it is an OTLP/HTTP URL whose path does not end in /v1/traces (the other signals'
 * URLs are that one with the last segment swapped, and spanstat will not guess another).
 */
export type SignalRefusal = 'no-forward' | 'no-url';

const EXPORTER_VARIABLE: Record<RelayedSignal, string> = {
  metrics: 'OTEL_METRICS_EXPORTER',
  logs: 'OTEL_LOGS_EXPORTER',
};

/**
 * The answer's message (HTTP 404 body, gRPC UNIMPLEMENTED details): why, and the fixes. Names no
 * URL, as a forward.endpoint may carry a token in its path.
 */
export function refusalMessage(signal: RelayedSignal, why: SignalRefusal): string {
  const cause =
    why === 'no-forward'
      ? `spanstat reads OTLP traces only and relays ${signal} only when forwarding, and forward.endpoint is not set`
      : `spanstat reads OTLP traces only and relays ${signal} to forward.endpoint with its /v1/traces replaced by ${SIGNALS[signal].httpPath}, and forward.endpoint's path does not end in /v1/traces`;
  const relay =
    why === 'no-forward'
      ? `set forward.endpoint to your collector to have spanstat relay them`
      : `give forward.endpoint as the collector's …/v1/traces URL (or use forward.protocol grpc) to have spanstat relay them`;
  return (
    `${cause}: send ${signal} to your collector (OTEL_EXPORTER_OTLP_ENDPOINT at the collector, ` +
    `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT at spanstat), ${relay}, or set ${EXPORTER_VARIABLE[signal]}=none`
  );
}
