/**
 * The OpenTelemetry diag logger the preload installs: one line on stderr at most once a minute
 * (by default), so a sidecar that is down for an hour costs the app's log 60 lines, not one per
 * failed batch. Only strings, numbers and error messages are printed: diag arguments can be
 * spans or requests, which may carry values that must stay in the app.
 */
import type { DiagLogger } from '@opentelemetry/api';

export const WARNING_INTERVAL_MS = 60_000;
const MAX_LINE_CHARS = 500;

export interface RateLimitedLoggerOptions {
  /** Receives one complete line, newline included. */
  write: (line: string) => void;
  /** Minimum gap between two lines; 0 prints everything (OTEL_LOG_LEVEL=debug and below). */
  intervalMs?: number;
  now?: () => number;
}

export function createRateLimitedLogger(options: RateLimitedLoggerOptions): DiagLogger {
  const intervalMs = options.intervalMs ?? WARNING_INTERVAL_MS;
  const now = options.now ?? Date.now;
  let nextAllowedAt = Number.NEGATIVE_INFINITY;
  let suppressed = 0;
  const log =
    (level: string) =>
    (message: string, ...args: unknown[]): void => {
      const at = now();
      if (at < nextAllowedAt) {
        suppressed++;
        return;
      }
      nextAllowedAt = at + intervalMs;
      let line = `spanstat preload ${level}: ${formatMessage(message, args)}`;
      if (suppressed > 0) line += ` (${suppressed} more message${suppressed === 1 ? '' : 's'} suppressed)`;
      suppressed = 0;
      try {
        options.write(`${line}\n`);
      } catch {
        // stderr closed: nothing left to tell.
      }
    };
  return {
    error: log('error'),
    warn: log('warn'),
    info: log('info'),
    debug: log('debug'),
    verbose: log('verbose'),
  };
}

export function formatMessage(message: unknown, args: readonly unknown[]): string {
  let text = typeof message === 'string' ? message : describe(message);
  for (const arg of args) {
    const part = describe(arg);
    if (part) text += ` ${part}`;
  }
  text = text.replace(/\s+/g, ' ').trim();
  return text.length > MAX_LINE_CHARS ? `${text.slice(0, MAX_LINE_CHARS)}…` : text;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return typeof code === 'string' && !value.message.includes(code)
      ? `${value.message} (${code})`
      : value.message;
  }
  return '';
}
