/**
 * Background jobs as units of work: the preload's side of `runJob` (src/job.ts, the app's side).
 * startPreload registers a JobRunner on globalThis under JOBS_KEY (`Symbol.for`, so any copy of
 * spanstat the app loads finds it, whichever copy the preload is); src/job.ts calls it, or just the
 * job's function when nothing is registered.
 *
 * A run is a root span (kind INTERNAL, named after the job, `spanstat.job.name`) marked as a unit
 * root: like a SERVER span it counts the spans started beneath it (`spanstat.descendants`) and
 * carries the process's lost-span count, so the sidecar completes a run as it does a request, and a
 * worker without an HTTP server still reports its losses.
 *
 * Called inside an HTTP request (or another job), a run is still a new trace, linked to the span it
 * was started in. As a child it would share the request's trace: a long or fire-and-forget run would
 * hold that trace open in the sidecar's assembler and count against its per-trace span cap, and its
 * spans would not count in the request's `descendants` anyway. A root keeps one run one unit, the
 * same whether a timer, a queue or a request started it.
 */
import { type Context, type Link, SpanKind, SpanStatusCode, type Tracer, trace } from '@opentelemetry/api';
import { templateName } from '../classify/route-template';
import { SPANSTAT_ATTR } from '../model/attributes';
import { setSpan } from './context-frame';
import { LeanSpan } from './lean-tracer';
import { type LostSpans, markLostSpans } from './lost-spans';
import { preloadContext } from './preload-context';

/** Where startPreload registers the JobRunner; src/job.ts reads it (same key, any module copy). */
export const JOBS_KEY = Symbol.for('spanstat.preload.jobs');

/** What src/job.ts calls; `version` changes if `run`'s contract does. */
export interface JobRunner {
  readonly version: 1;
  /** Runs fn in a new job root span; fn's value, throw or rejection passes through unchanged. */
  run<T>(name: string, fn: () => T): T;
}

export function createJobRunner(tracer: Tracer, lost: LostSpans | undefined): JobRunner {
  return {
    version: 1,
    run<T>(name: string, fn: () => T): T {
      let started: { span: LeanSpan; ctx: Context } | undefined;
      try {
        started = startRun(tracer, name);
      } catch {
        // Never into the app: the job runs untraced.
      }
      if (started === undefined) return fn();
      const { span, ctx } = started;
      let result: T;
      try {
        result = preloadContext.with(ctx, fn);
      } catch (err) {
        endRun(span, lost, err, true);
        throw err;
      }
      if (!isThenable(result)) {
        endRun(span, lost, undefined, false);
        return result;
      }
      // The derived promise, not the app's: a rejection nobody handles stays unhandled, as without us.
      return result.then(
        (value) => {
          endRun(span, lost, undefined, false);
          return value;
        },
        (err: unknown) => {
          endRun(span, lost, err, true);
          throw err;
        },
      ) as T;
    },
  };
}

/** The run's root span and the context fn runs in; undefined when tracing is suppressed there. */
function startRun(tracer: Tracer, name: string): { span: LeanSpan; ctx: Context } | undefined {
  const active = preloadContext.active();
  const jobName = templateName(typeof name === 'string' ? name : '');
  const enclosing = trace.getSpan(active)?.spanContext();
  const links: Link[] | undefined =
    enclosing !== undefined && trace.isSpanContextValid(enclosing) ? [{ context: enclosing }] : undefined;
  const span = tracer.startSpan(
    jobName,
    { kind: SpanKind.INTERNAL, root: true, attributes: { [SPANSTAT_ATTR.jobName]: jobName }, links },
    active,
  );
  // Not a LeanSpan: tracing is suppressed here (the exporter's own work), nothing to record.
  if (!(span instanceof LeanSpan)) return undefined;
  // Before fn runs, so every span beneath counts (lean-tracer.ts).
  span.unitRoot = true;
  return { span, ctx: setSpan(active, span) };
}

function endRun(span: LeanSpan, lost: LostSpans | undefined, err: unknown, failed: boolean): void {
  try {
    markLostSpans(span, lost);
    // The error's class only: messages can quote data (pg errors quote parameter values).
    if (failed)
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.name : 'rejected' });
    span.end();
  } catch {
    // Never into the app.
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
