/**
 * pg query spans without @opentelemetry/instrumentation-pg: one wrapper on `Client.prototype.query`
 * (pg/lib/client.js and the native client) that starts a CLIENT span in the caller's context and
 * ends it when the query answers. The span has what the sidecar reads and instrumentation-pg sets:
 * name `pg.query:<COMMAND> <db>`, `db.system.name`, `db.namespace`, `server.address/port` and
 * `db.query.text` (the text as sent: `$n` placeholders when the app passes values, which never
 * appear), `db.postgresql.plan` for named statements, error status with the error's class and SQLSTATE (end-span.ts; never its message).
 *
 * Why: instrumentation-pg builds a queryConfig copy and two attribute objects per query, records a
 * duration histogram (no-op meter here, work all the same), and ends promise queries through two
 * extra promises; its Pool#connect wrapper also kept four pool event listeners updating no-op
 * metrics on every checkout and release. With ioredis-command.ts, preload-cpu-probe on the demo's
 * pg+redis route (6 interleaved rounds, busy VM, no preload 662 µs): 828 → 692 µs app CPU per
 * request by the minimum (+25% → +4% over no preload), 887 → 807 µs by the median; pg alone
 * 828 → 773 µs (min).
 */
import { type Attributes, type Context, type Span, SpanKind } from '@opentelemetry/api';
import {
  InstrumentationNodeModuleDefinition,
  InstrumentationNodeModuleFile,
} from '@opentelemetry/instrumentation';
import { endSpan, endWhenSettled } from './end-span';
import { shareAttributes } from './lean-tracer';
import { exportedPrototype, PreloadInstrumentation } from './module-hooks';
import { preloadContext } from './preload-context';

type Callback = (this: unknown, err: unknown, result?: unknown) => void;
type Query = (this: ClientLike, ...args: unknown[]) => unknown;

interface ConnectionParameters {
  database?: string;
  host?: string;
  port?: number | string;
}

interface ClientLike {
  connectionParameters?: ConnectionParameters;
  database?: string;
  [BASE]?: Attributes;
  [BASE_FOR]?: ConnectionParameters;
}

interface QueryConfigLike {
  text?: unknown;
  name?: unknown;
  callback?: unknown;
}

interface ClientModule {
  prototype?: { query?: Query };
}

const BASE = Symbol('spanstat.pgAttributes');
const BASE_FOR = Symbol('spanstat.pgAttributesFor');
const VERSIONS = ['>=8.0.3 <9'];

export class PgQueryInstrumentation extends PreloadInstrumentation {
  constructor() {
    super('spanstat-pg', '1.0.0');
  }

  protected init() {
    const { patch, unpatch } = this.methodsPatch(exportedPrototype, {
      query: (original: Query) => this.patchQuery(original),
    });
    // pg/lib/index.js loads lib/client.js, so the file hook patches pg.Client too; the module hook
    // covers bundles that inline the file.
    return new InstrumentationNodeModuleDefinition(
      'pg',
      VERSIONS,
      (pg: { Client?: ClientModule }) => {
        if (pg.Client) patch(pg.Client);
        return pg;
      },
      (pg?: { Client?: ClientModule }) => unpatch(pg?.Client),
      [
        new InstrumentationNodeModuleFile('pg/lib/client.js', VERSIONS, patch, unpatch),
        new InstrumentationNodeModuleFile('pg/lib/native/client.js', VERSIONS, patch, unpatch),
      ],
    );
  }

  private patchQuery(original: Query): Query {
    const instrumentation = this;
    return function query(this: ClientLike, config: unknown, values?: unknown, cb?: unknown) {
      let text: string | undefined;
      let plan: string | undefined;
      if (typeof config === 'string') text = config;
      else if (config !== null && typeof config === 'object') {
        const c = config as QueryConfigLike;
        if (typeof c.text === 'string') text = c.text;
        if (typeof c.name === 'string' && c.name !== '') plan = c.name;
      }
      // Not a query pg would run (it throws or answers with an error): nothing to time.
      // biome-ignore lint/complexity/noArguments: pass every argument through unchanged
      if (text === undefined) return original.apply(this, arguments as unknown as unknown[]);
      const parent = preloadContext.active();
      let span: Span;
      try {
        const base = baseAttributes(this);
        const db = base['db.namespace'] as string | undefined;
        const command = plan ?? commandOf(text);
        span = instrumentation.tracer.startSpan(
          db === undefined ? `pg.query:${command}` : `pg.query:${command} ${db}`,
          { kind: SpanKind.CLIENT, attributes: base },
          parent,
        );
        span.setAttribute('db.query.text', text);
        if (plan !== undefined) span.setAttribute('db.postgresql.plan', plan);
      } catch {
        // biome-ignore lint/complexity/noArguments: see above
        return original.apply(this, arguments as unknown as unknown[]);
      }
      // Query signatures: (text|config, cb), (text|config, values, cb), config.callback, or none.
      if (typeof cb === 'function') {
        return original.call(this, config, values, endThen(span, cb as Callback, parent));
      }
      if (typeof values === 'function') {
        return original.call(this, config, endThen(span, values as Callback, parent));
      }
      const c = config as QueryConfigLike;
      if (typeof config === 'object' && typeof c.callback === 'function') {
        const callback = c.callback as Callback;
        if (typeof (c as { submit?: unknown }).submit !== 'function') {
          // A plain config object the app may pass again: its own callback stays untouched (wrapping it
          // in place wrapped it again on every reuse, until the chain overflowed the stack). pg reads the
          // config's fields, so an object that inherits them all and holds the wrapper serves.
          const derived = Object.create(config) as QueryConfigLike;
          derived.callback = endThen(span, callback, parent);
          return original.call(this, derived, values);
        }
        // A Submittable (pg.Query, a cursor) is the query itself and pg keeps it: wrap its callback for
        // this run and give it back before the app's callback runs.
        c.callback = endThen(span, callback, parent, () => {
          c.callback = callback;
        });
        // biome-ignore lint/complexity/noArguments: see above
        return original.apply(this, arguments as unknown as unknown[]);
      }
      let result: unknown;
      try {
        // biome-ignore lint/complexity/noArguments: see above
        result = original.apply(this, arguments as unknown as unknown[]);
      } catch (err) {
        endSpan(span, err, 'query failed');
        throw err;
      }
      // pg resolves with the client's Promise implementation: any thenable.
      if (result !== null && typeof (result as PromiseLike<unknown>)?.then === 'function') {
        // One derived promise (instrumentation-pg chained two more per query).
        return endWhenSettled(result as PromiseLike<unknown>, span, 'query failed');
      }
      // A Submittable (cursor, stream): ends with 'end' or 'error'.
      const emitter = result as { once?: (event: string, listener: (err?: unknown) => void) => unknown };
      if (emitter && typeof emitter.once === 'function') {
        emitter.once('end', () => span.end());
        emitter.once('error', (err) => endSpan(span, err, 'query failed'));
      } else span.end();
      return result;
    };
  }
}

/** Constant span attributes of a client, computed once per connection parameters and shared by its spans (lean-tracer.ts). */
function baseAttributes(client: ClientLike): Attributes {
  const params = client.connectionParameters;
  if (client[BASE] !== undefined && client[BASE_FOR] === params) return client[BASE];
  const attributes: Attributes = { 'db.system.name': 'postgresql' };
  const database = params?.database ?? client.database;
  if (database) attributes['db.namespace'] = database;
  if (params?.host) attributes['server.address'] = params.host;
  const port = Number(params?.port);
  if (params?.port !== undefined && Number.isInteger(port) && port > 0) attributes['server.port'] = port;
  client[BASE] = shareAttributes(attributes);
  client[BASE_FOR] = params;
  return attributes;
}

// Command per query text: a few dozen distinct texts in a typical app; bounded because texts
// with inline literals are not.
const MAX_COMMANDS = 2048;
const commands = new Map<string, string>();

/** The first word of the statement, upper case, without a trailing `;` (as instrumentation-pg). */
export function commandOf(text: string): string {
  let command = commands.get(text);
  if (command !== undefined) return command;
  const trimmed = text.trim();
  const space = trimmed.search(/\s/);
  command = (space < 0 ? trimmed : trimmed.slice(0, space)).toUpperCase();
  if (command.endsWith(';')) command = command.slice(0, -1);
  if (commands.size < MAX_COMMANDS) commands.set(text, command);
  return command;
}

/** Wraps a query callback: ends the span, then runs the callback in the caller's context. */
function endThen(span: Span, callback: Callback, parent: Context, restore?: () => void): Callback {
  return function queryDone(this: unknown, err: unknown, result?: unknown) {
    endSpan(span, err, 'query failed');
    restore?.();
    // The callback fires from the connection's socket, whose context is whichever request opened
    // the connection; run it in the caller's.
    if (preloadContext.active() === parent) return callback.call(this, err, result);
    return preloadContext.with(parent, callback, this, err, result);
  };
}
