import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { dashboardQueries, renderDashboards } from '../../grafana/generator';
import {
  DELETE_COMMANDS,
  EXPIRY_COMMANDS,
  MEMBERSHIP_READ_COMMANDS,
} from '../../src/cache-keys/redis-commands';
import {
  allSeriesNames,
  DASHBOARDS,
  GRAFANA_BASE_URL,
  LABELS,
  METRICS,
  type MetricDef,
  SPANSTAT_BASE_URL,
} from '../../src/metrics';

const ROOT = join(__dirname, '..', '..');
const DEFS = Object.values(METRICS) as MetricDef[];

interface Rule {
  alert: string;
  expr: string;
  labels?: Record<string, string>;
  annotations: Record<string, string>;
}

function alertRules(): Rule[] {
  const doc = parse(readFileSync(join(ROOT, 'config', 'alerts.yml'), 'utf8')) as {
    groups: { rules: Rule[] }[];
  };
  return doc.groups.flatMap((g) => g.rules);
}

/** Metric names a PromQL expression selects: spanstat_* identifiers plus Prometheus' own `up`. */
function metricNames(expr: string): string[] {
  const names: string[] = [...(expr.match(/\bspanstat_[a-z0-9_]+\b/g) ?? [])];
  if (/\bup\{/.test(expr)) names.push('up');
  return names;
}

/** Label names an expression groups, joins or matches on. */
function labelNamesUsed(expr: string): string[] {
  const used: string[] = [];
  for (const m of expr.matchAll(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g)) {
    used.push(
      ...m[1]
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    );
  }
  for (const m of expr.matchAll(/\{([^}]*)\}/g)) {
    for (const matcher of m[1].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)) used.push(matcher[1]);
  }
  return used.filter((l) => l !== '__name__');
}

const KNOWN_SERIES = allSeriesNames();
const KNOWN_LABELS = new Set([...Object.values(LABELS).map((l) => l.name), 'le', 'job', 'instance']);

describe('metric names', () => {
  it('follow the Prometheus conventions: prefix, _total counters, base-unit suffixes', () => {
    for (const def of DEFS) {
      expect(def.name, def.name).toMatch(/^spanstat_[a-z][a-z0-9_]*[a-z0-9]$/);
      expect(def.name.endsWith('_total'), def.name).toBe(def.type === 'counter');
      if (def.unit) expect(def.name.replace(/_total$/, '').endsWith(`_${def.unit}`), def.name).toBe(true);
      if (def.name.endsWith('_info')) expect(def.type).toBe('gauge');
      expect(def.help.length, def.name).toBeGreaterThan(10);
    }
  });

  it('are unique, and histogram series names do not collide with other metrics', () => {
    const all = DEFS.flatMap((d) =>
      d.type === 'histogram' ? [d.name, `${d.name}_bucket`, `${d.name}_sum`, `${d.name}_count`] : [d.name],
    );
    expect(new Set(all).size).toBe(all.length);
  });

  it('give every histogram strictly ascending buckets and no other metric any', () => {
    for (const def of DEFS) {
      if (def.type !== 'histogram') {
        expect(def.buckets, def.name).toBeUndefined();
        continue;
      }
      expect(def.buckets?.length, def.name).toBeGreaterThan(4);
      const b = def.buckets ?? [];
      for (let i = 1; i < b.length; i++) expect(b[i], def.name).toBeGreaterThan(b[i - 1]);
    }
  });

  it('use valid label names that never clash with le', () => {
    for (const label of Object.values(LABELS)) expect(label.name).toMatch(/^[a-z][a-z0-9_]*$/);
    for (const def of DEFS) expect(def.labels as readonly string[]).not.toContain('le');
  });

  it('place the endpoint SLO (200 ms) and slow-query lines (100 and 500 ms) on bucket boundaries', () => {
    expect(METRICS.httpRequestDuration.buckets).toContain(0.2);
    expect(METRICS.dbQueryDuration.buckets).toContain(0.1);
    expect(METRICS.dbQueryDuration.buckets).toContain(0.5);
  });
});

describe('alert rules', () => {
  const rules = alertRules();

  it('only select metrics and labels that src/metrics/names.ts defines', () => {
    expect(rules.length).toBeGreaterThan(10);
    for (const rule of rules) {
      const names = metricNames(rule.expr);
      // Annotations may query metrics too (the recommendation texts).
      for (const text of Object.values(rule.annotations)) {
        for (const name of metricNames(text))
          expect(KNOWN_SERIES.has(name), `${rule.alert}: ${name}`).toBe(true);
      }
      expect(names.length, rule.alert).toBeGreaterThan(0);
      for (const name of names)
        expect(name === 'up' || KNOWN_SERIES.has(name), `${rule.alert}: ${name}`).toBe(true);
      for (const label of labelNamesUsed(rule.expr))
        expect(KNOWN_LABELS.has(label), `${rule.alert}: label ${label}`).toBe(true);
    }
  });

  it('leave exactly the advisor membership reads out of the cache hit rate', () => {
    const hitRateRules = rules.filter((r) => r.alert === 'SpanstatCacheHitRateLow');
    expect(hitRateRules.length).toBe(2);
    for (const rule of hitRateRules) {
      const selectors = rule.expr.match(/spanstat_cache_reads_total\{[^}]*\}/g) ?? [];
      expect(selectors.length, rule.expr).toBe(3);
      for (const selector of selectors) {
        const excluded = /command!~"([^"]*)"/.exec(selector)?.[1];
        expect(excluded?.split('|').sort(), selector).toEqual([...MEMBERSHIP_READ_COMMANDS].sort());
      }
    }
  });

  it("judge keys without expiry by the sidecar's own expiry and delete command lists", () => {
    const [rule] = rules.filter((r) => r.alert === 'SpanstatCacheKeysWithoutExpiry');
    const commandLists = [...rule.expr.matchAll(/command=~"([^"]*)"/g)].map((m) => m[1].split('|').sort());
    expect(commandLists).toEqual([[...EXPIRY_COMMANDS].sort(), [...DELETE_COMMANDS].sort()]);
  });

  it('carry what, where, the number, the action and a Grafana dashboard link', () => {
    const uids = new Set<string>(Object.values(DASHBOARDS).map((d) => d.uid));
    for (const rule of rules) {
      const a = rule.annotations;
      expect(Object.keys(a).sort(), rule.alert).toEqual(['action', 'dashboard', 'description', 'summary']);
      // The number: the alert's value, or for an advisor recommendation (value always 1) its title,
      // which quotes the advisor's numbers, and a link to its evidence.
      const number =
        rule.alert === 'SpanstatRecommendation'
          ? /label "title".*\/api\/v1\/recommendations/
          : /\{\{ \$value \| humanize\w* \}\}/;
      expect(a.description, rule.alert).toMatch(number);
      // The evidence: a sidecar API link a browser can open (SPANSTAT_BASE_URL), not the scraped address.
      if (rule.alert === 'SpanstatRecommendation')
        expect(a.description).toContain(`(evidence: ${SPANSTAT_BASE_URL}/api/v1/recommendations?`);
      expect(a.description, rule.alert).not.toMatch(/\/\/\{\{ *\$labels\.instance/);
      const link = new RegExp(`^${GRAFANA_BASE_URL.replace(/[.:/]/g, '\\$&')}/d/([a-z-]+)(\\?|$)`).exec(
        a.dashboard,
      );
      expect(link, `${rule.alert}: ${a.dashboard}`).not.toBeNull();
      expect(uids.has(link?.[1] ?? ''), `${rule.alert}: unknown dashboard ${link?.[1]}`).toBe(true);
      expect(
        rule.labels?.severity ?? (rule.expr.includes('severity') ? 'from-series' : undefined),
        rule.alert,
      ).toBeDefined();
    }
  });

  it('each have a firing and a quiet case in config/alerts.test.yml', () => {
    const doc = parse(readFileSync(join(ROOT, 'config', 'alerts.test.yml'), 'utf8')) as {
      tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
    };
    const cases = doc.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const name of new Set(rules.map((r) => r.alert))) {
      const mine = cases.filter((c) => c.alertname === name);
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length > 0),
        `${name} fires somewhere`,
      ).toBe(true);
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length === 0),
        `${name} stays quiet somewhere`,
      ).toBe(true);
    }
  });
});

describe('dashboard queries', () => {
  it('only select metrics and labels that src/metrics/names.ts defines', () => {
    let count = 0;
    for (const [file, json] of renderDashboards()) {
      for (const { panel, expr } of dashboardQueries(json)) {
        count++;
        const names = metricNames(expr);
        expect(names.length, `${file} ${panel}`).toBeGreaterThan(0);
        for (const name of names) expect(KNOWN_SERIES.has(name), `${file} ${panel}: ${name}`).toBe(true);
        for (const label of labelNamesUsed(expr)) {
          expect(KNOWN_LABELS.has(label), `${file} ${panel}: label ${label}`).toBe(true);
        }
      }
    }
    expect(count).toBeGreaterThan(30);
  });
});
