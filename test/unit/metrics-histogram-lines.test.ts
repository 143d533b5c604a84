import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  type MetricData,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { writeHistogramLabelsOnce } from '../../src/metrics/histogram-lines';

const TIME: [number, number] = [1_767_000_000, 0];

function histogram(
  name: string,
  points: { attributes: Record<string, unknown>; boundaries: number[]; counts: number[]; sum?: number }[],
): MetricData {
  return {
    descriptor: { name, description: `${name} help`, unit: 's', valueType: 1, type: 'HISTOGRAM' } as never,
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.HISTOGRAM,
    dataPoints: points.map((p) => ({
      startTime: TIME,
      endTime: TIME,
      attributes: p.attributes as never,
      value: {
        buckets: { boundaries: p.boundaries, counts: p.counts },
        sum: p.sum,
        count: p.counts.reduce((a, b) => a + b, 0),
      },
    })),
  } as MetricData;
}

function resourceMetrics(metrics: MetricData[]): ResourceMetrics {
  return {
    resource: resourceFromAttributes({ 'service.name': 'spanstat' }),
    scopeMetrics: [{ scope: { name: 'spanstat' }, metrics }],
  };
}

/** Every shape of label the stock serializer escapes or sanitizes, and both ways of listing +Inf. */
const TRICKY = resourceMetrics([
  histogram('spanstat_db_query_duration_seconds', [
    {
      attributes: {
        service: 'shop',
        fingerprint: 'a1b2',
        statement: 'SELECT "x" FROM t WHERE a = \'\\\\\'\n',
      },
      boundaries: [0.001, 0.01, 0.1],
      counts: [1, 5, 2, 1],
      sum: 0.42,
    },
    { attributes: {}, boundaries: [0.5, 1], counts: [0, 0, 3], sum: 4.5 },
    {
      attributes: {
        'http.route': '/a/:id',
        'weird-name.x': 'v',
        n: 3,
        flag: true,
        list: ['a', 'b'],
        none: null,
      },
      boundaries: [1, 2, Number.POSITIVE_INFINITY],
      counts: [1, 1, 1],
      sum: Number.POSITIVE_INFINITY,
    },
    { attributes: { service: 'no-sum' }, boundaries: [1], counts: [2, 0] },
    // +Inf listed as a boundary and a count past it: the stock serializer stops at +Inf.
    {
      attributes: { service: 'inf-listed' },
      boundaries: [1, Number.POSITIVE_INFINITY],
      counts: [1, 1, 0],
      sum: 3,
    },
  ]),
  histogram('spanstat_http_server_request_db_queries', [
    { attributes: { service: 'shop', route: '/' }, boundaries: [0, 1, 2], counts: [0, 7, 0, 1], sum: 10 },
  ]),
]);

describe('histogram lines with labels written once per point', () => {
  it('write exactly what the stock PrometheusSerializer writes, with and without scope labels', () => {
    for (const withoutScopeInfo of [true, false]) {
      const stock = new PrometheusSerializer('', false, undefined, false, withoutScopeInfo);
      const patched = new PrometheusSerializer('', false, undefined, false, withoutScopeInfo);
      expect(writeHistogramLabelsOnce(patched)).toBe(true);
      const text = patched.serialize(TRICKY);
      expect(text).toBe(stock.serialize(TRICKY));
      // The comparison is not vacuous: the text has the escaped label and both +Inf listings.
      expect(text).toContain('statement="SELECT \\"x\\" FROM t WHERE a = \'\\\\\\\\\'\\n"');
      expect(text).toContain(
        'spanstat_db_query_duration_seconds_bucket{http_route="/a/:id",weird_name_x="v"',
      );
      expect(text.match(/le="\+Inf"/g)).toHaveLength(6);
    }
  });

  it("replaces the library's per-point method (an upgrade that renames it fails here, not silently)", () => {
    const serializer = new PrometheusSerializer('', false, undefined, false, true);
    const before = (serializer as unknown as Record<string, unknown>)._serializeHistogramDataPoint;
    expect(writeHistogramLabelsOnce(serializer)).toBe(true);
    expect((serializer as unknown as Record<string, unknown>)._serializeHistogramDataPoint).not.toBe(before);
  });
});
