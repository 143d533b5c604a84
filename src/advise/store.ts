/**
 * Keeps recommendations across evaluations: stable ids, first/last seen, active → resolved once
 * the condition is absent from a window where its target was observed (or unobserved for long),
 * re-opened when it returns; bounded (oldest resolved dropped first). A snapshot restores it after a
 * sidecar restart (`state.file`), under the same rules.
 */
import type { Evaluation } from './evaluate';
import { sortRecommendations } from './evaluate';
import type { RecommendationsSnapshot } from './store-state';
import type { Recommendation, RecommendationFilter } from './types';

export interface StoreOptions {
  maxEntries: number;
  /** Resolved entries are dropped this long after resolving (ms). */
  resolvedRetentionMs: number;
  /** An active entry whose target had no data for this long resolves (ms). */
  unobservedResolveMs: number;
}

export interface StoreChanges {
  opened: Recommendation[];
  resolved: Recommendation[];
}

export class RecommendationStore {
  private readonly entries = new Map<string, Recommendation>();

  constructor(private readonly options: StoreOptions) {}

  get size(): number {
    return this.entries.size;
  }

  get(id: string): Recommendation | undefined {
    return this.entries.get(id);
  }

  /** Applies one evaluation; returns what opened (new or re-opened) and what resolved. */
  update(evaluation: Evaluation, nowMs: number): StoreChanges {
    const changes: StoreChanges = { opened: [], resolved: [] };
    const current = new Set<string>();
    for (const rec of evaluation.recommendations) {
      current.add(rec.id);
      const prev = this.entries.get(rec.id);
      const next: Recommendation = {
        ...rec,
        firstSeenMs: prev?.firstSeenMs ?? rec.firstSeenMs,
        lastSeenMs: nowMs,
      };
      delete next.resolvedAtMs;
      next.state = 'active';
      if (!prev || prev.state === 'resolved') changes.opened.push(next);
      this.entries.set(rec.id, next);
    }
    this.age(current, evaluation.observed, nowMs, changes.resolved);
    this.evict();
    return changes;
  }

  /** Every entry, for the state file. */
  snapshot(): RecommendationsSnapshot {
    return { entries: [...this.entries.values()] };
  }

  /**
   * Replaces the entries with a snapshot's (at start, before any evaluation). They age as if no
   * evaluation had seen them since: an active one unseen for `unobservedResolveMs` resolves now, a
   * resolved one past its retention goes, so a state file saved long ago brings back no stale alert.
   * Returns those resolved.
   */
  restore(snapshot: RecommendationsSnapshot, nowMs: number): Recommendation[] {
    this.entries.clear();
    for (const rec of snapshot.entries) this.entries.set(rec.id, rec);
    const resolved: Recommendation[] = [];
    this.age(new Set(), new Set(), nowMs, resolved);
    this.evict();
    return resolved;
  }

  /** Matching recommendations: active first, most severe first. */
  list(filter: RecommendationFilter = {}): Recommendation[] {
    const out: Recommendation[] = [];
    for (const rec of this.entries.values()) {
      if (filter.service !== undefined && rec.service !== filter.service) continue;
      if (filter.kind !== undefined && rec.kind !== filter.kind) continue;
      if (filter.state !== undefined && rec.state !== filter.state) continue;
      out.push(rec);
    }
    return sortRecommendations(out);
  }

  /** Entries not in `current`: active ones resolve when observed healthy or unseen too long; resolved ones expire. */
  private age(current: Set<string>, observed: Set<string>, nowMs: number, resolved: Recommendation[]): void {
    for (const [id, rec] of this.entries) {
      if (current.has(id)) continue;
      if (rec.state === 'active') {
        const cleared = observed.has(id) || nowMs - rec.lastSeenMs >= this.options.unobservedResolveMs;
        if (cleared) {
          const next: Recommendation = { ...rec, state: 'resolved', resolvedAtMs: nowMs };
          this.entries.set(id, next);
          resolved.push(next);
        }
      } else if (nowMs - (rec.resolvedAtMs ?? rec.lastSeenMs) >= this.options.resolvedRetentionMs) {
        this.entries.delete(id);
      }
    }
  }

  private evict(): void {
    const excess = this.entries.size - this.options.maxEntries;
    if (excess <= 0) return;
    // Resolved before active; among each, the one seen longest ago goes first.
    const victims = [...this.entries.values()]
      .sort(
        (a, b) =>
          (a.state === b.state ? 0 : a.state === 'resolved' ? -1 : 1) ||
          (a.resolvedAtMs ?? a.lastSeenMs) - (b.resolvedAtMs ?? b.lastSeenMs),
      )
      .slice(0, excess);
    for (const v of victims) this.entries.delete(v.id);
  }
}
