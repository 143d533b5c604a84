import type { AdvisorStatus } from '../advise/advisor';
import type { RecommendationsResponse } from '../advise/api';
import { ago, formatRecommendations } from '../advise/format';
import { PRIVILEGE_HINT } from '../advise/lock-waits';
import { fetchForCommand, terminalSafe } from './fetch-json';
import { fetchHealth, type Health } from './report-command';

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
  const body = fetched.body as RecommendationsResponse;
  if (!Array.isArray(body?.recommendations)) {
    console.error('spanstat: the API answered without recommendations; is that a spanstat sidecar?');
    return 1;
  }
  const { out, note } = adviceText(body, { brief: options.brief });
  // "Nothing over its threshold" for a misspelt --service would be false comfort: say no data came.
  const unknown =
    options.service && body.recommendations.length === 0
      ? unknownServiceText(options.service, await fetchHealth(options.api))
      : undefined;
  console.log(terminalSafe(unknown ?? out));
  if (note) console.error(note);
  return 0;
}

/**
 * What `spanstat advise` prints for a response: the recommendations (stdout) and a note (stderr) when
 * the last evaluation failed. An empty list is only "nothing over threshold" once the advisor has
 * evaluated; before that, or after a failure, it says so instead.
 */
export function adviceText(
  body: RecommendationsResponse,
  options: { brief?: boolean; nowMs?: number } = {},
): { out: string; note?: string } {
  const { advisor: status, recommendations } = body;
  const nowMs = options.nowMs ?? Date.now();
  const notes = lockSamplingNotes(status);
  if (recommendations.length === 0) return withNotes({ out: emptyAdvice(status, nowMs) }, notes);
  const out = `Recommendations (${recommendations.length})\n${formatRecommendations(recommendations, { brief: options.brief, nowMs })}`;
  if (status.lastError === null) return withNotes({ out }, notes);
  const since =
    status.lastEvaluatedMs === null
      ? ''
      : `; these are from its evaluation ${ago(nowMs - status.lastEvaluatedMs)}`;
  return withNotes({ out }, [
    `note: the advisor's last evaluation failed: ${status.lastError}${since}`,
    ...notes,
  ]);
}

/** For `--service` naming a service the sidecar has no data from, what to print instead; else undefined. */
export function unknownServiceText(service: string, health: Health | undefined): string | undefined {
  const known = health?.services;
  if (!known || known.includes(service)) return undefined;
  return `No recommendations: no data seen for service '${service}' (services with data: ${known.join(', ') || 'none yet'}).`;
}

function withNotes(result: { out: string }, notes: string[]): { out: string; note?: string } {
  return notes.length ? { ...result, note: notes.join('\n') } : result;
}

/**
 * What keeps lock advice from seeing everything: a role without pg_read_all_stats (other roles'
 * sessions, waits included, are hidden) or sampling that fails. Absent from sidecars before lock sampling.
 */
function lockSamplingNotes(status: AdvisorStatus): string[] {
  // Several databases (advisor.databases): each one's notes, named; older sidecars send no list.
  const sampled = (status.databases ?? []).filter((d) => d.lockSampling !== null);
  if (sampled.length > 1) return sampled.flatMap((d) => samplerNotes(d.lockSampling, ` (${d.database})`));
  return samplerNotes(status.lockSampling, '');
}

function samplerNotes(sampling: AdvisorStatus['lockSampling'], where: string): string[] {
  if (!sampling) return [];
  const notes: string[] = [];
  if (sampling.readAllStats === false) notes.push(`note: lock sampling${where}: ${PRIVILEGE_HINT}`);
  if (sampling.lastError !== null) notes.push(`note: lock sampling${where} failed: ${sampling.lastError}`);
  return notes;
}

function emptyAdvice(status: AdvisorStatus, nowMs: number): string {
  const failed = status.lastError === null ? '' : ` Its last evaluation failed: ${status.lastError}`;
  if (status.lastEvaluatedMs === null) {
    const when = `it runs at startup, then every ${status.intervalSeconds} s`;
    return `No recommendations yet: the advisor has not evaluated yet (${when}).${failed}`;
  }
  const last = `window ${status.window}, evaluated ${ago(nowMs - status.lastEvaluatedMs)}`;
  if (failed) return `No recommendations from the last successful evaluation (${last}).${failed}`;
  return `No recommendations: nothing over its threshold in the advisor window (${last}).`;
}
