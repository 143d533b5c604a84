import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AMTOOL_BIN, ensurePromToolsInstalled, PROMTOOL_BIN } from '../../scripts/lib/prom-servers';

const CONFIG = join(__dirname, '..', '..', 'config');

function run(bin: string, args: string[], cwd = CONFIG) {
  const result = spawnSync(bin, args, { encoding: 'utf8', cwd });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** `promtool test rules` on one test of PromQL expressions (no rule files) over `series`, minute by minute. */
function promqlTest(name: string, series: string[], exprTests: string[]) {
  const test = [
    'rule_files: []',
    'evaluation_interval: 1m',
    'tests:',
    '  - interval: 1m',
    '    input_series:',
    ...series,
    '    promql_expr_test:',
    ...exprTests,
  ].join('\n');
  writeFileSync(join(scratch, name), `${test}\n`);
  return run(PROMTOOL_BIN, ['test', 'rules', name], scratch);
}

ensurePromToolsInstalled();
const scratch = mkdtempSync(join(tmpdir(), 'spanstat-promtool-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('alerting config with the real Prometheus tools', () => {
  it('promtool accepts the alert rules', () => {
    const { status, output } = run(PROMTOOL_BIN, ['check', 'rules', 'alerts.yml']);
    expect(output).toContain('SUCCESS: 18 rules found');
    expect(status).toBe(0);
  });

  it('promtool unit tests pass: every alert fires in one case and stays quiet in another', () => {
    const { status, output } = run(PROMTOOL_BIN, ['test', 'rules', 'alerts.test.yml']);
    expect(output).toContain('SUCCESS');
    expect(status).toBe(0);
  });

  it('promtool unit tests fail when an expected annotation is wrong', () => {
    // Guards the guard: a wrong expectation must make `promtool test rules` exit non-zero.
    copyFileSync(join(CONFIG, 'alerts.yml'), join(scratch, 'alerts.yml'));
    const broken = readFileSync(join(CONFIG, 'alerts.test.yml'), 'utf8').replace('242.5ms', '241ms');
    writeFileSync(join(scratch, 'alerts.test.yml'), broken);
    const { status, output } = run(PROMTOOL_BIN, ['test', 'rules', 'alerts.test.yml'], scratch);
    expect(output).toContain('FAILED');
    expect(status).not.toBe(0);
  });

  it('promtool accepts the compose Prometheus config with its rule file', () => {
    const { status, output } = run(PROMTOOL_BIN, ['check', 'config', 'prometheus.yml']);
    expect(output).toContain('is valid prometheus config file syntax');
    expect(status).toBe(0);
  });

  it("the dashboards' 5xx ratio panels read a ratio in Prometheus's own engine (promtool), not a count", () => {
    // One route, 10 requests a minute of which 2 are 5xx, another with none: ratios 0.2 and 0.
    const panelExpr = (file: string, title: string): string => {
      const dashboard = JSON.parse(readFileSync(join(CONFIG, '..', 'grafana', 'dashboards', file), 'utf8'));
      const panel = dashboard.panels.find((p: { title?: string }) => p.title === title);
      return (panel.targets[0].expr as string)
        .replaceAll('$service', '.*')
        .replaceAll('$__rate_interval', '5m')
        .replaceAll('$__range', '5m');
    };
    const series = (route: string, status: string, perMinute: number) =>
      `      - series: 'spanstat_http_server_request_duration_seconds_count{service="shop",method="GET",route="${route}",status_class="${status}"}'\n` +
      `        values: '0+${perMinute}x20'`;
    const expr = panelExpr('spanstat-overview.json', '5xx ratio by route');
    const { status, output } = promqlTest(
      'ratio.test.yml',
      [series('/a', '2xx', 8), series('/a', '5xx', 2), series('/b', '2xx', 5)],
      [
        `      - expr: '${expr.replaceAll("'", "''")}'`,
        '        eval_time: 10m',
        '        exp_samples:',
        '          - labels: \'{service="shop",method="GET",route="/a"}\'',
        '            value: 0.2',
        '          - labels: \'{service="shop",method="GET",route="/b"}\'',
        '            value: 0',
      ],
    );
    expect(output).toContain('SUCCESS');
    expect(status).toBe(0);
  });

  it("the dashboards' Deploys annotation marks a new version, not a new pod or restarted sidecar reporting a running one", () => {
    const dashboard = JSON.parse(
      readFileSync(join(CONFIG, '..', 'grafana', 'dashboards', 'spanstat-overview.json'), 'utf8'),
    );
    const annotation = dashboard.annotations.list.find((a: { name: string }) => a.name === 'Deploys');
    const expr = (annotation.expr as string).replaceAll('$service', '.*');
    const series = (instance: string, version: string, values: string) =>
      `      - series: 'spanstat_service_version_info{service="shop",version="${version}",instance="${instance}"}'\n` +
      `        values: '${values}'`;
    // Scrapes a minute apart: pod a runs 1.4.1 until minute 10; its replacement, pod b (its sidecar new, or
    // restarted with its state file), reports 1.4.1 from minute 11 and 1.4.2 from minute 16.
    const at = (minute: number, samples: string[]) =>
      [
        `      - expr: '${expr.replaceAll("'", "''")}'`,
        `        eval_time: ${minute}m`,
        `        exp_samples:${samples.length === 0 ? ' []' : ''}`,
        ...samples.map((labels) => `          - labels: '${labels}'\n            value: 1`),
      ].join('\n');
    const { status, output } = promqlTest(
      'deploys.test.yml',
      [
        series('pod-a:9464', '1.4.1', '1x10'),
        series('pod-b:9464', '1.4.1', '_x10 1x10'),
        series('pod-b:9464', '1.4.2', '_x15 1x5'),
      ],
      [
        at(0, ['{service="shop",version="1.4.1"}']),
        at(11, []),
        at(12, []),
        at(16, ['{service="shop",version="1.4.2"}']),
        at(19, []),
      ],
    );
    expect(output).toContain('SUCCESS');
    expect(status).toBe(0);
  });

  it("the dashboards' recommendation counts count an id reported by two sidecars once", () => {
    const dashboards = ['spanstat-overview.json', 'spanstat-recommendations.json'].map((file) =>
      JSON.parse(readFileSync(join(CONFIG, '..', 'grafana', 'dashboards', file), 'utf8')),
    );
    const exprs = dashboards.flatMap((d: { panels: { title: string; targets?: { expr: string }[] }[] }) =>
      d.panels
        .filter((p) => p.title.startsWith('Active'))
        .flatMap((p) => (p.targets ?? []).map((t) => t.expr.replaceAll('$service', '.*')))
        .filter((e) => e.startsWith('count')),
    );
    expect(exprs).toHaveLength(3); // overview's count, the recommendations dashboard's count and by-kind series
    const series = (instance: string, id: string, kind: string) =>
      `      - series: 'spanstat_recommendation_active{service="shop",id="${id}",kind="${kind}",severity="warning",target="t",instance="${instance}"}'\n` +
      `        values: '1x5'`;
    const { status, output } = promqlTest(
      'recommendation-counts.test.yml',
      [
        series('pod-a:9464', 'r1', 'n-plus-one'),
        series('pod-b:9464', 'r1', 'n-plus-one'),
        series('pod-b:9464', 'r2', 'missing-index'),
      ],
      exprs.map((expr) =>
        [
          `      - expr: '${expr.replaceAll("'", "''")}'`,
          '        eval_time: 2m',
          '        exp_samples:',
          ...(expr.startsWith('count by (kind)')
            ? [
                '          - labels: \'{kind="n-plus-one"}\'',
                '            value: 1',
                '          - labels: \'{kind="missing-index"}\'',
                '            value: 1',
              ]
            : ["          - labels: '{}'", '            value: 2']),
        ].join('\n'),
      ),
    );
    expect(output).toContain('SUCCESS');
    expect(status).toBe(0);
  });

  it('amtool accepts the Alertmanager config', () => {
    const { status, output } = run(AMTOOL_BIN, ['check-config', 'alertmanager.yml']);
    expect(output).toContain('SUCCESS');
    expect(status).toBe(0);
  });
});
