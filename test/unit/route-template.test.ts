import { describe, expect, it } from 'vitest';
import { methodLabel, templatePath, templateWords } from '../../src/classify/route-template';

describe('templatePath', () => {
  it('replaces numeric, uuid, hex and code segments with :id', () => {
    expect(templatePath('/users/42')).toBe('/users/:id');
    expect(templatePath('/orders/0b6a1c52-3f2e-4d8a-9c1e-7a2b3c4d5e6f/items')).toBe('/orders/:id/items');
    expect(templatePath('/blobs/deadbeef12')).toBe('/blobs/:id');
    expect(templatePath('/quotes/AbX9kQ')).toBe('/quotes/:id');
    expect(templatePath('/users/alice%40example.com')).toBe('/users/:id');
  });

  it('keeps word segments and drops the query string', () => {
    expect(templatePath('/api/products?page=3')).toBe('/api/products');
    expect(templatePath('/')).toBe('/');
    expect(templatePath('/v2/health')).toBe('/v2/health');
  });

  it('takes encoded bytes, matrix parameters and key=value segments for data', () => {
    expect(templatePath('/files/report%2Fsecret.pdf')).toBe('/files/:id');
    expect(templatePath('/a;jsessionid=ABCDEF/b')).toBe('/:id/b');
    expect(templatePath('/filter/color=red')).toBe('/filter/:id');
    expect(templatePath('/favicon.ico')).toBe('/favicon.ico');
  });

  it('templates the paths in a server span name, and names an unknown method _OTHER', () => {
    expect(templateWords('GET /users/42/orders')).toBe('GET /users/:id/orders');
    expect(templateWords('grpc.health.v1.Health/Check')).toBe('grpc.health.v1.Health/Check');
    expect(methodLabel('PATCH')).toBe('PATCH');
    expect(methodLabel('LKMETHOD')).toBe('_OTHER');
  });

  it('bounds very deep paths', () => {
    const deep = `/${Array.from({ length: 40 }, (_, i) => `s${'x'.repeat(i % 3)}`).join('/')}`;
    expect(templatePath(deep).split('/').length).toBeLessThanOrEqual(15);
  });
});
