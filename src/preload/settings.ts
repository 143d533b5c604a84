/**
 * Preload settings from environment variables (documented in src/preload.ts). Pure: takes the
 * environment as an argument, never throws; a bad value falls back to its default and adds a line
 * to `problems`, which the preload logs once.
 */
import { parseKeyValues } from '../key-values';

export type ExportProtocol = 'http/protobuf' | 'http/json';
export type InstrumentationName =
  | 'http'
  | 'express'
  | 'fastify'
  | 'koa'
  | 'hapi'
  | 'hono'
  | 'restify'
  | 'next'
  | 'graphql'
  | 'trpc'
  | 'pg'
  | 'postgres'
  | 'ioredis'
  | 'redis';
export type LogLevelName = 'none' | 'error' | 'warn' | 'info' | 'debug' | 'verbose' | 'all';

export interface PreloadSettings {
  /** OTEL_SERVICE_NAME; undefined → detected from the app (see detectServiceName). */
  serviceName: string | undefined;
  /** OTEL_RESOURCE_ATTRIBUTES, decoded. */
  resourceAttributes: Record<string, string>;
  /** Full URL traces are POSTed to. */
  tracesUrl: string;
  headers: Record<string, string>;
  protocol: ExportProtocol;
  gzip: boolean;
  /** One export request's deadline (ms). */
  exportTimeoutMs: number;
  /**
   * PEM files for an https endpoint (OTEL_EXPORTER_OTLP_[TRACES_]CERTIFICATE, _CLIENT_CERTIFICATE,
   * _CLIENT_KEY): a CA to trust besides Node's, and a client certificate for mutual TLS. Read by
   * start.ts (export-tls.ts), so this module stays free of I/O.
   */
  tlsFiles: { caFile?: string; clientCertFile?: string; clientKeyFile?: string };
  batch: {
    /** Spans waiting for export; more are dropped (bounded memory when the sidecar is down). */
    maxQueueSize: number;
    maxExportBatchSize: number;
    /** Longest wait before a partial batch is sent (ms). */
    scheduledDelayMs: number;
  };
  /** OTEL_PROPAGATORS: continue incoming W3C traces (`tracecontext`) or not (`none`). */
  propagateTraceContext: boolean;
  logLevel: LogLevelName;
  instrumentations: Record<InstrumentationName, boolean>;
  /** SPANSTAT_POOL_CONNECT_SPANS. */
  poolConnectSpans: boolean;
  problems: string[];
}

export const PRELOAD_DEFAULTS = {
  endpoint: 'http://127.0.0.1:4318',
  /** OTEL_EXPORTER_OTLP_TIMEOUT default (ms). */
  exportTimeoutMs: 10_000,
  /** OTEL_BSP_* defaults from the OpenTelemetry specification. */
  maxQueueSize: 2048,
  maxExportBatchSize: 512,
  scheduledDelayMs: 5000,
} as const;

type Env = Record<string, string | undefined>;

/** True when OTEL_SDK_DISABLED asks for no instrumentation at all. */
export function isSdkDisabled(env: Env): boolean {
  return env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true';
}

export function readPreloadSettings(env: Env): PreloadSettings {
  const problems: string[] = [];
  const text = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value ? value : undefined;
  };
  const positiveInt = (name: string, fallback: number): number => {
    const raw = text(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (Number.isInteger(value) && value > 0) return value;
    problems.push(`${name}=${raw} is not a positive integer; using ${fallback}`);
    return fallback;
  };

  const tracesUrl = tracesEndpoint(
    text('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'),
    text('OTEL_EXPORTER_OTLP_ENDPOINT'),
    problems,
  );

  const protocolRaw = text('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ?? text('OTEL_EXPORTER_OTLP_PROTOCOL');
  let protocol: ExportProtocol = 'http/protobuf';
  if (protocolRaw === 'http/json') protocol = 'http/json';
  else if (protocolRaw !== undefined && protocolRaw !== 'http/protobuf') {
    problems.push(
      `OTEL_EXPORTER_OTLP_PROTOCOL=${protocolRaw} is not supported by the preload; using http/protobuf`,
    );
  }

  const compression = (
    text('OTEL_EXPORTER_OTLP_TRACES_COMPRESSION') ?? text('OTEL_EXPORTER_OTLP_COMPRESSION')
  )?.toLowerCase();
  if (compression !== undefined && compression !== 'gzip' && compression !== 'none') {
    problems.push(`OTEL_EXPORTER_OTLP_COMPRESSION=${compression} is not supported; sending uncompressed`);
  }

  const headers = {
    ...parseKeyValues(text('OTEL_EXPORTER_OTLP_HEADERS'), 'OTEL_EXPORTER_OTLP_HEADERS', problems),
    ...parseKeyValues(
      text('OTEL_EXPORTER_OTLP_TRACES_HEADERS'),
      'OTEL_EXPORTER_OTLP_TRACES_HEADERS',
      problems,
    ),
  };

  const exportTimeoutMs = positiveInt(
    env.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT?.trim()
      ? 'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT'
      : 'OTEL_EXPORTER_OTLP_TIMEOUT',
    PRELOAD_DEFAULTS.exportTimeoutMs,
  );
  // OTEL_BSP_EXPORT_TIMEOUT bounds the same export; the shorter of the two wins.
  const bspTimeout = positiveInt('OTEL_BSP_EXPORT_TIMEOUT', Number.MAX_SAFE_INTEGER);

  const maxQueueSize = positiveInt('OTEL_BSP_MAX_QUEUE_SIZE', PRELOAD_DEFAULTS.maxQueueSize);
  let maxExportBatchSize = positiveInt('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', PRELOAD_DEFAULTS.maxExportBatchSize);
  if (maxExportBatchSize > maxQueueSize) {
    problems.push(`OTEL_BSP_MAX_EXPORT_BATCH_SIZE is above OTEL_BSP_MAX_QUEUE_SIZE; using ${maxQueueSize}`);
    maxExportBatchSize = maxQueueSize;
  }

  const traceOrAll = (suffix: string) =>
    text(`OTEL_EXPORTER_OTLP_TRACES_${suffix}`) ?? text(`OTEL_EXPORTER_OTLP_${suffix}`);
  const tlsFiles = {
    caFile: traceOrAll('CERTIFICATE'),
    clientCertFile: traceOrAll('CLIENT_CERTIFICATE'),
    clientKeyFile: traceOrAll('CLIENT_KEY'),
  };
  if ((tlsFiles.clientCertFile === undefined) !== (tlsFiles.clientKeyFile === undefined)) {
    problems.push(
      'OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY go together; sending no client certificate',
    );
    tlsFiles.clientCertFile = undefined;
    tlsFiles.clientKeyFile = undefined;
  }

  const propagators = (text('OTEL_PROPAGATORS') ?? 'tracecontext').toLowerCase().split(',');
  const propagateTraceContext = propagators.some((p) => p.trim() === 'tracecontext');

  return {
    serviceName: text('OTEL_SERVICE_NAME'),
    resourceAttributes: parseKeyValues(
      text('OTEL_RESOURCE_ATTRIBUTES'),
      'OTEL_RESOURCE_ATTRIBUTES',
      problems,
    ),
    tracesUrl,
    headers,
    protocol,
    gzip: compression === 'gzip',
    exportTimeoutMs: Math.min(exportTimeoutMs, bspTimeout),
    tlsFiles,
    batch: {
      maxQueueSize,
      maxExportBatchSize,
      scheduledDelayMs: positiveInt('OTEL_BSP_SCHEDULE_DELAY', PRELOAD_DEFAULTS.scheduledDelayMs),
    },
    propagateTraceContext,
    logLevel: logLevel(text('OTEL_LOG_LEVEL'), problems),
    instrumentations: enabledInstrumentations(
      text('OTEL_NODE_ENABLED_INSTRUMENTATIONS'),
      text('OTEL_NODE_DISABLED_INSTRUMENTATIONS'),
    ),
    poolConnectSpans: flag(
      text('SPANSTAT_POOL_CONNECT_SPANS'),
      'SPANSTAT_POOL_CONNECT_SPANS',
      true,
      problems,
    ),
    problems,
  };
}

/** The traces URL: the signal-specific variable as-is, else `<endpoint>/v1/traces`. */
function tracesEndpoint(
  specific: string | undefined,
  general: string | undefined,
  problems: string[],
): string {
  if (specific !== undefined) {
    if (isHttpUrl(specific)) return specific;
    problems.push(`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=${specific} is not an http(s) URL; ignoring it`);
  }
  let base: string = PRELOAD_DEFAULTS.endpoint;
  if (general !== undefined) {
    if (isHttpUrl(general)) base = general;
    else problems.push(`OTEL_EXPORTER_OTLP_ENDPOINT=${general} is not an http(s) URL; using ${base}`);
  }
  return `${base.endsWith('/') ? base.slice(0, -1) : base}/v1/traces`;
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

function logLevel(raw: string | undefined, problems: string[]): LogLevelName {
  if (raw === undefined) return 'warn';
  const level = raw.toLowerCase();
  const known: LogLevelName[] = ['none', 'error', 'warn', 'info', 'debug', 'verbose', 'all'];
  if ((known as string[]).includes(level)) return level as LogLevelName;
  problems.push(`OTEL_LOG_LEVEL=${raw} is not a level (${known.join(', ')}); using warn`);
  return 'warn';
}

/** `redis` is node-redis (`redis` v5/v6), as the auto-instrumentations package names it. */
const ALL_INSTRUMENTATIONS: InstrumentationName[] = [
  'http',
  'express',
  'fastify',
  'koa',
  'hapi',
  'hono',
  'restify',
  'next',
  'graphql',
  'trpc',
  'pg',
  'postgres',
  'ioredis',
  'redis',
];

/** OTEL_NODE_ENABLED/DISABLED_INSTRUMENTATIONS as the auto-instrumentations package reads them. */
function enabledInstrumentations(
  enabledRaw: string | undefined,
  disabledRaw: string | undefined,
): Record<InstrumentationName, boolean> {
  const list = (raw: string | undefined) =>
    new Set(
      (raw ?? '')
        .split(',')
        .map((s) => s.trim().toLowerCase())
        .filter(Boolean),
    );
  const enabled = list(enabledRaw);
  const disabled = list(disabledRaw);
  const out = {} as Record<InstrumentationName, boolean>;
  for (const name of ALL_INSTRUMENTATIONS) {
    out[name] = (enabled.size === 0 || enabled.has(name)) && !disabled.has(name);
  }
  return out;
}

function flag(raw: string | undefined, name: string, fallback: boolean, problems: string[]): boolean {
  if (raw === undefined) return fallback;
  const value = raw.toLowerCase();
  if (value === 'true' || value === '1' || value === 'on') return true;
  if (value === 'false' || value === '0' || value === 'off') return false;
  problems.push(`${name}=${raw} is not true/false; using ${fallback}`);
  return fallback;
}
