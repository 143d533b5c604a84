/**
 * Dashboard identities shared by the Grafana generator (scripts/generate-dashboards.ts) and the
 * alert rules (config/alerts.yml links each alert to one of these), and the sidecar API's address in them.
 */
import { DEFAULTS } from '../config/defaults';

/**
 * Base URL of Grafana in alert annotations: the docker-compose Grafana on its published port.
 * Alert links are plain URLs (`<base>/d/<uid>`), independent of Prometheus' --web.external-url.
 * Behind another address, replace it in config/alerts.yml (one string) — the unit test
 * test/unit/metrics-names.test.ts checks every link against this constant.
 */
export const GRAFANA_BASE_URL = 'http://localhost:3000';

/**
 * Base URL of the sidecar's API in alert annotations (SpanstatRecommendation's evidence link): the
 * docker-compose sidecar's published port, where `kubectl port-forward <pod> 9464` also puts a pod's
 * sidecar. Not the scraped `instance` (`sidecar:9464`, a pod IP): a browser cannot reach that, and the
 * alert is one over every sidecar reporting the recommendation. Behind another address, replace it in
 * config/alerts.yml (one string) — test/unit/metrics-names.test.ts checks the link against this constant.
 */
export const SPANSTAT_BASE_URL = `http://localhost:${DEFAULTS.api.port}`;

export const DASHBOARDS = {
  overview: { uid: 'spanstat-overview', title: 'spanstat / Overview' },
  queries: { uid: 'spanstat-queries', title: 'spanstat / Queries' },
  cache: { uid: 'spanstat-cache', title: 'spanstat / Cache' },
  endpoints: { uid: 'spanstat-endpoints', title: 'spanstat / Endpoints' },
  recommendations: { uid: 'spanstat-recommendations', title: 'spanstat / Recommendations' },
} as const;

export type DashboardKey = keyof typeof DASHBOARDS;

export function dashboardUrl(key: DashboardKey): string {
  return `${GRAFANA_BASE_URL}/d/${DASHBOARDS[key].uid}`;
}
