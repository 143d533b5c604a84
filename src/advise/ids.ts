/** Stable recommendation ids: the same problem on the same target keeps its id across evaluations and restarts. */
import type { RecommendationKind, Target } from './types';

/**
 * 64-bit id (16 hex) from two independent 32-bit FNV-1a/Murmur-mixed lanes. Every row of every
 * rule gets one per evaluation; node:crypto SHA-1 cost ~29 µs each here (10k rows → ~0.3 s).
 */
export function recommendationId(kind: RecommendationKind, service: string, target: Target): string {
  const key = `${kind}\u0000${service}\u0000${target.type}\u0000${target.value}\u0000${target.route ?? ''}`;
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  a = Math.imul(a ^ (a >>> 16), 0x85ebca6b);
  a = Math.imul(a ^ (a >>> 13), 0xc2b2ae35);
  b = Math.imul(b ^ (b >>> 16), 0x85ebca6b) ^ a;
  return hex(a ^ (a >>> 16)) + hex(b ^ (b >>> 13));
}

function hex(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}
