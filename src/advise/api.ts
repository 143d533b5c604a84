/** `GET /api/v1/recommendations?service=&kind=&state=`: query validation and the response body. */
import { SpanstatError } from '../errors';
import type { Advisor, AdvisorStatus } from './advisor';
import {
  RECOMMENDATION_KINDS,
  type Recommendation,
  type RecommendationFilter,
  type RecommendationKind,
  type RecommendationState,
  STATES,
} from './types';

export interface RecommendationsResponse {
  advisor: AdvisorStatus;
  count: number;
  recommendations: Recommendation[];
}

const PARAMS = new Set(['service', 'kind', 'state']);

/** Unknown parameters, kinds and states are a 400 (SPANSTAT_ERR_API_BAD_PARAM), never silently ignored. */
export function parseRecommendationFilter(params: URLSearchParams): RecommendationFilter {
  for (const key of params.keys()) {
    if (!PARAMS.has(key)) throw badParam(`unknown parameter '${key}'; expected service, kind or state`);
  }
  const filter: RecommendationFilter = {};
  const service = params.get('service');
  if (service) filter.service = service;
  const kind = params.get('kind');
  if (kind) {
    if (!(RECOMMENDATION_KINDS as readonly string[]).includes(kind)) {
      throw badParam(`'kind' must be one of ${RECOMMENDATION_KINDS.join(', ')}, got '${kind}'`);
    }
    filter.kind = kind as RecommendationKind;
  }
  const state = params.get('state');
  if (state) {
    if (!(STATES as readonly string[]).includes(state)) {
      throw badParam(`'state' must be one of ${STATES.join(', ')}, got '${state}'`);
    }
    filter.state = state as RecommendationState;
  }
  return filter;
}

export function recommendationsResponse(advisor: Advisor, params: URLSearchParams): RecommendationsResponse {
  const recommendations = advisor.list(parseRecommendationFilter(params));
  return { advisor: advisor.status(), count: recommendations.length, recommendations };
}

function badParam(detail: string): SpanstatError {
  return new SpanstatError('SPANSTAT_ERR_API_BAD_PARAM', detail);
}
