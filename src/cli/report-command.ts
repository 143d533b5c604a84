import { formatTable, REPORTS, withService } from '../reports';
import { apiUrl, fetchForCommand, fetchJson, terminalSafe } from './fetch-json';

export interface ReportCommandOptions {
  api: string;
  service?: string;
  window: string;
  sort?: string;
  limit: string;
  json?: boolean;
  wide?: boolean;
}

const TITLES: Record<string, string> = {
  services: 'Where the time goes, per service',
  queries: 'Queries',
  cache: 'Cache hit rate by key namespace',
  endpoints: 'Endpoints',
  'endpoint-queries': 'Queries per endpoint',
  'endpoint-cache': 'Cache use per endpoint',
  pools: 'Connection pools',
};

/** The parts of /healthz the report and advise commands read. */
export interface Health {
  services?: string[];
  sendersLostSpans?: Record<string, number>;
  doubleTraced?: Record<string, { processes: number; spansSetAside: number }>;
}

/** `spanstat report <kind>`: fetches one report from a running sidecar and prints it. Returns the exit code. */
export async function runReportCommand(kind: string, options: ReportCommandOptions): Promise<number> {
  const definition = REPORTS[kind as keyof typeof REPORTS];
  if (!definition) {
    const kinds = [...Object.keys(REPORTS), 'deploys'].join(', ');
    console.error(`spanstat: unknown report '${kind}'; expected one of ${kinds}`);
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
  if (!Array.isArray(report?.rows)) {
    console.error(
      `spanstat: ${apiUrl(options.api, `/api/v1/reports/${kind}`)} answered without report rows; is that a spanstat sidecar?`,
    );
    return 1;
  }
  const services = new Set(report.rows.map((r) => r.service));
  const shown = services.size > 1 ? withService(columns) : columns;
  const scope = services.size === 1 ? ` — ${[...services][0]}` : '';
  // The API sorts by the default column when none is asked for; the title names whichever was used.
  const sort = options.sort ?? definition.spec.defaultSort;
  const counts = `${report.rows.length} of ${report.totalRows} rows`;
  console.log(
    terminalSafe(`${TITLES[kind]}${scope} (sorted by ${sort}; window ${report.window}, ${counts})`),
  );
  const health = await fetchHealth(options.api);
  console.log(
    terminalSafe(
      report.rows.length
        ? formatTable(report.rows, shown, { wide: options.wide })
        : noRowsText(kind, report.window, options.service, health),
    ),
  );
  const shownServices = options.service ? new Set([options.service]) : services;
  const lost = lostSpansNote(health, shownServices);
  if (lost) console.error(lost);
  const twice = doubleTracedNote(health, shownServices);
  if (twice) console.error(twice);
  return 0;
}

/**
 * `--sort` help: each report's sortable columns, default first, from the specs the API checks `sort`
 * against (src/reports), so the help cannot drift from what the API accepts.
 */
export function sortColumnsHelp(lineWidth = 100): string {
  const width = Math.max(...Object.keys(REPORTS).map((kind) => kind.length));
  const lines = Object.entries(REPORTS).flatMap(([kind, { spec }]) => {
    const others = (spec.sortable as readonly string[]).filter((c) => c !== spec.defaultSort);
    const names = [`${spec.defaultSort} (default)`, ...others];
    return wrapList(names, `  ${kind.padEnd(width)}  `, lineWidth);
  });
  return `\n--sort columns per report:\n${lines.join('\n')}`;
}

/** `names` joined with commas after `lead`, continuation lines indented as far as `lead`. */
function wrapList(names: readonly string[], lead: string, lineWidth: number): string[] {
  const lines: string[] = [];
  let line = lead;
  for (const [i, name] of names.entries()) {
    const item = i < names.length - 1 ? `${name},` : name;
    if (line.length > lead.length && line.length + 1 + item.length > lineWidth) {
      lines.push(line);
      line = ' '.repeat(lead.length);
    }
    line += line.length === lead.length ? item : ` ${item}`;
  }
  return [...lines, line];
}

export async function fetchHealth(api: string): Promise<Health | undefined> {
  const health = await fetchJson(apiUrl(api, '/healthz'));
  return health.ok ? (health.body as Health) : undefined;
}

/**
 * Stands in for the empty table. With --service, an empty report usually means a misspelt or absent
 * service, so it names the services that have data (from /healthz) rather than suggest waiting.
 */
function noRowsText(kind: string, window: string, service: string | undefined, health?: Health): string {
  if (!service) return '(no data yet)';
  const known = health?.services;
  if (known?.includes(service)) return `(no ${kind} rows for service '${service}' in window ${window})`;
  const others = known ? `; services with data: ${known.join(', ') || 'none yet'}` : '';
  return `(no data seen for service '${service}' in window ${window}${others})`;
}

/** A note when a shown service's processes run the preload and their own SDK into spanstat at once. */
export function doubleTracedNote(
  health: Health | undefined,
  services: ReadonlySet<string>,
): string | undefined {
  const found = Object.entries(health?.doubleTraced ?? {}).filter(([service]) => services.has(service));
  if (found.length === 0) return undefined;
  const list = found.map(([service, { processes }]) => `${service} (${processes} processes)`).join(', ');
  return (
    `note: traced twice, by the spanstat preload and the app's own OpenTelemetry SDK: ${list}; the SDK's ` +
    'copies are set aside (figures count once). Drop one of the two (see the sidecar log)'
  );
}

/** A note when the preload of a shown service lost spans before sending them (the figures miss them). */
function lostSpansNote(health: Health | undefined, services: ReadonlySet<string>): string | undefined {
  const lost = health?.sendersLostSpans ?? {};
  const shown = Object.entries(lost).filter(([service, count]) => services.has(service) && count > 0);
  if (shown.length === 0) return undefined;
  const list = shown.map(([service, count]) => `${service} ${count.toLocaleString('en-US')}`).join(', ');
  // The preloads report a running total, which no window can narrow: said so, as --window 1m may show it.
  const why = 'sidecar down, refusing or behind; the totals its processes reported, whatever the window';
  return `note: spans lost in the app before sending (${why}), missing from these figures: ${list}`;
}
