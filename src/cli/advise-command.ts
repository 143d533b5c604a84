import { formatRecommendations } from '../advise/format';
import type { Recommendation } from '../advise/types';
import { fetchForCommand } from './fetch-json';

export interface AdviseCommandOptions {
  api: string;
  service?: string;
  kind?: string;
  state?: string;
  brief?: boolean;
  json?: boolean;
}

/** `spanstat advise`: the advisor's recommendations from a running sidecar. Returns the exit code. */
export async function runAdviseCommand(options: AdviseCommandOptions): Promise<number> {
  const params = new URLSearchParams();
  if (options.service) params.set('service', options.service);
  if (options.kind) params.set('kind', options.kind);
  if (options.state) params.set('state', options.state);
  const query = params.size ? `?${params}` : '';
  const fetched = await fetchForCommand(options.api, `/api/v1/recommendations${query}`, options.json);
  if ('exitCode' in fetched) return fetched.exitCode;
  const { recommendations } = fetched.body as { recommendations: Recommendation[] };
  if (recommendations.length === 0) {
    console.log('No recommendations: nothing over its threshold in the advisor window.');
    return 0;
  }
  console.log(`Recommendations (${recommendations.length})`);
  console.log(formatRecommendations(recommendations, { brief: options.brief }));
  return 0;
}
