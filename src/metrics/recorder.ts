import type { Attributes } from '@opentelemetry/api';
import { NO_EXPIRY } from '../model/attributes';
import type { CacheCall, DbCall, NamespaceReads, PoolConnect, PoolUsageSample } from '../model/classified';
import type { RequestSummary } from '../model/request-summary';
import type { SpanSink } from '../pipeline/span-sink';
import { METRICS, type MetricDef, type MetricKey, OVERFLOW_VALUE } from './names';
import { PoolUsage } from './pool-usage';
import { CounterSeries, HistogramSeries } from './series';
import { BoundedSeries } from './series-cap';
import { SeriesMemo } from './series-memo';
import type { SnapshotSource } from './snapshot-producer';
import { shortenText } from './sources';

export interface RecorderOptions {
  /** Distinct label sets per metric before new ones go to the `__overflow__` series. */
  maxSeriesPerMetric: number;
  /** Longest statement on spanstat_db_query_info (characters). */
  maxStatementChars: number;
  /** A fingerprint run this many times in one request counts as an N+1 occurrence. */
  nPlusOneMinCalls: number;
  /** Clock for the pool-usage window. */
  now: () => number;
}

interface InfoSeries {
  attributes: Attributes;
}

const STATUS_CLASSES = ['unknown', '1xx', '2xx', '3xx', '4xx', '5xx', 'error'] as const;
/**
 * A failed unit without a status code (a job or consumer run with an ERROR status): `error`, so its
 * failures show beside HTTP 5xx without a label of their own.
 */
const FAILED_WITHOUT_STATUS = 6;

/** Index into STATUS_CLASSES: 1–5 for 100–599, 0 for anything else. */
function statusClassIndex(status: number): number {
  return status >= 100 && status < 600 ? Math.floor(status / 100) : 0;
}

/** `2xx` … `5xx`; `unknown` for 0 or anything outside 100–599. */
export function statusClass(status: number): string {
  return STATUS_CLASSES[statusClassIndex(status)];
}

/**
 * The series every request of one (service, method, route) records into, resolved once (SeriesMemo):
 * a request then costs one Map look-up instead of six label-tree walks.
 */
interface EndpointSeries {
  service: string;
  method: string;
  /** By status class index, resolved on first use. */
  duration: (HistogramSeries | undefined)[];
  queries: HistogramSeries;
  db: CounterSeries;
  cache: CounterSeries;
  poolWait: CounterSeries;
  other: CounterSeries;
}

/** A query's duration series by its other labels; the Map key is the fingerprint. */
interface QuerySeries {
  service: string;
  system: string;
  operation: string;
  table: string;
  duration: HistogramSeries;
}

/** A cache call's series by its other labels; the Map key is the namespace. Counters resolve on first use. */
interface KeySeries {
  service: string;
  system: string;
  command: string;
  duration: HistogramSeries;
  hit: CounterSeries | undefined;
  miss: CounterSeries | undefined;
  unknown: CounterSeries | undefined;
  writes: CounterSeries | undefined;
  /** Namespace-level (no command label), shared by the namespace's command series. */
  noExpiry: CounterSeries | undefined;
}

/**
 * Turns classified spans and request summaries into metric series. Pure state, no I/O: the
 * exporter reads it at scrape time through `sources()`. Every store is bounded by
 * `maxSeriesPerMetric`, so memory is too, whatever the input.
 */
export class MetricsRecorder implements SpanSink {
  private readonly dbDuration: BoundedSeries<HistogramSeries>;
  /** Same labels as the duration; one extra counter per query series, created on first error. */
  private readonly dbErrors = new Map<HistogramSeries, CounterSeries>();
  private readonly dbInfo: BoundedSeries<InfoSeries>;
  /** Query series already mapped to an info series (statement kept from the first call seen). */
  private readonly infoSeen = new Set<HistogramSeries>();
  private readonly nPlusOne: BoundedSeries<CounterSeries>;
  private readonly poolWait: BoundedSeries<HistogramSeries>;
  private readonly pools: PoolUsage;
  private readonly cacheReads: BoundedSeries<CounterSeries>;
  private readonly cacheWrites: BoundedSeries<CounterSeries>;
  private readonly cacheNoExpiry: BoundedSeries<CounterSeries>;
  private readonly cacheDuration: BoundedSeries<HistogramSeries>;
  private readonly httpDuration: BoundedSeries<HistogramSeries>;
  private readonly httpComponent: BoundedSeries<CounterSeries>;
  private readonly httpQueries: BoundedSeries<HistogramSeries>;
  /** By route (usually one service and method each), fingerprint and namespace; bounded like a metric. */
  private readonly endpointSeries: SeriesMemo<EndpointSeries>;
  private readonly querySeries: SeriesMemo<QuerySeries>;
  private readonly keySeries: SeriesMemo<KeySeries>;

  constructor(private readonly options: RecorderOptions) {
    const max = options.maxSeriesPerMetric;
    this.endpointSeries = new SeriesMemo(max);
    this.querySeries = new SeriesMemo(max);
    this.keySeries = new SeriesMemo(max);
    const histograms = (key: MetricKey) => {
      const def: MetricDef = METRICS[key];
      const buckets = def.buckets ?? [];
      return new BoundedSeries(def, max, (a) => new HistogramSeries(a, buckets));
    };
    const counters = (key: MetricKey) => new BoundedSeries(METRICS[key], max, (a) => new CounterSeries(a));
    this.dbDuration = histograms('dbQueryDuration');
    // One info series per (service, fingerprint), statement from the first call seen: two texts for one
    // fingerprint would break `group_left(statement)` joins in the rules and dashboards.
    const infoKey: MetricDef = { ...METRICS.dbQueryInfo, labels: ['service', 'fingerprint'] };
    this.dbInfo = new BoundedSeries<InfoSeries>(infoKey, max, (attributes) => ({ attributes }));
    this.nPlusOne = counters('dbNPlusOne');
    this.poolWait = histograms('dbPoolWaitDuration');
    this.pools = new PoolUsage(options.now);
    this.cacheReads = counters('cacheReads');
    this.cacheWrites = counters('cacheWrites');
    this.cacheNoExpiry = counters('cacheWritesWithoutExpiry');
    this.cacheDuration = histograms('cacheCommandDuration');
    this.httpDuration = histograms('httpRequestDuration');
    this.httpComponent = counters('httpRequestComponentTime');
    this.httpQueries = histograms('httpRequestDbQueries');
  }

  recordDbCall(c: DbCall): void {
    const series = this.querySeriesOf(c);
    series.record(c.durationMs / 1000);
    if (c.error) {
      let errors = this.dbErrors.get(series);
      if (!errors) {
        errors = new CounterSeries(series.attributes);
        this.dbErrors.set(series, errors);
      }
      errors.value++;
    }
  }

  recordCacheCall(c: CacheCall): void {
    const series = this.keySeriesOf(c);
    series.duration.record(c.durationMs / 1000);
    if (c.read) {
      if (c.hits > 0) {
        series.hit ??= this.cacheReads.get(labels5(c.service, c.system, c.namespace, c.command, 'hit'));
        series.hit.value += c.hits;
      }
      if (c.misses > 0) {
        series.miss ??= this.cacheReads.get(labels5(c.service, c.system, c.namespace, c.command, 'miss'));
        series.miss.value += c.misses;
      }
      if (c.hits === 0 && c.misses === 0) {
        series.unknown ??= this.cacheReads.get(
          labels5(c.service, c.system, c.namespace, c.command, 'unknown'),
        );
        series.unknown.value++;
      }
    }
    if (c.write) {
      series.writes ??= this.cacheWrites.get(labels4(c.service, c.system, c.namespace, c.command));
      series.writes.value++;
      if (c.ttlSeconds === NO_EXPIRY) {
        series.noExpiry ??= this.cacheNoExpiry.get(labels3(c.service, c.system, c.namespace));
        series.noExpiry.value++;
      }
    }
    if (c.otherNamespaceReads !== undefined) this.recordOtherNamespaceReads(c, c.otherNamespaceReads);
  }

  /** Hits and misses of an MGET's keys outside its first key's namespace (rare: no memo). */
  private recordOtherNamespaceReads(c: CacheCall, others: readonly NamespaceReads[]): void {
    for (const reads of others) {
      if (reads.hits > 0)
        this.cacheReads.get(labels5(c.service, c.system, reads.namespace, c.command, 'hit')).value +=
          reads.hits;
      if (reads.misses > 0)
        this.cacheReads.get(labels5(c.service, c.system, reads.namespace, c.command, 'miss')).value +=
          reads.misses;
    }
  }

  recordPoolConnect(c: PoolConnect): void {
    const series = this.poolWait.get(labels3(c.service, c.system, c.pool));
    series.record(c.durationMs / 1000);
    this.pools.record(series.attributes, c.poolInUse, c.poolMax);
  }

  recordPoolUsage(s: PoolUsageSample): void {
    // The wait histogram's series names the pool and holds its place under the series cap (without
    // an observation it is not exported).
    const series = this.poolWait.get(labels3(s.service, s.system, s.pool));
    this.pools.record(series.attributes, s.poolInUse, s.poolMax, s.poolWaiting);
  }

  recordRequest(r: RequestSummary): void {
    const endpoint = this.endpointOf(r.service, r.method, r.route);
    const classIndex = r.status === 0 && r.error ? FAILED_WITHOUT_STATUS : statusClassIndex(r.status);
    let duration = endpoint.duration[classIndex];
    if (duration === undefined) {
      duration = this.httpDuration.get(labels4(r.service, r.method, r.route, STATUS_CLASSES[classIndex]));
      endpoint.duration[classIndex] = duration;
    }
    duration.record(r.durationMs / 1000);
    endpoint.queries.record(r.queries);
    const other = Math.max(0, r.durationMs - r.dbMs - r.cacheMs - r.poolWaitMs);
    endpoint.db.value += r.dbMs / 1000;
    endpoint.cache.value += r.cacheMs / 1000;
    endpoint.poolWait.value += r.poolWaitMs / 1000;
    endpoint.other.value += other / 1000;
    for (const use of r.fingerprints) {
      if (use.calls >= this.options.nPlusOneMinCalls) {
        this.nPlusOne.get(labels4(r.service, r.method, r.route, use.fingerprint)).value++;
      }
    }
  }

  /** The duration series of a query's labels, remembered by fingerprint (see QuerySeries). */
  private querySeriesOf(c: DbCall): HistogramSeries {
    for (const q of this.querySeries.seen(c.fingerprint)) {
      if (
        q.service === c.service &&
        q.system === c.system &&
        q.operation === c.operation &&
        q.table === c.table
      )
        return q.duration;
    }
    const duration = this.dbDuration.get(labels5(c.service, c.system, c.fingerprint, c.operation, c.table));
    // The overflow series has no single statement to show.
    if (!this.infoSeen.has(duration) && duration.attributes.fingerprint !== OVERFLOW_VALUE) {
      this.infoSeen.add(duration);
      const info = this.dbInfo.get(labels2(c.service, c.fingerprint));
      if (info.attributes.statement === undefined && info.attributes.fingerprint !== OVERFLOW_VALUE) {
        info.attributes.statement = shortenText(c.statement, this.options.maxStatementChars);
      }
    }
    this.querySeries.remember(c.fingerprint, {
      service: c.service,
      system: c.system,
      operation: c.operation,
      table: c.table,
      duration,
    });
    return duration;
  }

  /** The series of a cache call's labels, remembered by namespace (see KeySeries). */
  private keySeriesOf(c: CacheCall): KeySeries {
    for (const k of this.keySeries.seen(c.namespace)) {
      if (k.service === c.service && k.system === c.system && k.command === c.command) return k;
    }
    const series: KeySeries = {
      service: c.service,
      system: c.system,
      command: c.command,
      duration: this.cacheDuration.get(labels4(c.service, c.system, c.namespace, c.command)),
      hit: undefined,
      miss: undefined,
      unknown: undefined,
      writes: undefined,
      noExpiry: undefined,
    };
    this.keySeries.remember(c.namespace, series);
    return series;
  }

  /** The series of an endpoint's requests, remembered by route (see EndpointSeries). */
  private endpointOf(service: string, method: string, route: string): EndpointSeries {
    for (const endpoint of this.endpointSeries.seen(route)) {
      if (endpoint.service === service && endpoint.method === method) return endpoint;
    }
    const component = (name: string) => this.httpComponent.get(labels4(service, method, route, name));
    const endpoint: EndpointSeries = {
      service,
      method,
      duration: [undefined, undefined, undefined, undefined, undefined, undefined, undefined],
      queries: this.httpQueries.get(labels3(service, method, route)),
      db: component('db'),
      cache: component('cache'),
      poolWait: component('pool_wait'),
      other: component('other'),
    };
    this.endpointSeries.remember(route, endpoint);
    return endpoint;
  }

  /** The recorded metrics, read at scrape time. */
  sources(): SnapshotSource[] {
    const counterPoints = (store: BoundedSeries<CounterSeries>) => () => store.all();
    const pools = () => this.pools.snapshot();
    return [
      { def: METRICS.dbQueryDuration, histograms: () => this.dbDuration.all() },
      { def: METRICS.dbQueryErrors, points: () => this.dbErrors.values() },
      {
        def: METRICS.dbQueryInfo,
        points: () =>
          [...this.dbInfo.all()]
            .filter((s) => s.attributes.statement !== undefined)
            .map((s) => ({ value: 1, attributes: s.attributes })),
      },
      { def: METRICS.dbNPlusOne, points: counterPoints(this.nPlusOne) },
      { def: METRICS.dbPoolWaitDuration, histograms: () => this.poolWait.all() },
      {
        def: METRICS.dbPoolClientsInUse,
        points: () => pools().map((p) => ({ value: p.inUsePeak, attributes: p.attributes })),
      },
      {
        def: METRICS.dbPoolClientsMax,
        points: () =>
          pools()
            .filter((p) => p.max > 0)
            .map((p) => ({ value: p.max, attributes: p.attributes })),
      },
      {
        def: METRICS.dbPoolWaiting,
        points: () =>
          pools()
            .filter((p) => p.waitingPeak >= 0)
            .map((p) => ({ value: p.waitingPeak, attributes: p.attributes })),
      },
      { def: METRICS.cacheReads, points: counterPoints(this.cacheReads) },
      { def: METRICS.cacheWrites, points: counterPoints(this.cacheWrites) },
      { def: METRICS.cacheWritesWithoutExpiry, points: counterPoints(this.cacheNoExpiry) },
      { def: METRICS.cacheCommandDuration, histograms: () => this.cacheDuration.all() },
      { def: METRICS.httpRequestDuration, histograms: () => this.httpDuration.all() },
      { def: METRICS.httpRequestComponentTime, points: counterPoints(this.httpComponent) },
      { def: METRICS.httpRequestDbQueries, histograms: () => this.httpQueries.all() },
      { def: METRICS.seriesOverflow, points: () => this.overflowPoints() },
    ];
  }

  private overflowPoints(): { value: number; attributes: Attributes }[] {
    const stores: [MetricKey, { overflowed: number }][] = [
      ['dbQueryDuration', this.dbDuration],
      ['dbQueryInfo', this.dbInfo],
      ['dbNPlusOne', this.nPlusOne],
      ['dbPoolWaitDuration', this.poolWait],
      ['cacheReads', this.cacheReads],
      ['cacheWrites', this.cacheWrites],
      ['cacheWritesWithoutExpiry', this.cacheNoExpiry],
      ['cacheCommandDuration', this.cacheDuration],
      ['httpRequestDuration', this.httpDuration],
      ['httpRequestComponentTime', this.httpComponent],
      ['httpRequestDbQueries', this.httpQueries],
    ];
    return stores.map(([key, store]) => ({
      value: store.overflowed,
      attributes: { metric: METRICS[key].name },
    }));
  }
}

// Label values go to BoundedSeries.get in arrays reused across calls: get only reads them (a new series
// copies the values into its attributes) and recording is synchronous, so recording a span allocates no
// array per metric.
const K2 = ['', ''];
const K3 = ['', '', ''];
const K4 = ['', '', '', ''];
const K5 = ['', '', '', '', ''];

function labels2(a: string, b: string): string[] {
  K2[0] = a;
  K2[1] = b;
  return K2;
}

function labels3(a: string, b: string, c: string): string[] {
  K3[0] = a;
  K3[1] = b;
  K3[2] = c;
  return K3;
}

function labels4(a: string, b: string, c: string, d: string): string[] {
  K4[0] = a;
  K4[1] = b;
  K4[2] = c;
  K4[3] = d;
  return K4;
}

function labels5(a: string, b: string, c: string, d: string, e: string): string[] {
  K5[0] = a;
  K5[1] = b;
  K5[2] = c;
  K5[3] = d;
  K5[4] = e;
  return K5;
}
