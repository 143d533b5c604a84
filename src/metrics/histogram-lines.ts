/**
 * Histogram lines for exporter-prometheus's PrometheusSerializer, with each point's labels written once.
 *
 * The stock serializer re-escapes and re-sanitizes a point's labels for every one of its lines (count, sum
 * and each bucket: 16 per query series), so at the series cap (2000 per metric, 10k statement shapes) a
 * scrape took ~260 ms of the event loop for 5.3 MB of text; with the labels written once per point it
 * takes ~65 ms for the same text, byte for byte (bench/report-api.bench.ts has the scrape figure;
 * test/unit/metrics-histogram-lines.test.ts compares the output with the stock serializer's). Written by
 * hand because the library is the bottleneck here; everything else (collect, names, HELP/TYPE, counters,
 * gauges, target_info) stays the library's.
 */

import type { Attributes } from '@opentelemetry/api';
import type { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import type { DataPoint, Histogram } from '@opentelemetry/sdk-metrics';

/** The serializer's per-point method this replaces (a private of the library, checked by the test). */
const METHOD = '_serializeHistogramDataPoint';

/** Makes `serializer` write histogram points with this module's writer; false if the library changed shape. */
export function writeHistogramLabelsOnce(serializer: PrometheusSerializer): boolean {
  const target = serializer as unknown as Record<string, unknown>;
  if (typeof target[METHOD] !== 'function') return false;
  target[METHOD] = histogramLines;
  return true;
}

/** As the library's `escapeAttributeValue`: non-strings as JSON; backslash, newline and quote escaped. */
function labelValue(value: unknown): string {
  const text = typeof value === 'string' ? value : value === undefined ? '' : JSON.stringify(value);
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/** As the library's `sanitizePrometheusMetricName` on label names. */
function labelName(name: string): string {
  return name.replace(/[^a-z0-9_]/gi, '_').replace(/_{2,}/g, '_');
}

function labelList(attributes: Attributes, additional: Attributes | undefined): string {
  let out = '';
  for (const [key, value] of Object.entries(attributes))
    out += `${out ? ',' : ''}${labelName(key)}="${labelValue(value)}"`;
  if (additional)
    for (const [key, value] of Object.entries(additional))
      out += `${out ? ',' : ''}${labelName(key)}="${labelValue(value)}"`;
  return out;
}

function sample(value: number): string {
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return `${value}`;
}

/**
 * The library's histogram point lines: `_count`, `_sum`, then cumulative `_bucket` lines with `le`
 * (`+Inf` for the last, however the aggregation lists it). No timestamps (the serializer is built without).
 */
function histogramLines(
  name: string,
  _metric: unknown,
  point: DataPoint<Histogram>,
  additional: Attributes | undefined,
): string {
  const labels = labelList(point.attributes, additional);
  const braced = labels ? `{${labels}}` : '';
  const histogram = point.value;
  let out = '';
  if (histogram.count != null) out += `${name}_count${braced} ${sample(histogram.count)}\n`;
  if (histogram.sum != null) out += `${name}_sum${braced} ${sample(histogram.sum)}\n`;
  const bucket = labels ? `${name}_bucket{${labels},le="` : `${name}_bucket{le="`;
  const { boundaries, counts } = histogram.buckets;
  let cumulative = 0;
  let infinityListed = false;
  for (let i = 0; i < counts.length; i++) {
    cumulative += counts[i];
    const upper = boundaries[i];
    if (upper === undefined && infinityListed) break;
    if (upper === Number.POSITIVE_INFINITY) infinityListed = true;
    const le = upper === undefined || upper === Number.POSITIVE_INFINITY ? '+Inf' : String(upper);
    out += `${bucket}${le}"} ${sample(cumulative)}\n`;
  }
  return out;
}
