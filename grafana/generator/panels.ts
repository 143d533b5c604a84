/// <reference path="./grafana-sdk.d.ts" />
/**
 * Panel and dashboard helpers over @grafana/grafana-foundation-sdk: every spanstat dashboard has the
 * same datasource and service variables, links to its siblings, and panels built one way.
 */
import {
  GraphThresholdsStyleConfigBuilder,
  GraphThresholdsStyleMode,
  LegendDisplayMode,
  LegendPlacement,
  StackingConfigBuilder,
  StackingMode,
  VizLegendOptionsBuilder,
} from '@grafana/grafana-foundation-sdk/common';
import {
  AnnotationQueryBuilder,
  DashboardBuilder,
  DashboardLinkBuilder,
  DashboardLinkType,
  DatasourceVariableBuilder,
  QueryVariableBuilder,
  RowBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder, PromQueryFormat } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TableBuilder } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as TimeseriesBuilder } from '@grafana/grafana-foundation-sdk/timeseries';
import { DASHBOARDS, type DashboardKey } from '../../src/metrics/dashboards-meta';
import { M, SVC } from './promql';

/** Resolved through the `datasource` variable; the provisioned datasource is its default. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a JS template.
const DS = { type: 'prometheus', uid: '${datasource}' };

export interface Query {
  expr: string;
  legend?: string;
}

function target(q: Query, refId: string, table = false): DataqueryBuilder {
  const t = new DataqueryBuilder().expr(q.expr).refId(refId).datasource(DS);
  if (q.legend) t.legendFormat(q.legend);
  if (table) t.instant().format(PromQueryFormat.Table);
  else t.range();
  return t;
}

const REF_IDS = 'ABCDEFGHIJ';

export interface PanelOptions {
  unit?: string;
  width?: number;
  height?: number;
  description?: string;
  stack?: boolean;
  min?: number;
  max?: number;
  /** Red below the first step, yellow to the second, green above (hit rates) — or the reverse with `ascending`. */
  thresholds?: { steps: number[]; ascending?: boolean };
}

function thresholds(t: NonNullable<PanelOptions['thresholds']>): ThresholdsConfigBuilder {
  const colors = t.ascending ? ['green', 'yellow', 'red'] : ['red', 'yellow', 'green'];
  // Grafana's base step has value null ("from minus infinity").
  const steps = [
    { value: null as unknown as number, color: colors[0] },
    ...t.steps.map((value, i) => ({ value, color: colors[i + 1] })),
  ];
  return new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps(steps);
}

export function timeseries(title: string, queries: Query[], o: PanelOptions = {}): TimeseriesBuilder {
  const p = new TimeseriesBuilder()
    .title(title)
    .datasource(DS)
    .span(o.width ?? 12)
    .height(o.height ?? 8)
    .unit(o.unit ?? 'short')
    .lineWidth(1)
    .fillOpacity(o.stack ? 40 : 10)
    .legend(
      new VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(LegendDisplayMode.List)
        .placement(LegendPlacement.Bottom)
        .calcs([]),
    );
  if (o.description) p.description(o.description);
  if (o.stack) p.stacking(new StackingConfigBuilder().mode(StackingMode.Normal));
  if (o.min !== undefined) p.min(o.min);
  if (o.max !== undefined) p.max(o.max);
  if (o.thresholds) {
    p.thresholds(thresholds(o.thresholds));
    p.thresholdsStyle(new GraphThresholdsStyleConfigBuilder().mode(GraphThresholdsStyleMode.Dashed));
  }
  queries.forEach((q, i) => {
    p.withTarget(target(q, REF_IDS[i]));
  });
  return p;
}

export function stat(title: string, query: Query, o: PanelOptions = {}): StatBuilder {
  const p = new StatBuilder()
    .title(title)
    .datasource(DS)
    .span(o.width ?? 6)
    .height(o.height ?? 4)
    .unit(o.unit ?? 'short')
    .withTarget(target(query, 'A'));
  if (o.description) p.description(o.description);
  if (o.thresholds) p.thresholds(thresholds(o.thresholds));
  return p;
}

export interface Column {
  /** Column title; the query's value column is renamed to it. */
  name: string;
  expr: string;
  unit?: string;
}

/**
 * A table of instant queries over the dashboard range, merged on their labels; each query gives
 * one value column. `hide` drops columns by their query name (job, instance, Value); `sortBy`
 * names a column title, sorted descending.
 */
export function table(
  title: string,
  columns: Column[],
  o: PanelOptions & { sortBy?: string; hide?: string[] },
): TableBuilder {
  const rename: Record<string, string> = {};
  columns.forEach((c, i) => {
    rename[columns.length === 1 ? 'Value' : `Value #${REF_IDS[i]}`] = c.name;
  });
  const exclude: Record<string, boolean> = { Time: true };
  for (const h of o.hide ?? []) exclude[h] = true;
  const p = new TableBuilder()
    .title(title)
    .datasource(DS)
    .span(o.width ?? 24)
    .height(o.height ?? 10)
    .withTransformation({ id: 'merge', options: {} })
    .withTransformation({ id: 'organize', options: { excludeByName: exclude, renameByName: rename } });
  if (o.sortBy) p.withTransformation({ id: 'sortBy', options: { sort: [{ field: o.sortBy, desc: true }] } });
  if (o.description) p.description(o.description);
  columns.forEach((c, i) => {
    p.withTarget(target({ expr: c.expr }, REF_IDS[i], true));
    if (c.unit) p.overrideByName(c.name, [{ id: 'unit', value: c.unit }]);
  });
  return p;
}

export function row(title: string): RowBuilder {
  return new RowBuilder(title);
}

/** A dashboard with the shared variables, links to its siblings and spanstat defaults. */
/**
 * Deploy markers: a service's version that no scrape target reported 2 minutes earlier is a version that just
 * started (a deploy, or a rollback to a version gone for 5 minutes); a 2-minute region from its first scrape.
 * Compared by service and version only, so a new pod or a restarted sidecar (a new `instance`) that reports a
 * version already running is no deploy.
 */
function deploys(): AnnotationQueryBuilder {
  const versions = `max by (service, version) (${M.serviceVersion}{${SVC}}`;
  return new AnnotationQueryBuilder()
    .name('Deploys')
    .datasource(DS)
    .enable(true)
    .iconColor('purple')
    .expr(`${versions}) unless ${versions} offset 2m)`)
    .step('60s')
    .titleFormat('{{service}} {{version}}')
    .textFormat('{{service}} runs version {{version}}');
}

export function dashboard(key: DashboardKey, description: string): DashboardBuilder {
  const { uid, title } = DASHBOARDS[key];
  const services = `label_values({__name__=~"${M.http}_count|${M.db}_count|${M.cache}_count"}, service)`;
  return new DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags(['spanstat'])
    .refresh('30s')
    .time({ from: 'now-1h', to: 'now' })
    .timezone('browser')
    .annotation(deploys())
    .withVariable(new DatasourceVariableBuilder('datasource').label('Data source').type('prometheus'))
    .withVariable(
      new QueryVariableBuilder('service')
        .label('Service')
        .datasource(DS)
        .query({ query: services, refId: 'services' })
        .definition(services)
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .sort(VariableSort.AlphabeticalAsc)
        .multi(true)
        .includeAll(true)
        .allValue('.*'),
    )
    .link(
      new DashboardLinkBuilder('spanstat')
        .type(DashboardLinkType.Dashboards)
        .tags(['spanstat'])
        .asDropdown(true)
        .includeVars(true)
        .keepTime(true),
    );
}
