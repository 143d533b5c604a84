/**
 * A statistic kept per time bucket of the sidecar's receive clock, so reports can be asked for
 * the last 1/5/15 minutes or for everything since start.
 *
 * Layout: a ring of `ceil(15 min / bucketMs) + 1` slots (16 with the default 60 s), each holding
 * the accumulator of one bucket [e × bucketMs, (e + 1) × bucketMs) for an epoch number e, plus a
 * `retired` accumulator with everything older. A record only touches the slot of the current
 * bucket (one sketch add per value, not two); when a slot is needed for a newer epoch, or on
 * `prune`, its contents are folded into `retired` (moving sketch storage rather than copying).
 * Slots and `retired` are allocated on first use, so a key that saw one burst holds one bucket.
 *
 * Window coverage, with c = the epoch containing nowMs and n = ceil(window / bucketMs):
 * `1m`/`5m`/`15m` merge the buckets c − n … c, i.e. [ (c − n) × bucketMs, nowMs ] — the current,
 * partial bucket plus the n full ones before it, so never less than the window's nominal length
 * and at most one bucket more (5m with 60 s buckets: the last 5–6 minutes). `all` merges
 * `retired` and every slot. `windowStartMs` gives the exact start, for rates.
 */
import type { WindowName } from '../reports/types';

export interface AccumulatorOps<A> {
  create(): A;
  /**
   * Adds `from` into `into`. With `move`, `from` must be left empty (it is reused for a newer
   * bucket) and its storage may be moved rather than copied.
   */
  merge(into: A, from: A, move: boolean): void;
}

/** Nominal window lengths (ms); `all` has none. */
export const WINDOW_MS: Readonly<Record<Exclude<WindowName, 'all'>, number>> = {
  '1m': 60_000,
  '5m': 300_000,
  '15m': 900_000,
};

const LONGEST_WINDOW_MS = 900_000;

interface Slot<A> {
  epoch: number;
  acc: A;
}

/** Buckets (besides the current one) a window merges. */
export function windowBuckets(window: Exclude<WindowName, 'all'>, bucketMs: number): number {
  return Math.ceil(WINDOW_MS[window] / bucketMs);
}

/** First millisecond a window covers at nowMs (before clipping to the first data). */
export function windowStartMs(window: WindowName, nowMs: number, bucketMs: number): number {
  if (window === 'all') return Number.NEGATIVE_INFINITY;
  const epoch = Math.floor(nowMs / bucketMs);
  return (epoch - windowBuckets(window, bucketMs)) * bucketMs;
}

function slotIndex(epoch: number, size: number): number {
  const i = epoch % size;
  return i < 0 ? i + size : i;
}

export class Windowed<A> {
  private ring: (Slot<A> | undefined)[] | null = null;
  private retired: A | null = null;
  private readonly size: number;
  /** The bucket the last record went to: nearly every record hits it, skipping the ring. */
  private curEpoch = Number.NaN;
  private curAcc: A | null = null;

  constructor(
    private readonly ops: AccumulatorOps<A>,
    readonly bucketMs: number,
  ) {
    this.size = Math.ceil(LONGEST_WINDOW_MS / bucketMs) + 1;
  }

  /** The accumulator to record into for a value received at nowMs. */
  at(nowMs: number): A {
    const epoch = Math.floor(nowMs / this.bucketMs);
    if (epoch === this.curEpoch) return this.curAcc as A;
    if (this.ring === null) this.ring = new Array(this.size);
    const i = slotIndex(epoch, this.size);
    let slot = this.ring[i];
    if (slot === undefined) {
      slot = { epoch, acc: this.ops.create() };
      this.ring[i] = slot;
    } else if (slot.epoch < epoch) {
      this.fold(slot.acc);
      slot.epoch = epoch;
    } else if (slot.epoch > epoch) {
      // The clock stepped back: keep adding to the newer bucket, without caching it for this epoch.
      return slot.acc;
    }
    this.curEpoch = epoch;
    this.curAcc = slot.acc;
    return slot.acc;
  }

  /** A new accumulator with the window's data at nowMs (see the file comment for coverage). */
  snapshot(window: WindowName, nowMs: number): A {
    const out = this.ops.create();
    if (window === 'all' && this.retired !== null) this.ops.merge(out, this.retired, false);
    if (this.ring === null) return out;
    const first = this.firstEpoch(window, nowMs);
    for (const slot of this.ring) {
      if (slot !== undefined && slot.epoch >= first) this.ops.merge(out, slot.acc, false);
    }
    return out;
  }

  /** Sum of one field over the window's buckets: a cheap read when a full snapshot is not needed. */
  sum(window: WindowName, nowMs: number, field: (acc: A) => number): number {
    let total = window === 'all' && this.retired !== null ? field(this.retired) : 0;
    if (this.ring === null) return total;
    const first = this.firstEpoch(window, nowMs);
    for (const slot of this.ring) if (slot !== undefined && slot.epoch >= first) total += field(slot.acc);
    return total;
  }

  /** Folds buckets older than the longest window into `retired`; true when no bucket is live. */
  prune(nowMs: number): boolean {
    this.forgetCurrent();
    if (this.ring === null) return true;
    const oldest = Math.floor(nowMs / this.bucketMs) - (this.size - 1);
    let live = false;
    for (let i = 0; i < this.size; i++) {
      const slot = this.ring[i];
      if (slot === undefined) continue;
      if (slot.epoch < oldest) {
        this.fold(slot.acc);
        this.ring[i] = undefined;
      } else live = true;
    }
    if (!live) this.ring = null;
    return !live;
  }

  /** Adds everything `other` holds, bucket by bucket; `other` is emptied. */
  absorb(other: Windowed<A>): void {
    if (other.bucketMs !== this.bucketMs) throw new Error('cannot merge windows of different bucket widths');
    this.forgetCurrent();
    other.forgetCurrent();
    if (other.retired !== null) this.fold(other.retired);
    if (other.ring !== null) {
      for (const slot of other.ring) {
        if (slot === undefined) continue;
        if (this.ring === null) this.ring = new Array(this.size);
        const i = slotIndex(slot.epoch, this.size);
        const mine = this.ring[i];
        if (mine === undefined) this.ring[i] = { epoch: slot.epoch, acc: slot.acc };
        else if (mine.epoch === slot.epoch) this.ops.merge(mine.acc, slot.acc, true);
        else if (mine.epoch > slot.epoch) this.fold(slot.acc);
        else {
          this.fold(mine.acc);
          this.ring[i] = { epoch: slot.epoch, acc: slot.acc };
        }
      }
    }
    other.ring = null;
    other.retired = null;
  }

  private forgetCurrent(): void {
    this.curEpoch = Number.NaN;
    this.curAcc = null;
  }

  private firstEpoch(window: WindowName, nowMs: number): number {
    if (window === 'all') return Number.NEGATIVE_INFINITY;
    return Math.floor(nowMs / this.bucketMs) - windowBuckets(window, this.bucketMs);
  }

  private fold(acc: A): void {
    if (this.retired === null) this.retired = this.ops.create();
    this.ops.merge(this.retired, acc, true);
  }
}
