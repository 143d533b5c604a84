import { describe, expect, it } from 'vitest';
import { type DeploysCommandOptions, optionError, serviceText } from '../../src/cli/deploys-command';
import type { ServiceDeploys } from '../../src/deploys';

const T0 = Date.UTC(2026, 10, 25, 9, 0, 0);
const LONG_ROUTE = '/api/v1/organisations/:organisation/projects/:project/environments/:environment';

function options(extra: Partial<DeploysCommandOptions> = {}): DeploysCommandOptions {
  return { api: 'http://127.0.0.1:9464', limit: '20', window: 'all', ...extra };
}

function figures(requests: number) {
  return {
    method: 'GET',
    route: LONG_ROUTE,
    requests,
    p95Ms: 12,
    p99Ms: 20,
    queriesPerRequest: 2,
    dbMsPerRequest: 3,
    errorRate: 0,
    statements: [],
  };
}

const SERVICE: ServiceDeploys = {
  service: 'shop',
  currentVersion: 'v2',
  deployedAtMs: T0,
  previousVersion: 'v1',
  baselineVersion: 'v1',
  settled: false,
  versions: [
    { version: 'v2', firstSeenMs: T0, lastSeenMs: T0 + 60_000, requests: 40, deployedAtMs: T0 },
    {
      version: 'v1',
      firstSeenMs: T0 - 3_600_000,
      lastSeenMs: T0,
      requests: 900,
      deployedAtMs: T0 - 3_600_000,
    },
  ],
  routes: [{ method: 'GET', route: LONG_ROUTE, baseline: figures(900), current: figures(40) }],
};

describe('spanstat report deploys options', () => {
  it('takes the defaults and any whole --limit', () => {
    expect(optionError(options())).toBeUndefined();
    expect(optionError(options({ limit: '3', window: undefined }))).toBeUndefined();
  });

  it('refuses the other reports’ --sort and --window instead of ignoring them', () => {
    expect(optionError(options({ sort: 'requests' }))).toMatch(/^--sort does not apply to `report deploys`/);
    expect(optionError(options({ window: '5m' }))).toMatch(/^--window does not apply to `report deploys`/);
  });

  it('refuses a --limit that is not a whole number of at least 1, naming it', () => {
    for (const limit of ['abc', '0', '-2', '1.5', ''])
      expect(optionError(options({ limit }))).toBe(
        `--limit must be a whole number of at least 1, not '${limit}'`,
      );
  });

  it('prints whole routes with --wide, cut to the column without it', () => {
    expect(serviceText(SERVICE, 20)).not.toContain(LONG_ROUTE);
    expect(serviceText(SERVICE, 20, { wide: true })).toContain(`GET ${LONG_ROUTE}`);
  });

  it('shows at most --limit versions', () => {
    expect(serviceText(SERVICE, 1)).not.toMatch(/^v1 /m);
    expect(serviceText(SERVICE, 2)).toMatch(/^v1 /m);
  });
});
