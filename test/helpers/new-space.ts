import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * V8's new space (bytes) in `node -e` run with `node` after `setup` (code that sets heap flags)
 * and ~2M short-lived objects: 2 × 1 MiB with the CLI's flags, 2 × 16 MiB with V8's defaults.
 */
export function newSpaceAfterChurn(setup: string, node = process.execPath): number {
  const script = `
    ${setup};
    let keep = [];
    for (let i = 0; i < 2e6; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 50000) keep = []; }
    const space = require('node:v8').getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
    process.stdout.write(String(space.space_size));`;
  return Number(execFileSync(node, ['-e', script], { cwd: join(__dirname, '..', '..') }));
}
