/**
 * One process traced twice: the spanstat preload and the app's own OpenTelemetry SDK (NodeSDK with
 * auto-instrumentations) both exporting to this sidecar under one service.name. Each traces every
 * request, query and Redis command apart, so counted as they come every request rate, query count,
 * N+1 figure and cache figure would double. The preload's resource says it is the preload
 * (`telemetry.distro.name: spanstat`) and names its process (`host.name`, `process.pid`, as NodeSDK's
 * default host and process detectors do for the app's SDK): from a process the preload has been seen
 * from, the other SDK's requests (SERVER spans), PostgreSQL calls, Redis calls and pool spans — what
 * the preload traces too — are set aside, and the preload's copies count. Its other spans (a CONSUMER
 * span, a MySQL call, its own manual spans) are kept: the preload makes none of those.
 *
 * Decided once per resource of a body (a batch hands the pipeline each resource's sender before its
 * spans), never per span. Order of arrival: nothing is held back. The other SDK's spans that reach
 * the sidecar before the preload's first export from that process count, as from any other process;
 * from that export on they are set aside. With both exporters on their default 5-s batch delay that is
 * at most the other SDK's first export per process start (and per sidecar start), the requests of
 * those few seconds counted twice; the long-run figures are exact. Holding back every SDK's spans
 * until it is known whether a preload shares its process would delay every sender's figures for all
 * those that never will.
 *
 * A resource that names no process (neither `host.name` with `process.pid` nor `service.instance.id`)
 * cannot be matched: its spans count, and when its service also has a preload sender that is said
 * once, since it may be the same process.
 */
import { GenerationalCache } from '../generational-cache';
import type { ClassifiedSpan } from '../model/classified';
import type { SpanSender } from '../model/span';

/** Processes (and services) remembered; a collector beside thousands of app processes forgets the quietest. */
const REMEMBERED_PROCESSES = 4_096;

/** What the pipeline logs once per process (or per service, for a sender that names no process). */
export interface DoubleTracingNotice {
  service: string;
  /** `matched`: a process both send from; `unmatched`: another SDK's resource names no process. */
  kind: 'matched' | 'unmatched';
  hostName?: string;
  pid?: number;
  instanceId?: string;
}

export class DoubleTracing {
  /** Process keys the preload sent from → whether the notice for that process was given. */
  private readonly preloadProcesses = new GenerationalCache<{ noticed: boolean }>(REMEMBERED_PROCESSES);
  /** Services with a preload sender → whether the `unmatched` notice was given. */
  private readonly preloadServices = new GenerationalCache<{ noticed: boolean }>(REMEMBERED_PROCESSES);
  /** Spans set aside per service, since start. */
  private readonly setAsideByService = new Map<string, number>();
  /** Processes detected per service, since start (a restarted process counts again). */
  private readonly processesByService = new Map<string, number>();

  constructor(private readonly notify: (notice: DoubleTracingNotice) => void = () => {}) {}

  /**
   * Whether the spans of `sender`'s resource duplicate the preload's: another SDK's resource from a
   * process the preload has sent from. Once per resource; the preload's own resources record their process.
   */
  shadowed(sender: SpanSender): boolean {
    const service = sender.service;
    if (sender.preload) {
      const byPid = pidKey(sender);
      if (byPid !== undefined && this.preloadProcesses.get(byPid) === undefined)
        this.preloadProcesses.set(byPid, { noticed: false });
      const byInstance = instanceKey(sender);
      if (byInstance !== undefined && this.preloadProcesses.get(byInstance) === undefined)
        this.preloadProcesses.set(byInstance, { noticed: false });
      if (this.preloadServices.get(service) === undefined)
        this.preloadServices.set(service, { noticed: false });
      return false;
    }
    const byPid = pidKey(sender);
    const byInstance = instanceKey(sender);
    if (byPid === undefined && byInstance === undefined) {
      this.unmatched(sender);
      return false;
    }
    const process =
      (byPid === undefined ? undefined : this.preloadProcesses.get(byPid)) ??
      (byInstance === undefined ? undefined : this.preloadProcesses.get(byInstance));
    if (process === undefined) return false;
    if (!process.noticed) {
      process.noticed = true;
      this.processesByService.set(service, (this.processesByService.get(service) ?? 0) + 1);
      this.notify({
        service,
        kind: 'matched',
        hostName: sender.hostName,
        pid: sender.pid,
        instanceId: sender.instanceId,
      });
    }
    return true;
  }

  /** Counts a span of a shadowed sender set aside. */
  setAside(service: string): void {
    this.setAsideByService.set(service, (this.setAsideByService.get(service) ?? 0) + 1);
  }

  /** Spans set aside per service since start (the metric, /healthz). */
  spansSetAside(): ReadonlyMap<string, number> {
    return this.setAsideByService;
  }

  /** Per service: processes found traced twice and spans set aside, since start (/healthz). */
  byService(): Record<string, { processes: number; spansSetAside: number }> {
    const out: Record<string, { processes: number; spansSetAside: number }> = {};
    for (const [service, processes] of this.processesByService)
      out[service] = { processes, spansSetAside: this.setAsideByService.get(service) ?? 0 };
    return out;
  }

  private unmatched(sender: SpanSender): void {
    const service = this.preloadServices.get(sender.service);
    if (service === undefined || service.noticed) return;
    service.noticed = true;
    this.notify({ service: sender.service, kind: 'unmatched' });
  }
}

/**
 * Whether a shadowed sender's span is one the preload traces too: a request (SERVER span; CONSUMER
 * spans and job roots are not the preload's make), a PostgreSQL call (pg) but Prisma 6's engine's
 * (`prisma:engine:…`: its Rust engine bypasses pg, so the preload never sees those queries), a Redis
 * call (ioredis, node-redis), a pool checkout or pool usage sample. `name` is the span's name; only
 * spans of a shadowed sender are asked.
 */
export function tracedByPreload(span: ClassifiedSpan, name: string): boolean {
  switch (span.type) {
    case 'request':
      return span.method !== 'CONSUMER' && span.method !== 'JOB';
    case 'db':
      return span.system === 'postgresql' && !name.startsWith(PRISMA_ENGINE);
    case 'cache':
      return span.system === 'redis';
    case 'pool-connect':
    case 'pool-usage':
      // As sent (lowercased): instrumentation-pg's `postgresql`, older conventions' `postgres`.
      return span.system === 'postgresql' || span.system === 'postgres' || span.system === 'pg';
    default:
      return false;
  }
}

const PRISMA_ENGINE = 'prisma:engine:';

function pidKey(sender: SpanSender): string | undefined {
  return sender.hostName === undefined || sender.pid === undefined
    ? undefined
    : `${sender.service}\n${sender.hostName}\n${sender.pid}`;
}

function instanceKey(sender: SpanSender): string | undefined {
  return sender.instanceId === undefined ? undefined : `${sender.service}\n\n${sender.instanceId}`;
}

/** The process a resource names (host and pid, else instance id), with its service; undefined if it names none. */
export function processKey(sender: SpanSender): string | undefined {
  return pidKey(sender) ?? instanceKey(sender);
}

/** The log line for a notice: what was found and what to do (names the service and process, nothing else). */
export function noticeMessage(notice: DoubleTracingNotice): string {
  if (notice.kind === 'matched') {
    const where =
      notice.pid === undefined ? `instance ${notice.instanceId}` : `pid ${notice.pid} on ${notice.hostName}`;
    return (
      `service '${notice.service}' (${where}) sends its spans twice, from the spanstat preload and from the ` +
      "app's own OpenTelemetry SDK: that SDK's request, PostgreSQL, Redis and pool spans are set aside and the " +
      "preload's count. Drop one of the two: remove `--require spanstat/preload`, or stop the app's SDK exporting " +
      'to spanstat (its other spans are kept)'
    );
  }
  return (
    `service '${notice.service}' sends spans from the spanstat preload and from another SDK whose resource names ` +
    'no process (host.name and process.pid, or service.instance.id): if both run in one process, each request ' +
    "counts twice. Drop one of the two, or give that SDK its process and host resource detectors (NodeSDK's default) " +
    'so spanstat can set its copies aside'
  );
}
