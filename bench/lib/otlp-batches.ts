/**
 * Realistic OTLP/HTTP protobuf export bodies for the sidecar benches, encoded by the real
 * OpenTelemetry JS serializer (otlp-transformer ProtobufTraceSerializer) from synthetic
 * ReadableSpans: per request an http server span, 1–4 pg queries (half of the statements with
 * inline literals), sometimes a pg-pool.connect, and 0–3 Redis commands on id-bearing keys.
 *
 * Encoding with the serializer costs ~10 µs per span, far too slow to feed millions of distinct
 * spans, so a few templates are encoded once and every send patches a copy in place: fixed-width
 * digit slots in SQL literals and Redis keys get a running counter (distinct raw SQL texts and
 * keys without re-encoding), and trace ids get the send number (no trace spans two sends).
 */
import { type Attributes, type HrTime, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { seededRandom } from './stats';

/** Digits in a SQL literal slot: up to 10^10 distinct values. */
export const SQL_SLOT_DIGITS = 10;
/** Digits in a Redis key id slot. */
export const KEY_SLOT_DIGITS = 6;

/** `{L}` marks a numeric literal slot, `{S}` a string literal slot (both patched per send). */
const SQL_TEMPLATES: readonly string[] = [
  'SELECT id, name, email, created_at FROM customers WHERE id = $1',
  'SELECT o.id, o.status, o.total, o.created_at FROM orders o WHERE o.customer_id = $1 AND o.status <> $2 ORDER BY o.created_at DESC LIMIT 10',
  'SELECT product_id, quantity, unit_price FROM order_items WHERE order_id = $1',
  'UPDATE carts SET updated_at = now(), item_count = item_count + 1, total_cents = total_cents + $2 WHERE id = $1 RETURNING id, item_count',
  'INSERT INTO order_items (order_id, product_id, quantity, unit_price, created_at) VALUES ($1, $2, $3, $4, now()) RETURNING id',
  'SELECT round(avg(total), 2) AS price, count(*) AS orders FROM orders WHERE customer_id = $1',
  'SELECT id, customer_id, total, status, created_at FROM orders WHERE id = {L}',
  "SELECT id, customer_id, status, total FROM orders WHERE reference = 'ORD-{S}'",
  "SELECT p.id, p.sku, p.name, p.price_cents FROM products p WHERE p.category_id = {L} AND p.active = true AND p.name ILIKE '%{S}%' LIMIT 50",
  "UPDATE sessions SET last_seen = now(), data = '{\"v\":{L}}' WHERE token = 'tok-{S}'",
  "INSERT INTO events (user_id, kind, payload, created_at) VALUES ({L}, 'click', '{\"x\":{S}}', now())",
  'DELETE FROM cart_items WHERE cart_id = {L} AND sku = $1',
];

const ROUTES: readonly { route: string; path: (n: number) => string }[] = [
  { route: '/api/customers/:id', path: (n) => `/api/customers/${n}` },
  { route: '/api/customers/:id/recent-orders', path: (n) => `/api/customers/${n}/recent-orders` },
  { route: '/api/orders/:id/invoice', path: (n) => `/api/orders/${n}/invoice` },
  { route: '/api/products/:id', path: (n) => `/api/products/${n}` },
  { route: '/api/quotes/:code', path: (n) => `/api/quotes/Q${n.toString(36).toUpperCase()}` },
  { route: '/api/cart/items', path: () => '/api/cart/items' },
];

const KEY_NAMESPACES = ['product', 'quote', 'user:{id}:profile', 'session', 'cart:{id}:items'] as const;

const RESOURCE = resourceFromAttributes({
  'service.name': 'shop-api',
  'service.version': '1.4.2',
  'host.name': 'app-7f9c',
  'process.pid': 4242,
  'process.runtime.name': 'nodejs',
  'process.runtime.version': '20.20.2',
  'telemetry.sdk.language': 'nodejs',
  'telemetry.sdk.name': 'opentelemetry',
  'telemetry.sdk.version': '2.12.1',
});

export interface SpanSpec {
  name: string;
  kind: SpanKind;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  start: HrTime;
  durationNs: number;
  attributes: Attributes;
  error?: boolean;
  scope: string;
}

/** A finished span as the SDK hands it to an exporter, from the shop-api resource. */
export function readableSpan(s: SpanSpec): ReadableSpan {
  const total = s.start[1] + s.durationNs;
  const end: HrTime = [s.start[0] + Math.floor(total / 1e9), total % 1e9];
  return {
    name: s.name,
    kind: s.kind,
    spanContext: () => ({ traceId: s.traceId, spanId: s.spanId, traceFlags: 1 }),
    parentSpanContext: s.parentSpanId
      ? { traceId: s.traceId, spanId: s.parentSpanId, traceFlags: 1, isRemote: false }
      : undefined,
    startTime: s.start,
    endTime: end,
    duration: [Math.floor(s.durationNs / 1e9), s.durationNs % 1e9],
    status: s.error ? { code: SpanStatusCode.ERROR, message: 'failed' } : { code: SpanStatusCode.UNSET },
    attributes: s.attributes,
    links: [],
    events: [],
    ended: true,
    resource: RESOURCE,
    instrumentationScope: { name: s.scope, version: '0.76.0' },
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}

/** Where a send patches one template. */
export interface BatchTemplate {
  body: Buffer;
  spans: number;
  /**
   * Byte offsets of SQL literal slots (SQL_SLOT_DIGITS ASCII digits each) and the SQL template of
   * each text's first slot (-1 for a text's later slots).
   */
  sqlSlots: Int32Array;
  sqlShapes: Int32Array;
  /** Byte offsets of Redis key id slots (KEY_SLOT_DIGITS digits) and their namespace index. */
  keySlots: Int32Array;
  keyNamespaces: Int32Array;
  /** Byte offsets of every trace id (16 bytes). */
  traceIds: Int32Array;
}

export interface TemplateOptions {
  templates: number;
  spansPerBatch: number;
  seed?: number;
  /** Only statements with inline literals (every SQL span a new raw text); default: half of them. */
  literalSqlOnly?: boolean;
  /**
   * SERVER spans say how many spans were started beneath them (`spanstat.descendants`), as the
   * spanstat preload's do; false: as other SDKs' spans, so every request waits out the grace period.
   * Default true, or the BENCH_DECLARE_DESCENDANTS environment variable (`0` for false) for A/B runs.
   */
  declareDescendants?: boolean;
}

const LITERAL_TEMPLATES = SQL_TEMPLATES.map((t, i) => (t.includes('{') ? i : -1)).filter((i) => i >= 0);

/** Marker digits that cannot occur elsewhere in a body: a leading 9 and a unique counter. */
function marker(next: () => number, digits: number): string {
  const n = String(next());
  if (n.length > digits - 1) throw new Error('too many templates: patch markers ran out of digits');
  return `9${n.padStart(digits - 1, '0')}`;
}

/** Encodes `templates` batches of at least `spansPerBatch` spans (whole requests) and locates their patch slots. */
export function buildTemplates(options: TemplateOptions): BatchTemplate[] {
  const rand = seededRandom(options.seed ?? 1);
  let markerCount = 0;
  const nextMarker = () => markerCount++;
  const int = (max: number) => Math.floor(rand() * max);
  const hex = (bytes: number) => {
    let s = '';
    for (let i = 0; i < bytes; i++) s += int(256).toString(16).padStart(2, '0');
    return s;
  };
  const out: BatchTemplate[] = [];
  const declareDescendants = options.declareDescendants ?? process.env.BENCH_DECLARE_DESCENDANTS !== '0';
  let clock = 1_767_000_000;
  for (let t = 0; t < options.templates; t++) {
    const spans: ReadableSpan[] = [];
    const sqlMarkers: { text: string; shape: number }[] = [];
    const keyMarkers: { text: string; ns: number }[] = [];
    const traceIds: string[] = [];
    while (spans.length < options.spansPerBatch) {
      const traceId = hex(16);
      traceIds.push(traceId);
      const rootId = hex(8);
      const start: HrTime = [clock++, int(1e9)];
      const r = ROUTES[int(ROUTES.length)];
      const id = 1 + int(150_000);
      const status = rand() < 0.03 ? 500 : 200;
      const children: ReadableSpan[] = [];
      let offsetNs = 200_000;
      const queries = 1 + int(4);
      if (rand() < 0.5) {
        children.push(
          readableSpan({
            name: 'pg-pool.connect',
            kind: SpanKind.INTERNAL,
            traceId,
            spanId: hex(8),
            parentSpanId: rootId,
            start: [start[0], start[1] + offsetNs],
            durationNs: 5_000 + int(300_000),
            attributes: {
              'db.system.name': 'postgresql',
              'db.namespace': 'shop',
              'server.address': '127.0.0.1',
              'server.port': 5432,
              'spanstat.pool.max': 10,
              'spanstat.pool.in_use': int(10),
            },
            scope: '@opentelemetry/instrumentation-pg',
          }),
        );
      }
      for (let q = 0; q < queries; q++) {
        const shape = options.literalSqlOnly
          ? LITERAL_TEMPLATES[int(LITERAL_TEMPLATES.length)]
          : int(SQL_TEMPLATES.length);
        let text = SQL_TEMPLATES[shape];
        for (let slot = 0; text.includes('{L}') || text.includes('{S}'); slot++) {
          const m = marker(nextMarker, SQL_SLOT_DIGITS);
          // Later slots of one text follow from the first (consecutive counter values), so only the
          // first slot decides whether the text is new: -1 marks the others.
          sqlMarkers.push({ text: m, shape: slot === 0 ? shape : -1 });
          text = text.includes('{L}') ? text.replace('{L}', m) : text.replace('{S}', m);
        }
        const durationNs = 150_000 + int(int(10) === 0 ? 40_000_000 : 3_000_000);
        children.push(
          readableSpan({
            name: `pg.query:${text.slice(0, text.indexOf(' '))} shop`,
            kind: SpanKind.CLIENT,
            traceId,
            spanId: hex(8),
            parentSpanId: rootId,
            start: [start[0], start[1] + offsetNs],
            durationNs,
            attributes: {
              'db.system.name': 'postgresql',
              'db.namespace': 'shop',
              'db.query.text': text,
              'server.address': '127.0.0.1',
              'server.port': 5432,
            },
            error: rand() < 0.01,
            scope: '@opentelemetry/instrumentation-pg',
          }),
        );
        offsetNs += durationNs + 20_000;
      }
      const commands = int(4);
      for (let c = 0; c < commands; c++) {
        const ns = int(KEY_NAMESPACES.length);
        const m = marker(nextMarker, KEY_SLOT_DIGITS);
        const pattern = KEY_NAMESPACES[ns];
        const key = pattern.includes('{id}') ? pattern.replace('{id}', m) : `${pattern}:${m}`;
        keyMarkers.push({ text: key.slice(0, key.indexOf(m) + m.length), ns });
        const read = c % 2 === 0;
        const hit = rand() < 0.7;
        children.push(
          readableSpan({
            name: read ? 'get' : 'set',
            kind: SpanKind.CLIENT,
            traceId,
            spanId: hex(8),
            parentSpanId: rootId,
            start: [start[0], start[1] + 50_000 + c * 40_000],
            durationNs: 30_000 + int(300_000),
            attributes: {
              'db.system.name': 'redis',
              'db.operation.name': read ? 'get' : 'set',
              'db.query.text': read ? `get ${key}` : `set ${key} [2 other arguments]`,
              'server.address': '127.0.0.1',
              'server.port': 6379,
              ...(read
                ? { 'spanstat.cache.hits': hit ? 1 : 0, 'spanstat.cache.misses': hit ? 0 : 1 }
                : { 'spanstat.cache.ttl_s': 3600 }),
            },
            scope: '@opentelemetry/instrumentation-ioredis',
          }),
        );
      }
      // The server span ends last, so the real SDK exports it after its children.
      spans.push(...children);
      spans.push(
        readableSpan({
          name: `GET ${r.route}`,
          kind: SpanKind.SERVER,
          traceId,
          spanId: rootId,
          start,
          durationNs: offsetNs + 500_000 + int(2_000_000),
          attributes: {
            'http.request.method': 'GET',
            'http.route': r.route,
            'url.path': r.path(id),
            'url.scheme': 'http',
            'http.response.status_code': status,
            'server.address': 'localhost',
            'server.port': 3000,
            'network.protocol.version': '1.1',
            'user_agent.original': 'autocannon/9.0.0',
            'client.address': '127.0.0.1',
            ...(declareDescendants ? { 'spanstat.descendants': children.length } : {}),
          },
          error: status >= 500,
          scope: '@opentelemetry/instrumentation-http',
        }),
      );
    }
    // Whole requests only: a cut trace would never be completed, since every send renames its traces.
    out.push(locate(spans, sqlMarkers, keyMarkers, traceIds));
  }
  return out;
}

/** OTLP/HTTP protobuf body for the spans, by the OpenTelemetry JS serializer. */
export function encodeSpans(spans: ReadableSpan[]): Buffer {
  const encoded = ProtobufTraceSerializer.serializeRequest(spans);
  if (!encoded) throw new Error('ProtobufTraceSerializer returned nothing');
  return Buffer.from(encoded);
}

function locate(
  spans: ReadableSpan[],
  sqlMarkers: { text: string; shape: number }[],
  keyMarkers: { text: string; ns: number }[],
  traceIds: string[],
): BatchTemplate {
  const body = encodeSpans(spans);
  const find = (needle: Buffer): number => body.indexOf(needle);
  const sqlSlots: number[] = [];
  const sqlShapes: number[] = [];
  for (const m of sqlMarkers) {
    const at = find(Buffer.from(m.text));
    if (at >= 0) {
      sqlSlots.push(at);
      sqlShapes.push(m.shape);
    }
  }
  const keySlots: number[] = [];
  const keyNamespaces: number[] = [];
  for (const m of keyMarkers) {
    // A key occurs in the text of one span; its id slot is the last KEY_SLOT_DIGITS characters.
    const at = find(Buffer.from(m.text));
    if (at >= 0) {
      keySlots.push(at + m.text.length - KEY_SLOT_DIGITS);
      keyNamespaces.push(m.ns);
    }
  }
  const traceOffsets: number[] = [];
  for (const id of traceIds) {
    const needle = Buffer.from(id, 'hex');
    for (let at = body.indexOf(needle); at >= 0; at = body.indexOf(needle, at + 16)) traceOffsets.push(at);
  }
  return {
    body,
    spans: spans.length,
    sqlSlots: Int32Array.from(sqlSlots),
    sqlShapes: Int32Array.from(sqlShapes),
    keySlots: Int32Array.from(keySlots),
    keyNamespaces: Int32Array.from(keyNamespaces),
    traceIds: Int32Array.from(traceOffsets),
  };
}

/** Writes `value` as exactly `width` ASCII digits at `offset` (zero-padded, high digits dropped). */
export function writeDigits(buf: Buffer, offset: number, width: number, value: number): void {
  let v = Math.floor(value);
  for (let i = width - 1; i >= 0; i--) {
    buf[offset + i] = 48 + (v % 10);
    v = Math.floor(v / 10);
  }
}

export interface StreamOptions {
  /** Distinct SQL literal values before they repeat (default: never within 10^10). */
  sqlValues?: number;
  /** Distinct Redis key ids per namespace before they repeat (default 10^6). */
  keyValues?: number;
}

/**
 * An endless sequence of distinct bodies made from the templates in turn. Counts the distinct raw
 * SQL texts and Redis keys it has produced (exactly, with one bit per shape × value).
 */
export class BatchStream {
  sends = 0;
  spans = 0;
  private sqlCounter = 0;
  private keyCounter = 0;
  private readonly sqlValues: number;
  private readonly keyValues: number;
  private readonly seenSql: Uint8Array | undefined;
  private readonly seenKeys: Uint8Array;
  distinctSql = 0;
  distinctKeys = 0;

  constructor(
    private readonly templates: readonly BatchTemplate[],
    options: StreamOptions = {},
  ) {
    this.sqlValues = options.sqlValues ?? 10 ** SQL_SLOT_DIGITS;
    this.keyValues = Math.min(options.keyValues ?? 10 ** KEY_SLOT_DIGITS, 10 ** KEY_SLOT_DIGITS);
    // Only bounded value spaces can be counted in a bitmap; an unbounded one never repeats.
    this.seenSql =
      options.sqlValues !== undefined
        ? new Uint8Array(Math.ceil((SQL_TEMPLATES.length * this.sqlValues) / 8))
        : undefined;
    this.seenKeys = new Uint8Array(Math.ceil((KEY_NAMESPACES.length * this.keyValues) / 8));
  }

  next(): Buffer {
    const t = this.templates[this.sends % this.templates.length];
    const body = Buffer.from(t.body);
    const send = this.sends++;
    for (let i = 0; i < t.traceIds.length; i++) body.writeUInt32BE(send >>> 0, t.traceIds[i]);
    for (let i = 0; i < t.sqlSlots.length; i++) {
      const value = this.sqlCounter++ % this.sqlValues;
      writeDigits(body, t.sqlSlots[i], SQL_SLOT_DIGITS, value);
      const shape = t.sqlShapes[i];
      if (shape < 0) continue;
      if (this.seenSql) this.distinctSql += mark(this.seenSql, shape * this.sqlValues + value);
      else this.distinctSql++;
    }
    for (let i = 0; i < t.keySlots.length; i++) {
      const value = this.keyCounter++ % this.keyValues;
      writeDigits(body, t.keySlots[i], KEY_SLOT_DIGITS, value);
      this.distinctKeys += mark(this.seenKeys, t.keyNamespaces[i] * this.keyValues + value);
    }
    this.spans += t.spans;
    return body;
  }
}

/** Sets bit `i`; 1 when it was not set before. */
function mark(bits: Uint8Array, i: number): number {
  const byte = i >>> 3;
  const bit = 1 << (i & 7);
  if (bits[byte] & bit) return 0;
  bits[byte] |= bit;
  return 1;
}
