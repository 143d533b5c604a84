/**
 * A TracerProvider for the preload that does only what spanstat needs: always-on sampling, spans
 * that go to one processor when they end, and the ReadableSpan shape otlp-encode.ts reads.
 *
 * Why not the SDK's BasicTracerProvider: per span it runs the sampler, validates and sanitizes every
 * attribute, validates the parent's ids with regular expressions, keeps an anchored clock, checks
 * span limits and calls processors' onStart/onEnding — about 2.5% of the app's CPU in a profile of
 * the demo's pg+redis route (startSpan, SpanImpl, sanitizeAttributes, isValidHex, _getTime), for
 * ~3-5 spans a request. Here a span is one object with plain fields; ids come from a pooled
 * crypto.randomFillSync buffer (see randomHex). `preload-cpu-probe.ts --micro` (then: a SERVER span and a
 * CLIENT child, ended and OTLP-encoded, best of 6): SDK 12.2 / 8.0 / 12.7 µs → lean 5.6 / 5.3 / 7.8 µs
 * in three runs on the busy VM. On the demo route, with the Redis serializer fast path (redis-text.ts):
 * 1003 → 912 µs app CPU per request (no preload 730 µs; probe medians of 3 rounds, same run).
 *
 * Times are kept as epoch milliseconds (HrTime getters for ReadableSpan readers; otlp-encode.ts
 * writes the numbers), and spans share empty link/event arrays and the UNSET status until they
 * change them: heap allocated per SERVER+CLIENT pair 2254 → 1546 B, encoding 139 → 107 B
 * (heapUsed over 2000 pairs, semi-space large enough for no GC to run).
 *
 * Differences that are deliberate: `recordException` records nothing (the sidecar reads no span
 * events, and pg error messages can quote parameter values); attribute values are stored as given
 * (undefined and null are skipped), without the SDK's array copying and limits; at most
 * MAX_ATTRIBUTES attributes per span.
 */
import { randomFillSync } from 'node:crypto';
// Not the global: in Node 20 `globalThis.performance` is a getter, called on every read.
import { performance } from 'node:perf_hooks';
import {
  type Attributes,
  type AttributeValue,
  type Context,
  type Exception,
  type HrTime,
  INVALID_SPAN_CONTEXT,
  type Link,
  type Span,
  type SpanAttributes,
  type SpanContext,
  SpanKind,
  type SpanOptions,
  type SpanStatus,
  SpanStatusCode,
  type TimeInput,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import { isTracingSuppressed } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-base';
import { SPANSTAT_ATTR } from '../model/attributes';
import { setSpan } from './context-frame';
import { preloadContext } from './preload-context';

/** Attributes kept per span; more are counted as dropped (instrumentations set fewer than 10). */
export const MAX_ATTRIBUTES = 128;
const SAMPLED = 1;
const SERVER = SpanKind.SERVER;
const INVALID_TRACE_ID = INVALID_SPAN_CONTEXT.traceId;

/** What ended spans are handed to (the batch processor). */
export interface EndedSpanSink {
  onEnd(span: ReadableSpan): void;
}

// Random ids: one 4 KiB crypto fill serves 256 spans, and is turned into hex in one call; an id is
// then a substring of that text (a sliced string, no copy). `pool.toString('hex', start, end)` per id
// was a native call and a fresh string each: 170–200 ns against 50–57 ns per id in a micro-benchmark,
// and `hexSlice` ~2.4 µs per request of the demo route in a perf profile. A span also keeps where its
// ids' bytes are (`IdBytes`), so the encoder copies them instead of parsing the hex back: each fill
// is a new buffer, which the spans that point into it keep alive until they are encoded.
const POOL_BYTES = 4096;
let pool = Buffer.allocUnsafe(POOL_BYTES);
let poolHex = '';
let poolPos = POOL_BYTES;

/** Where an id's bytes are: `bytes[at .. at + length)`. */
export interface IdBytes {
  readonly bytes: Buffer;
  readonly at: number;
}

/** A fresh random id of `length` bytes: its hex, and (in `lastId`) where its bytes are. */
let lastId: IdBytes = { bytes: pool, at: 0 };

function randomHex(length: number): string {
  if (poolPos + length > POOL_BYTES) {
    pool = Buffer.allocUnsafe(POOL_BYTES);
    randomFillSync(pool);
    poolHex = pool.toString('hex');
    poolPos = 0;
  }
  const start = poolPos;
  poolPos += length;
  lastId = { bytes: pool, at: start };
  // An all-zero id is invalid; 2^-64 per span, but cheap to rule out.
  for (let i = start; i < poolPos; i++) if (pool[i] !== 0) return poolHex.substring(2 * start, 2 * poolPos);
  pool[start] = 1;
  return pool.toString('hex', start, poolPos);
}

/**
 * Attributes that many spans share unchanged (a client's `db.system.name`, `server.address`, …): a
 * span keeps a reference instead of copying them, and the encoder writes their bytes, encoded once
 * (otlp-encode.ts). Made by `shareAttributes`; the object is frozen.
 */
export interface SharedAttributes {
  readonly values: Attributes;
  /** Keys with a value, in the object's order. */
  readonly keys: readonly string[];
  /** The KeyValue fields (span field 9) of every key, filled by the encoder on first use. */
  encoded: Uint8Array | undefined;
}

const SHARED = Symbol('spanstat.sharedAttributes');

/**
 * Freezes `attributes` and marks them shared: the lean tracer then references them from every span
 * started with them (`startSpan(name, { attributes })`) instead of copying them; other tracers copy
 * them as usual. With the ids' bytes kept (randomHex), the span path alone took 13% less CPU
 * (`preload-cpu-probe.ts --micro --base`, the demo route's span mix; BENCHMARKS.md, session 11).
 */
export function shareAttributes<T extends Attributes>(attributes: T): T {
  const keys = Object.keys(attributes).filter(
    (key) => attributes[key] !== undefined && attributes[key] !== null,
  );
  const shared: SharedAttributes = { values: attributes, keys, encoded: undefined };
  Object.defineProperty(attributes, SHARED, { value: shared });
  return Object.freeze(attributes);
}

function sharedOf(attributes: Attributes): SharedAttributes | undefined {
  return (attributes as { [SHARED]?: SharedAttributes })[SHARED];
}

const timeOrigin = performance.timeOrigin;

/** Epoch milliseconds as HrTime; otlp-encode.ts's `epochMs` writes the same split without the array. */
function hrTime(epochMs: number): HrTime {
  const seconds = Math.floor(epochMs / 1000);
  return [seconds, Math.round((epochMs - seconds * 1000) * 1e6)];
}

/** Now in epoch milliseconds, from the monotonic clock like the SDK's. */
function nowMs(): number {
  return timeOrigin + performance.now();
}

/** TimeInput as the SDK reads it, in epoch milliseconds: numbers below timeOrigin are performance.now() values. */
export function toEpochMs(time: TimeInput | undefined): number {
  if (time === undefined) return nowMs();
  if (Array.isArray(time)) return time[0] * 1000 + time[1] / 1e6;
  if (typeof time === 'number') return time < timeOrigin ? timeOrigin + time : time;
  if (time instanceof Date) return time.getTime();
  return nowMs();
}

/** TimeInput as HrTime (epoch). */
export function toHrTime(time: TimeInput | undefined): HrTime {
  if (Array.isArray(time)) return time as HrTime;
  return hrTime(toEpochMs(time));
}

// Shared until a span adds its first link or event: most spans never do (two arrays fewer per span).
const NO_LINKS: Link[] = [];
const NO_EVENTS: TimedEvent[] = [];
const UNSET_STATUS: SpanStatus = Object.freeze({ code: SpanStatusCode.UNSET });

export class LeanTracerProvider implements TracerProvider {
  private readonly tracers = new Map<string, LeanTracer>();

  constructor(
    private readonly resource: Resource,
    private readonly sink: EndedSpanSink,
  ) {}

  getTracer(name: string, version?: string, options?: { schemaUrl?: string }): Tracer {
    const key = `${name}@${version ?? ''}:${options?.schemaUrl ?? ''}`;
    let tracer = this.tracers.get(key);
    if (tracer === undefined) {
      tracer = new LeanTracer(this.resource, { name, version, schemaUrl: options?.schemaUrl }, this.sink);
      this.tracers.set(key, tracer);
    }
    return tracer;
  }
}

export class LeanTracer implements Tracer {
  constructor(
    private readonly resource: Resource,
    private readonly scope: InstrumentationScope,
    private readonly sink: EndedSpanSink,
  ) {}

  startSpan(name: string, options: SpanOptions = {}, ctx: Context = preloadContext.active()): Span {
    if (isTracingSuppressed(ctx)) return trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
    const parentSpan = options.root ? undefined : trace.getSpan(ctx);
    const parent = parentSpan?.spanContext();
    // A LeanSpan's trace id is valid by construction. Comparing it (a sliced string) with the invalid
    // id goes character by character: ~38 ns per compare in a micro-benchmark, and String::SlowEquals
    // under startSpan in a profile of the demo route (~0.1–0.5 µs per request).
    const local = parentSpan instanceof LeanSpan ? parentSpan : undefined;
    const hasParent = parent !== undefined && (local !== undefined || parent.traceId !== INVALID_TRACE_ID);
    let traceIdBytes: IdBytes | undefined;
    let traceId: string;
    if (hasParent) {
      traceId = parent.traceId;
      traceIdBytes = local?.traceIdBytes;
    } else {
      traceId = randomHex(16);
      traceIdBytes = lastId;
    }
    const spanContext: SpanContext = {
      traceId,
      spanId: randomHex(8),
      traceFlags: SAMPLED,
      traceState: hasParent ? parent.traceState : undefined,
    };
    const kind = options.kind ?? 0;
    const span = new LeanSpan(
      this.sink,
      this.resource,
      this.scope,
      name,
      spanContext,
      kind,
      hasParent ? parent : undefined,
      toEpochMs(options.startTime),
      traceIdBytes,
      lastId,
      local?.spanIdBytes,
    );
    if (kind !== SERVER && local !== undefined) {
      const root = local.unitRoot ? local : local.localRoot;
      if (root !== null && !root.ended) {
        root.descendants++;
        span.localRoot = root;
      }
    }
    const attributes = options.attributes;
    if (attributes !== undefined) {
      const shared = sharedOf(attributes);
      if (shared === undefined) span.setAttributes(attributes);
      else span.shared = shared;
    }
    if (options.links !== undefined) span.addLinks(options.links);
    return span;
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, ...rest: unknown[]): ReturnType<F> {
    const fn = rest[rest.length - 1] as F;
    const options = (rest.length >= 2 ? rest[0] : undefined) as SpanOptions | undefined;
    const ctx = (rest.length >= 3 ? rest[1] : undefined) as Context | undefined;
    const parent = ctx ?? preloadContext.active();
    const span = this.startSpan(name, options, parent);
    return preloadContext.with(setSpan(parent, span), fn as (span: Span) => ReturnType<F>, undefined, span);
  }
}

export class LeanSpan implements Span, ReadableSpan {
  /**
   * Attributes in set order as `[key0, value0, key1, value1, …]`. Not an object: every span type
   * sets its own keys, so the one `attributes[key] = value` site went megamorphic (the preload's
   * hottest line once). Not a Map, as after that: a Map outgrows its first table at the fifth entry,
   * and every pg and Redis span has five or more (448 against 205 bytes for five; the demo route's
   * allocation per request below). Look-ups scan: spans carry fewer than ten attributes.
   */
  attributePairs: unknown[] = [];
  /** Attributes kept by reference, before attributePairs (see SharedAttributes); copied into them once the span changes one. */
  shared: SharedAttributes | undefined = undefined;
  links: Link[] = NO_LINKS;
  events: TimedEvent[] = NO_EVENTS;
  status: SpanStatus = UNSET_STATUS;
  /** End in epoch milliseconds; 0 until the span ends. Times are numbers, HrTime only on request. */
  endMs = 0;
  ended = false;
  droppedAttributesCount = 0;
  /**
   * A unit of work's root: a SERVER span, or a job's root (job-root.ts sets it right after start,
   * before any child exists). Spans started beneath it count in its `descendants`.
   */
  unitRoot: boolean;
  /**
   * The unit root this one was started beneath in this process (null for SERVER spans and roots),
   * and for a unit root the spans started beneath it while it ran: sent as `spanstat.descendants`, so
   * the sidecar knows when it has the whole request or job run (see SPANSTAT_ATTR.descendants).
   */
  localRoot: LeanSpan | null = null;
  descendants = 0;
  readonly droppedEventsCount = 0;
  readonly droppedLinksCount = 0;

  constructor(
    private readonly sink: EndedSpanSink,
    readonly resource: Resource,
    readonly instrumentationScope: InstrumentationScope,
    public name: string,
    private readonly context: SpanContext,
    readonly kind: SpanKind,
    readonly parentSpanContext: SpanContext | undefined,
    /** Start in epoch milliseconds. */
    readonly startMs: number,
    /** Where the id bytes are (undefined: a trace id from another process; the encoder parses the hex). */
    readonly traceIdBytes: IdBytes | undefined,
    readonly spanIdBytes: IdBytes,
    /** The parent's span id bytes when the parent is a span of this process. */
    readonly parentIdBytes: IdBytes | undefined,
  ) {
    this.unitRoot = kind === SERVER;
  }

  /** One attribute's value as set (a scan: spans carry fewer than ten). */
  attribute(key: string): unknown {
    const shared = this.shared;
    if (shared?.keys.includes(key)) return shared.values[key];
    const pairs = this.attributePairs;
    for (let i = 0; i < pairs.length; i += 2) if (pairs[i] === key) return pairs[i + 1];
    return undefined;
  }

  /** ReadableSpan's view (a fresh object; otlp-encode.ts reads shared and attributePairs instead). */
  get attributes(): Attributes {
    const attributes: Attributes = {};
    const shared = this.shared;
    if (shared !== undefined) for (const key of shared.keys) attributes[key] = shared.values[key];
    const pairs = this.attributePairs;
    for (let i = 0; i < pairs.length; i += 2) attributes[pairs[i] as string] = pairs[i + 1] as AttributeValue;
    return attributes;
  }

  get startTime(): HrTime {
    return hrTime(this.startMs);
  }

  get endTime(): HrTime {
    return this.ended ? hrTime(this.endMs) : [0, 0];
  }

  get duration(): HrTime {
    if (!this.ended) return [0, 0];
    const start = this.startTime;
    const end = this.endTime;
    let seconds = end[0] - start[0];
    let nanos = end[1] - start[1];
    if (nanos < 0) {
      seconds -= 1;
      nanos += 1e9;
    }
    return [seconds, nanos];
  }

  spanContext(): SpanContext {
    return this.context;
  }

  setAttribute(key: string, value: SpanAttributes[string]): this {
    if (this.ended || value === undefined || value === null) return this;
    const shared = this.shared;
    let sharedCount = 0;
    if (shared !== undefined) {
      if (shared.keys.includes(key)) this.unshare(shared);
      else sharedCount = shared.keys.length;
    }
    const pairs = this.attributePairs;
    for (let i = 0; i < pairs.length; i += 2) {
      if (pairs[i] === key) {
        pairs[i + 1] = value;
        return this;
      }
    }
    if (pairs.length + 2 * sharedCount >= 2 * MAX_ATTRIBUTES) {
      this.droppedAttributesCount++;
      return this;
    }
    pairs.push(key, value);
    return this;
  }

  /** Copies the shared attributes into attributePairs (a span changing one of them), order kept. */
  private unshare(shared: SharedAttributes): void {
    const pairs: unknown[] = [];
    for (const key of shared.keys) pairs.push(key, shared.values[key]);
    for (const item of this.attributePairs) pairs.push(item);
    this.attributePairs = pairs;
    this.shared = undefined;
  }

  setAttributes(attributes: SpanAttributes): this {
    for (const key in attributes) this.setAttribute(key, attributes[key]);
    return this;
  }

  addEvent(name: string, attributesOrTime?: SpanAttributes | TimeInput, time?: TimeInput): this {
    if (this.ended) return this;
    const isTime =
      Array.isArray(attributesOrTime) ||
      typeof attributesOrTime === 'number' ||
      attributesOrTime instanceof Date;
    if (this.events === NO_EVENTS) this.events = [];
    this.events.push({
      name,
      attributes: isTime ? undefined : (attributesOrTime as Attributes | undefined),
      time: toHrTime(isTime ? (attributesOrTime as TimeInput) : time),
      droppedAttributesCount: 0,
    });
    return this;
  }

  addLink(link: Link): this {
    if (this.ended) return this;
    if (this.links === NO_LINKS) this.links = [];
    this.links.push(link);
    return this;
  }

  addLinks(links: Link[]): this {
    for (const link of links) this.addLink(link);
    return this;
  }

  setStatus(status: SpanStatus): this {
    if (this.ended || status.code === SpanStatusCode.UNSET || this.status.code === SpanStatusCode.OK)
      return this;
    this.status =
      status.code === SpanStatusCode.ERROR && typeof status.message === 'string'
        ? { code: status.code, message: status.message }
        : { code: status.code };
    return this;
  }

  updateName(name: string): this {
    if (!this.ended) this.name = name;
    return this;
  }

  end(endTime?: TimeInput): void {
    if (this.ended) return;
    if (this.unitRoot) this.setAttribute(SPANSTAT_ATTR.descendants, this.descendants);
    this.ended = true;
    // A clock step between start and end: zero duration rather than a negative one.
    this.endMs = Math.max(toEpochMs(endTime), this.startMs);
    try {
      this.sink.onEnd(this);
    } catch {
      // The processor never throws; if it did, the app must not see it.
    }
  }

  isRecording(): boolean {
    return !this.ended;
  }

  recordException(_exception: Exception, _time?: TimeInput): void {
    // Deliberately nothing: see the module comment.
  }
}

/**
 * The request's SERVER span in the preload's context now (the active span's unit root), if it is one of
 * ours and still open: where a framework hook writes what it learnt of the request (its route, its
 * GraphQL operation).
 */
export function activeRequestSpan(): LeanSpan | undefined {
  const active = trace.getSpan(preloadContext.active());
  if (!(active instanceof LeanSpan)) return undefined;
  const root = active.unitRoot ? active : active.localRoot;
  return root !== null && root.kind === SpanKind.SERVER && !root.ended ? root : undefined;
}
