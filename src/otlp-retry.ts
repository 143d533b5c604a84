/**
 * When an OTLP/HTTP client should send again, shared by the preload's exporter and the sidecar's
 * forwarder. The OTLP spec names 429, 502, 503 and 504 retryable, with Retry-After honoured.
 */

/** A Retry-After longer than this is cut short: an hour of dropped spans helps nobody. */
export const MAX_RETRY_AFTER_MS = 60_000;
const FIRST_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 30_000;

export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 502 || status === 503 || status === 504;
}

/** Retry-After as delay-seconds or an HTTP date, in milliseconds from `nowMs`; undefined when absent or invalid. */
export function parseRetryAfterMs(header: string | undefined, nowMs: number): number | undefined {
  if (header === undefined) return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

/** The pause after the n-th failure in a row without Retry-After (n ≥ 1): 1 s, doubling, at most 30 s. */
export function retryBackoffMs(consecutiveFailures: number): number {
  return Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** Math.max(0, consecutiveFailures - 1));
}

/**
 * How long to wait after a retryable answer: its Retry-After (at most MAX_RETRY_AFTER_MS), else the
 * backoff for the n-th failure in a row (`consecutiveFailures`, counting this one).
 */
export function retryDelayMs(
  retryAfter: string | string[] | undefined,
  nowMs: number,
  consecutiveFailures: number,
): number {
  const asked = parseRetryAfterMs(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, nowMs);
  return asked === undefined ? retryBackoffMs(consecutiveFailures) : Math.min(asked, MAX_RETRY_AFTER_MS);
}

/** A system error's code (ECONNREFUSED, ECONNRESET…), else the error's message. */
export function failureReason(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as NodeJS.ErrnoException).code;
  return code !== undefined && /^E[A-Z]+$/.test(code) ? code : err.message;
}
