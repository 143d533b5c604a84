/** Stable recommendation ids: the same problem on the same target keeps its id across evaluations and restarts. */
import { createHash } from 'node:crypto';
import type { RecommendationKind, Target } from './types';

export function recommendationId(kind: RecommendationKind, service: string, target: Target): string {
  const key = JSON.stringify([kind, service, target.type, target.value, target.route ?? '']);
  return createHash('sha1').update(key).digest('hex').slice(0, 16);
}
