import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config';

describe('config/spanstat.yaml', () => {
  it('is valid and equal to the built-in defaults', () => {
    const fromFile = loadConfig({ file: join(__dirname, '../../config/spanstat.yaml'), env: {} });
    expect(fromFile).toEqual(loadConfig({ env: {} }));
  });
});

describe('examples/demo-app/spanstat.yaml', () => {
  it('is valid and differs from the defaults only in the advisor interval and the missing-index mean line', () => {
    const demo = loadConfig({ file: join(__dirname, '../../examples/demo-app/spanstat.yaml'), env: {} });
    const defaults = loadConfig({ env: {} });
    expect(demo.advisor.missingIndex.minMeanMs).toBe(5);
    expect(demo.advisor.intervalSeconds).toBe(5);
    const advisor = {
      ...demo.advisor,
      intervalSeconds: defaults.advisor.intervalSeconds,
      missingIndex: defaults.advisor.missingIndex,
    };
    expect({ ...demo, advisor }).toEqual(defaults);
  });
});
