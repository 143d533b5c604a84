import type { SenderLoss } from '../model/classified';

/** Sender processes remembered by default; one more evicts the one heard from least recently. */
export const DEFAULT_MAX_SENDER_INSTANCES = 4096;

interface InstanceLoss {
  readonly service: string;
  lostSpans: number;
  /** Order of the last report (a counter, not a clock): eviction takes the smallest. */
  lastSeen: number;
}

/**
 * Spans lost before they reached the sidecar, per service. Each preload process sends its cumulative
 * count on its SERVER spans with a random instance id (SPANSTAT_ATTR.lostSpans); a service's figure
 * is the sum of its instances' latest counts. Per instance the count only grows: an older count
 * arriving late changes nothing, and a carrier span lost on the way costs nothing, as the next one
 * repeats the total. Bounded: an instance evicted to make room leaves its count in its service's
 * total, so totals never go down (they are Prometheus counters).
 */
export class SenderLossTable {
  private readonly instances = new Map<string, InstanceLoss>();
  /** Counts of evicted instances, per service. */
  private readonly retired = new Map<string, number>();
  private reports = 0;

  constructor(private readonly maxInstances = DEFAULT_MAX_SENDER_INSTANCES) {}

  record(service: string, loss: SenderLoss): void {
    const key = `${service}\u001f${loss.instance}`;
    const seen = ++this.reports;
    const known = this.instances.get(key);
    if (known !== undefined) {
      if (loss.lostSpans > known.lostSpans) known.lostSpans = loss.lostSpans;
      known.lastSeen = seen;
      return;
    }
    if (this.instances.size >= this.maxInstances) this.evictOldest();
    this.instances.set(key, { service, lostSpans: loss.lostSpans, lastSeen: seen });
  }

  /** Lost spans per service the senders have reported since the sidecar started. */
  byService(): Map<string, number> {
    const totals = new Map(this.retired);
    for (const { service, lostSpans } of this.instances.values())
      totals.set(service, (totals.get(service) ?? 0) + lostSpans);
    return totals;
  }

  /** Linear, but only when a new instance arrives with the table full. */
  private evictOldest(): void {
    let oldestKey: string | undefined;
    let oldest: InstanceLoss | undefined;
    for (const [key, entry] of this.instances) {
      if (oldest === undefined || entry.lastSeen < oldest.lastSeen) {
        oldestKey = key;
        oldest = entry;
      }
    }
    if (oldestKey === undefined || oldest === undefined) return;
    this.instances.delete(oldestKey);
    this.retired.set(oldest.service, (this.retired.get(oldest.service) ?? 0) + oldest.lostSpans);
  }
}
