import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config';

describe('config/spanstat.yaml', () => {
  it('is valid and equal to the built-in defaults', () => {
    const fromFile = loadConfig({ file: join(__dirname, '../../config/spanstat.yaml'), env: {} });
    expect(fromFile).toEqual(loadConfig({ env: {} }));
  });
});
