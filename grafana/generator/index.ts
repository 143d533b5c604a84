import type { DashboardBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import type { DashboardKey } from '../../src/metrics/dashboards-meta';
import { cache } from './cache';
import { endpoints } from './endpoints';
import { overview } from './overview';
import { queries } from './queries';
import { recommendations } from './recommendations';

const BUILDERS: Record<DashboardKey, () => DashboardBuilder> = {
  overview,
  queries,
  cache,
  endpoints,
  recommendations,
};

/** File name under grafana/dashboards/ → dashboard JSON text, exactly as committed. */
export function renderDashboards(): Map<string, string> {
  const files = new Map<string, string>();
  for (const [key, build] of Object.entries(BUILDERS)) {
    files.set(`spanstat-${key}.json`, `${JSON.stringify(build().build(), null, 2)}\n`);
  }
  return files;
}

/** Every PromQL expression of a rendered dashboard (panel targets and query variables). */
export function dashboardQueries(json: string): { panel: string; expr: string }[] {
  const doc = JSON.parse(json) as {
    panels?: { title?: string; targets?: { expr?: string }[] }[];
    templating?: { list?: { name: string; definition?: string }[] };
    annotations?: { list?: { name: string; expr?: string }[] };
  };
  const out: { panel: string; expr: string }[] = [];
  for (const panel of doc.panels ?? []) {
    for (const t of panel.targets ?? []) if (t.expr) out.push({ panel: panel.title ?? '', expr: t.expr });
  }
  for (const v of doc.templating?.list ?? [])
    if (v.definition) out.push({ panel: `$${v.name}`, expr: v.definition });
  for (const a of doc.annotations?.list ?? [])
    if (a.expr) out.push({ panel: `annotation ${a.name}`, expr: a.expr });
  return out;
}
