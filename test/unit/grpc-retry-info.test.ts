import { describe, expect, it } from 'vitest';
import { retryInfoDelayMs, statusWithRetryInfo } from '../../src/grpc-retry-info';

describe('google.rpc.Status with RetryInfo', () => {
  it('reads back the delay it writes', () => {
    expect(retryInfoDelayMs(statusWithRetryInfo(14, 'over the cap', 7))).toBe(7_000);
    expect(retryInfoDelayMs(statusWithRetryInfo(8, '', 0))).toBe(0);
  });

  it('gives undefined for a Status without RetryInfo and for bytes that are not a Status', () => {
    // google.rpc.Status {code = 14, message = "x"}: no details.
    expect(retryInfoDelayMs(Buffer.from([8, 14, 18, 1, 120]))).toBeUndefined();
    expect(retryInfoDelayMs(Buffer.from([0xff, 0xff, 0xff]))).toBeUndefined();
    expect(retryInfoDelayMs(Buffer.alloc(0))).toBeUndefined();
  });
});
