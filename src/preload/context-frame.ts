/**
 * A Context that is its parent plus one value. OpenTelemetry's BaseContext copies its whole Map on
 * every `setValue` (`new Map(parent)`, the Map constructor's generic iteration path): in a perf
 * profile of the demo route that copy was ~13% of the HTTP server span's start. A frame costs one
 * small object, and a look-up walks at most MAX_DEPTH frames before reaching a BaseContext.
 *
 * Any Context works as a parent, and frames work wherever a Context does: instrumentations only call
 * `getValue`, `setValue` and `deleteValue`.
 */
import { type Context, INVALID_SPAN_CONTEXT, ROOT_CONTEXT, type Span, trace } from '@opentelemetry/api';

/** Frames on top of a BaseContext before a `setValue` flattens them into one BaseContext again. */
export const MAX_DEPTH = 8;

export class ContextFrame implements Context {
  constructor(
    private readonly parent: Context,
    private readonly key: symbol,
    /** undefined also stands for a deleted key, as BaseContext's getValue reports it. */
    private readonly value: unknown,
    readonly depth: number,
  ) {}

  getValue(key: symbol): unknown {
    let context: Context = this;
    while (context instanceof ContextFrame) {
      if (context.key === key) return context.value;
      context = context.parent;
    }
    return context.getValue(key);
  }

  setValue(key: symbol, value: unknown): Context {
    return withValue(this, key, value);
  }

  deleteValue(key: symbol): Context {
    return withValue(this, key, undefined);
  }

  /** The same values as one BaseContext (oldest frame applied first, so newer ones win). */
  flatten(): Context {
    const frames: ContextFrame[] = [];
    let context: Context = this;
    while (context instanceof ContextFrame) {
      frames.push(context);
      context = context.parent;
    }
    for (let i = frames.length - 1; i >= 0; i--) {
      const { key, value } = frames[i];
      context = value === undefined ? context.deleteValue(key) : context.setValue(key, value);
    }
    return context;
  }
}

/** `parent` with `key` set to `value` (undefined: deleted). */
export function withValue(parent: Context, key: symbol, value: unknown): Context {
  if (parent instanceof ContextFrame) {
    if (parent.depth < MAX_DEPTH) return new ContextFrame(parent, key, value, parent.depth + 1);
    return new ContextFrame(parent.flatten(), key, value, 1);
  }
  return new ContextFrame(parent, key, value, 1);
}

/**
 * The API's span key, found once by asking `trace.setSpan` which key it sets (the API creates it
 * with Symbol.for, but that is its business); undefined if it ever stops calling setValue.
 */
const SPAN_KEY: symbol | undefined = (() => {
  let found: symbol | undefined;
  const probe: Context = {
    getValue: (key) => ROOT_CONTEXT.getValue(key),
    setValue: (key, value) => {
      found = key;
      return ROOT_CONTEXT.setValue(key, value);
    },
    deleteValue: (key) => ROOT_CONTEXT.deleteValue(key),
  };
  trace.setSpan(probe, trace.wrapSpanContext(INVALID_SPAN_CONTEXT));
  return found;
})();

/** `trace.setSpan(parent, span)` without BaseContext's Map copy. */
export function setSpan(parent: Context, span: Span): Context {
  return SPAN_KEY === undefined ? trace.setSpan(parent, span) : withValue(parent, SPAN_KEY, span);
}
