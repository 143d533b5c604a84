import { describe, expect, it } from 'vitest';
import { apiUrl } from '../../src/cli/fetch-json';

describe('apiUrl', () => {
  it('joins the API base and a path, dropping a trailing slash', () => {
    expect(apiUrl('http://127.0.0.1:9464/', '/healthz')).toBe('http://127.0.0.1:9464/healthz');
    expect(apiUrl('https://spanstat.internal', '/api/v1/recommendations')).toBe(
      'https://spanstat.internal/api/v1/recommendations',
    );
  });

  it('takes host:port without a scheme as http://', () => {
    expect(apiUrl('localhost:9464', '/healthz')).toBe('http://localhost:9464/healthz');
    expect(apiUrl('10.0.0.5:9464/', '/healthz')).toBe('http://10.0.0.5:9464/healthz');
  });
});
