import type { RecommendationSeries } from './sources';

/**
 * How long `spanstat_recommendation_info` keeps an active recommendation's title and action. The text
 * carries live numbers ("hit rate 6.3%", "168 of 723 requests") and a changed label value starts a new
 * Prometheus series: refreshed at every 30-s evaluation, 50 recommendations would start ~6,000 series
 * an hour; held 10 minutes, at most 300. The API and the page show the live text.
 */
export const INFO_TEXT_HOLD_MS = 10 * 60_000;

interface Held {
  title: string;
  action: string;
  sinceMs: number;
}

/** The info labels' text per recommendation, changed at most once per `holdMs`. */
export class HeldRecommendationText {
  private held = new Map<string, Held>();

  constructor(
    private readonly now: () => number,
    private readonly holdMs = INFO_TEXT_HOLD_MS,
  ) {}

  /** The text to export for `active`, in its order; recommendations no longer active are forgotten. */
  texts(active: readonly RecommendationSeries[]): { title: string; action: string }[] {
    const now = this.now();
    const next = new Map<string, Held>();
    const out = active.map((r) => {
      const key = `${r.service}\u0000${r.id}`;
      const title = r.title ?? '';
      let held = this.held.get(key);
      const changed = held !== undefined && (held.title !== title || held.action !== r.action);
      if (held === undefined || (changed && now - held.sinceMs >= this.holdMs))
        held = { title, action: r.action, sinceMs: now };
      next.set(key, held);
      return held;
    });
    this.held = next;
    return out;
  }
}
