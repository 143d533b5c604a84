/**
 * Every error spanstat reports, with a stable code. Codes are never reused or renumbered;
 * test/unit/errors.test.ts pins the list.
 */
export const ERROR_CODES = {
  SPANSTAT_ERR_CONFIG_READ: 'cannot read the config file',
  SPANSTAT_ERR_CONFIG_YAML: 'the config file is not valid YAML',
  SPANSTAT_ERR_CONFIG_INVALID: 'a config field has an invalid value',
  SPANSTAT_ERR_ENV_INVALID: 'a SPANSTAT_* environment variable names no setting',
  SPANSTAT_ERR_OTLP_DECODE: 'the OTLP body could not be decoded',
  SPANSTAT_ERR_OTLP_CONTENT_TYPE: 'the OTLP body has an unsupported content type',
  SPANSTAT_ERR_OTLP_TOO_LARGE: 'the OTLP body is larger than receiver.maxBodyBytes',
  SPANSTAT_ERR_OTLP_ENCODING: 'the OTLP body has an unsupported content encoding',
  SPANSTAT_ERR_OVERLOADED: 'the sidecar is over receiver.maxPendingSpans; retry later',
  SPANSTAT_ERR_API_BAD_PARAM: 'a report API query parameter is invalid',
  SPANSTAT_ERR_SIDECAR_UNREACHABLE: 'the sidecar API could not be reached',
  SPANSTAT_ERR_LISTEN: 'a port could not be bound',
  SPANSTAT_ERR_TLS: 'the receiver TLS certificate, key or client CA cannot be used',
  SPANSTAT_ERR_API_NOT_FOUND: 'the API has no such path',
  SPANSTAT_ERR_API_METHOD: 'the API answers GET and HEAD only',
  SPANSTAT_ERR_API_INTERNAL: 'the API failed to build its answer (a bug; the sidecar logs it)',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class SpanstatError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, detail: string, options?: { cause?: unknown }) {
    super(`${code}: ${detail}`, options);
    this.name = 'SpanstatError';
    this.code = code;
  }
}

export function isSpanstatError(err: unknown, code?: ErrorCode): err is SpanstatError {
  return err instanceof SpanstatError && (code === undefined || err.code === code);
}
