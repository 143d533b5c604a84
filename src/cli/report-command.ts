import { formatTable, REPORTS, withService } from '../reports';
import { apiUrl, fetchForCommand, fetchJson } from './fetch-json';

export interface ReportCommandOptions {
  api: string;
  service?: string;
  window: string;
  sort?: string;
  limit: string;
  json?: boolean;
}

const TITLES: Record<string, string> = {
  queries: 'Slow queries (by total time)',
  cache: 'Cache hit rate by key namespace',
  endpoints: 'Endpoints',
  'endpoint-queries': 'Queries per endpoint',
  'endpoint-cache': 'Cache use per endpoint',
  pools: 'Connection pools',
};

/** `spanstat report <kind>`: fetches one report from a running sidecar and prints it. Returns the exit code. */
export async function runReportCommand(kind: string, options: ReportCommandOptions): Promise<number> {
  const definition = REPORTS[kind as keyof typeof REPORTS];
  if (!definition) {
    console.error(`spanstat: unknown report '${kind}'; expected one of ${Object.keys(REPORTS).join(', ')}`);
    return 2;
  }
  // biome-ignore lint/suspicious/noExplicitAny: each report has its own row type; the table only reads keys.
  const columns = definition.columns as readonly any[];
  const params = new URLSearchParams({ window: options.window, limit: options.limit });
  if (options.service) params.set('service', options.service);
  if (options.sort) params.set('sort', options.sort);
  const fetched = await fetchForCommand(options.api, `/api/v1/reports/${kind}?${params}`, options.json);
  if ('exitCode' in fetched) return fetched.exitCode;
  const report = fetched.body as { rows: { service: string }[]; totalRows: number; window: string };
  const services = new Set(report.rows.map((r) => r.service));
  const shown = services.size > 1 ? withService(columns) : columns;
  const scope = services.size === 1 ? ` — ${[...services][0]}` : '';
  console.log(
    `${TITLES[kind]}${scope} (window ${report.window}, ${report.rows.length} of ${report.totalRows} rows)`,
  );
  console.log(report.rows.length ? formatTable(report.rows, shown) : '(no data yet)');
  const lost = await lostSpansNote(options.api, options.service ? new Set([options.service]) : services);
  if (lost) console.error(lost);
  return 0;
}

/** A note when the preload of a shown service lost spans before sending them (the figures miss them). */
async function lostSpansNote(api: string, services: ReadonlySet<string>): Promise<string | undefined> {
  const health = await fetchJson(apiUrl(api, '/healthz'));
  if (!health.ok) return undefined;
  const lost = (health.body as { sendersLostSpans?: Record<string, number> }).sendersLostSpans ?? {};
  const shown = Object.entries(lost).filter(([service, count]) => services.has(service) && count > 0);
  if (shown.length === 0) return undefined;
  const list = shown.map(([service, count]) => `${service} ${count.toLocaleString('en-US')}`).join(', ');
  const why = 'sidecar down, refusing or behind';
  return `note: spans lost in the app before sending (${why}), missing from these figures: ${list}`;
}
