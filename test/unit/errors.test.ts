import { describe, expect, it } from 'vitest';
import { ERROR_CODES, SpanstatError } from '../../src/errors';

describe('error registry', () => {
  it('keeps every published code (codes are never removed or reused)', () => {
    expect(Object.keys(ERROR_CODES)).toEqual(
      expect.arrayContaining([
        'SPANSTAT_ERR_CONFIG_READ',
        'SPANSTAT_ERR_CONFIG_YAML',
        'SPANSTAT_ERR_CONFIG_INVALID',
        'SPANSTAT_ERR_ENV_INVALID',
        'SPANSTAT_ERR_OTLP_DECODE',
        'SPANSTAT_ERR_OTLP_CONTENT_TYPE',
        'SPANSTAT_ERR_OTLP_TOO_LARGE',
        'SPANSTAT_ERR_OTLP_ENCODING',
        'SPANSTAT_ERR_OVERLOADED',
        'SPANSTAT_ERR_API_BAD_PARAM',
        'SPANSTAT_ERR_SIDECAR_UNREACHABLE',
        'SPANSTAT_ERR_LISTEN',
        'SPANSTAT_ERR_TLS',
        'SPANSTAT_ERR_API_NOT_FOUND',
        'SPANSTAT_ERR_API_METHOD',
        'SPANSTAT_ERR_API_INTERNAL',
      ]),
    );
  });

  it('prefixes the message with the code', () => {
    const err = new SpanstatError('SPANSTAT_ERR_OTLP_DECODE', 'truncated varint');
    expect(err.message).toBe('SPANSTAT_ERR_OTLP_DECODE: truncated varint');
    expect(err.code).toBe('SPANSTAT_ERR_OTLP_DECODE');
  });
});
