import { formatRecommendations } from '../advise/format';
import type { Recommendation } from '../advise/types';
import { fetchJson } from './fetch-json';

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
  const result = await fetchJson(`${options.api.replace(/\/$/, '')}/api/v1/recommendations${query}`);
  if (!result.ok) {
    console.error(`spanstat: ${result.error}`);
    return 1;
  }
  if (options.json) {
    console.log(JSON.stringify(result.body, null, 2));
    return 0;
  }
  const { recommendations } = result.body as { recommendations: Recommendation[] };
  if (recommendations.length === 0) {
    console.log('No recommendations: nothing over its threshold in the advisor window.');
    return 0;
  }
  console.log(`Recommendations (${recommendations.length})`);
  console.log(formatRecommendations(recommendations, { brief: options.brief }));
  return 0;
}
