/** `spanstat report deploys`: each service's versions and its current version's routes beside the baseline's. */
import type { DeploysResponse, ServiceDeploys } from '../deploys';
import { formatTable } from '../reports';
import { apiUrl, fetchForCommand, terminalSafe } from './fetch-json';

export interface DeploysCommandOptions {
  api: string;
  service?: string;
  limit: string;
  json?: boolean;
  wide?: boolean;
  /** The other reports' options: refused here rather than ignored (see optionError). */
  sort?: string;
  window?: string;
}

/**
 * Why the options cannot be honoured, or undefined. The deploys report has no sort column and no window
 * (each version's figures are its own latest requests), and the other reports' API answers a bad limit
 * with a 400: ignoring any of them would print something other than what was asked for.
 */
export function optionError(options: DeploysCommandOptions): string | undefined {
  if (options.sort !== undefined)
    return '--sort does not apply to `report deploys`: versions are listed newest first, routes by requests';
  if (options.window !== undefined && options.window !== 'all')
    return "--window does not apply to `report deploys`: each version's figures are its own latest requests";
  if (!/^[1-9]\d*$/.test(options.limit))
    return `--limit must be a whole number of at least 1, not '${options.limit}'`;
  return undefined;
}

interface RouteLine {
  route: string;
  requests: number;
  p95: string;
  queriesPerRequest: string;
  dbMsPerRequest: string;
  errorRate: string;
}

interface VersionLine {
  version: string;
  deployed: string;
  firstSeen: string;
  lastSeen: string;
  requests: number;
}

export async function runDeploysCommand(options: DeploysCommandOptions): Promise<number> {
  const refused = optionError(options);
  if (refused) {
    console.error(`spanstat: ${terminalSafe(refused)}`);
    return 2;
  }
  const params = new URLSearchParams();
  if (options.service) params.set('service', options.service);
  const query = params.size > 0 ? `?${params}` : '';
  const fetched = await fetchForCommand(options.api, `/api/v1/deploys${query}`, options.json);
  if ('exitCode' in fetched) return fetched.exitCode;
  const body = fetched.body as DeploysResponse;
  if (!Array.isArray(body?.services)) {
    console.error(
      `spanstat: ${apiUrl(options.api, '/api/v1/deploys')} answered without services; is that a spanstat sidecar?`,
    );
    return 1;
  }
  const limit = Number(options.limit);
  if (body.services.length === 0) {
    console.log(
      options.service
        ? terminalSafe(
            `(no versions seen for service '${options.service}': its resources send no service.version)`,
          )
        : '(no versions seen yet: no resource sent service.version)',
    );
    return 0;
  }
  console.log(
    terminalSafe(body.services.map((s) => serviceText(s, limit, { wide: options.wide })).join('\n\n')),
  );
  return 0;
}

/** One service: its current version and deploy time, the version history, and the per-route comparison. */
export function serviceText(s: ServiceDeploys, limit: number, options: { wide?: boolean } = {}): string {
  const compared = s.baselineVersion
    ? `, compared with ${s.baselineVersion}${s.settled ? ' (settled: the normal now)' : ''}`
    : '';
  const head = `Deploys — ${s.service}: ${s.currentVersion} since ${time(s.deployedAtMs)}${compared}`;
  const versions = formatTable<VersionLine>(
    s.versions.slice(0, limit).map((v) => ({
      version: v.version,
      deployed: time(v.deployedAtMs),
      firstSeen: time(v.firstSeenMs),
      lastSeen: time(v.lastSeenMs),
      requests: v.requests,
    })),
    [
      { key: 'version', title: 'VERSION', maxWidth: 40 },
      { key: 'deployed', title: 'DEPLOYED' },
      { key: 'firstSeen', title: 'FIRST SEEN' },
      { key: 'lastSeen', title: 'LAST SEEN' },
      { key: 'requests', title: 'REQUESTS' },
    ],
    options,
  );
  const was = (now: number, before: number | undefined, digits: number, suffix = '') =>
    before === undefined
      ? `${now.toFixed(digits)}${suffix}`
      : `${before.toFixed(digits)} → ${now.toFixed(digits)}${suffix}`;
  const routes = s.routes.slice(0, limit).map(
    (r): RouteLine => ({
      route: `${r.method} ${r.route}`,
      requests: r.current.requests,
      p95: was(r.current.p95Ms, r.baseline?.p95Ms, 1),
      queriesPerRequest: was(r.current.queriesPerRequest, r.baseline?.queriesPerRequest, 1),
      dbMsPerRequest: was(r.current.dbMsPerRequest, r.baseline?.dbMsPerRequest, 1),
      errorRate: was(
        100 * r.current.errorRate,
        r.baseline === null ? undefined : 100 * r.baseline.errorRate,
        1,
        '%',
      ),
    }),
  );
  const routeTable = routes.length
    ? formatTable<RouteLine>(
        routes,
        [
          { key: 'route', title: 'ROUTE', maxWidth: 48 },
          { key: 'requests', title: 'REQUESTS' },
          { key: 'p95', title: 'P95 MS', align: 'right' },
          { key: 'queriesPerRequest', title: 'QUERIES/REQ', align: 'right' },
          { key: 'dbMsPerRequest', title: 'DB MS/REQ', align: 'right' },
          { key: 'errorRate', title: '5XX', align: 'right' },
        ],
        options,
      )
    : '(no requests of this version in its window yet)';
  const figures = s.baselineVersion
    ? `Routes (${s.currentVersion}'s last requests; "a → b": ${s.baselineVersion} → ${s.currentVersion})`
    : `Routes (${s.currentVersion}'s last requests)`;
  return `${head}\n${versions}\n\n${figures}\n${routeTable}`;
}

/** `2026-11-24 12:03:05 UTC`. */
function time(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}
