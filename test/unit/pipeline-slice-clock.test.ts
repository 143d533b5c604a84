import { describe, expect, it } from 'vitest';
import { SliceClock } from '../../src/pipeline/slice-clock';

describe('SliceClock', () => {
  it('reads the source clock only when advanced and hands out that time until the next advance', () => {
    let reads = 0;
    let t = 1_000;
    const clock = new SliceClock(() => {
      reads++;
      return t;
    });
    const now = clock.now; // handed over detached, as the sidecar does
    t = 2_000;
    expect(now()).toBe(1_000);
    expect(clock.advance()).toBe(2_000);
    t = 3_000;
    expect([now(), now()]).toEqual([2_000, 2_000]);
    expect(reads).toBe(2);
  });
});
