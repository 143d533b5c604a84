/** `GET /api/v1/deploys?service=`: query validation and the response body. */
import { SpanstatError } from '../errors';
import type { DeployTracker, ServiceDeploys } from './deploy-tracker';

/** A version counts as running (the info metric, the page) while seen within this long (ms). */
export const RUNNING_WITHIN_MS = 5 * 60_000;

export interface DeploysResponse {
  /** The sidecar's clock when the answer was built (ms since the epoch). */
  nowMs: number;
  services: ServiceDeploys[];
}

/** Unknown parameters are a 400 (SPANSTAT_ERR_API_BAD_PARAM), never silently ignored. */
export function deploysResponse(
  tracker: DeployTracker,
  params: URLSearchParams,
  nowMs: number,
): DeploysResponse {
  for (const key of params.keys()) {
    if (key !== 'service')
      throw new SpanstatError('SPANSTAT_ERR_API_BAD_PARAM', `unknown parameter '${key}'; expected service`);
  }
  const service = params.get('service') || undefined;
  return { nowMs, services: tracker.report(nowMs, service) };
}
