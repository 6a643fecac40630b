/**
 * Rollups (min, mean, max, last per step) computed as records are written, in time order.
 * Only closed buckets are written to Redis; the open ones live here and are rebuilt from raw
 * samples after a restart (raw retention is at least twice the largest step).
 */
import { putValue } from './codec.js';
import type { TierLayout } from './layout.js';
import type { PartialRecord, TickRecord } from './records.js';

export interface ClosedBucket {
  tier: TierLayout;
  bucketTs: number;
  names: readonly string[];
  /** names.length slots of 16 bytes: min, max, mean, last (see codec.ts). */
  data: Buffer;
}

interface TierState {
  tier: TierLayout;
  bucketTs: number;
  count: Uint32Array;
  min: Float64Array;
  max: Float64Array;
  sum: Float64Array;
  last: Float64Array;
}

export class RollupAggregator {
  private readonly states: TierState[];
  private names: string[] = [];
  /** An immutable copy of `names`, replaced only when a series joins or the set is reset, so
   * the writer can tell by identity that a bucket's keys are the same as the last one's. */
  private namesSnapshot: readonly string[] = [];
  private slotOf = new Map<string, number>();
  private slotsFor = new WeakMap<readonly string[], Int32Array>();
  private capacity = 0;

  /** `tiers` must be in increasing step order, each step a multiple of the one before. */
  constructor(tiers: readonly TierLayout[]) {
    this.states = tiers.map((tier) => ({
      tier,
      bucketTs: NaN,
      count: new Uint32Array(0),
      min: new Float64Array(0),
      max: new Float64Array(0),
      sum: new Float64Array(0),
      last: new Float64Array(0),
    }));
  }

  /** Adds one tick; returns the buckets that the tick's time closed. */
  addTick(rec: TickRecord): ClosedBucket[] {
    const closed = this.advance(rec.ts);
    const slots = this.slots(rec.series);
    for (const s of this.states) {
      for (let i = 0; i < slots.length; i++) {
        const v = rec.values[i]!;
        if (Number.isNaN(v)) continue;
        const j = slots[i]!;
        if (s.count[j] === 0) {
          s.min[j] = v;
          s.max[j] = v;
          s.sum[j] = v;
        } else {
          if (v < s.min[j]!) s.min[j] = v;
          if (v > s.max[j]!) s.max[j] = v;
          s.sum[j] = s.sum[j]! + v;
        }
        s.count[j] = s.count[j]! + 1;
        s.last[j] = v;
      }
    }
    return closed;
  }

  /** Merges a shed bucket's summary; returns the buckets its time closed. */
  addPartial(rec: PartialRecord): ClosedBucket[] {
    const closed = this.advance(rec.bucketTs);
    const slots = this.slots(rec.series);
    for (const s of this.states) {
      for (let i = 0; i < slots.length; i++) {
        const n = rec.count[i]!;
        if (n === 0) continue;
        const j = slots[i]!;
        if (s.count[j] === 0) {
          s.min[j] = rec.min[i]!;
          s.max[j] = rec.max[i]!;
          s.sum[j] = rec.sum[i]!;
        } else {
          s.min[j] = Math.min(s.min[j]!, rec.min[i]!);
          s.max[j] = Math.max(s.max[j]!, rec.max[i]!);
          s.sum[j] = s.sum[j]! + rec.sum[i]!;
        }
        s.count[j] = s.count[j]! + n;
        s.last[j] = rec.last[i]!;
      }
    }
    return closed;
  }

  private advance(ts: number): ClosedBucket[] {
    const closed: ClosedBucket[] = [];
    for (const s of this.states) {
      const b = Math.floor(ts / s.tier.stepMs) * s.tier.stepMs;
      if (b === s.bucketTs) continue;
      if (!Number.isNaN(s.bucketTs)) closed.push(this.emit(s));
      s.bucketTs = b;
      s.count.fill(0);
    }
    // When the largest tier turns over every tier is empty: forget series that went away.
    const largest = this.states[this.states.length - 1];
    if (largest && closed.length === this.states.length) this.resetSlots();
    return closed;
  }

  private emit(s: TierState): ClosedBucket {
    const n = this.names.length;
    const data = Buffer.alloc(n * 16);
    for (let j = 0; j < n; j++) {
      const c = s.count[j]!;
      if (c === 0) continue; // zero bytes: missing
      putValue(data, j * 16, s.min[j]!);
      putValue(data, j * 16 + 4, s.max[j]!);
      putValue(data, j * 16 + 8, s.sum[j]! / c);
      putValue(data, j * 16 + 12, s.last[j]!);
    }
    if (this.namesSnapshot.length !== n) this.namesSnapshot = this.names.slice();
    return { tier: s.tier, bucketTs: s.bucketTs, names: this.namesSnapshot, data };
  }

  private resetSlots(): void {
    this.names = [];
    this.namesSnapshot = [];
    this.slotOf = new Map();
    this.slotsFor = new WeakMap();
  }

  private slots(series: readonly string[]): Int32Array {
    let slots = this.slotsFor.get(series);
    if (slots) return slots;
    slots = new Int32Array(series.length);
    for (let i = 0; i < series.length; i++) {
      const name = series[i]!;
      let j = this.slotOf.get(name);
      if (j === undefined) {
        j = this.names.length;
        this.names.push(name);
        this.slotOf.set(name, j);
      }
      slots[i] = j;
    }
    this.grow(this.names.length);
    this.slotsFor.set(series, slots);
    return slots;
  }

  private grow(n: number): void {
    if (n <= this.capacity) return;
    const cap = Math.max(64, n * 2);
    for (const s of this.states) {
      s.count = copy(new Uint32Array(cap), s.count);
      s.min = copy(new Float64Array(cap), s.min);
      s.max = copy(new Float64Array(cap), s.max);
      s.sum = copy(new Float64Array(cap), s.sum);
      s.last = copy(new Float64Array(cap), s.last);
    }
    this.capacity = cap;
  }
}

function copy<T extends Uint32Array | Float64Array>(to: T, from: T): T {
  to.set(from);
  return to;
}

/**
 * Summarises ticks into one PartialRecord per bucket of `stepMs` (the smallest rollup step):
 * what the spool keeps when it must shed raw samples.
 */
export function summarise(ticks: readonly TickRecord[], stepMs: number): PartialRecord[] {
  const out: PartialRecord[] = [];
  let cur: { rec: PartialRecord; slotOf: Map<string, number> } | undefined;
  for (const t of ticks) {
    const bucketTs = Math.floor(t.ts / stepMs) * stepMs;
    if (!cur || cur.rec.bucketTs !== bucketTs) {
      cur = { rec: emptyPartial(bucketTs, stepMs), slotOf: new Map() };
      out.push(cur.rec);
    }
    const p = cur.rec;
    p.ts = t.ts;
    p.ticks++;
    for (let i = 0; i < t.series.length; i++) {
      const v = t.values[i]!;
      if (Number.isNaN(v)) continue;
      const name = t.series[i]!;
      let j = cur.slotOf.get(name);
      if (j === undefined) {
        j = cur.slotOf.size;
        cur.slotOf.set(name, j);
        (p.series as string[]).push(name);
        pushSlot(p);
      }
      if (p.count[j] === 0) {
        p.min[j] = v;
        p.max[j] = v;
        p.sum[j] = v;
      } else {
        p.min[j] = Math.min(p.min[j]!, v);
        p.max[j] = Math.max(p.max[j]!, v);
        p.sum[j] = p.sum[j]! + v;
      }
      p.count[j] = p.count[j]! + 1;
      p.last[j] = v;
    }
  }
  return out;
}

function emptyPartial(bucketTs: number, stepMs: number): PartialRecord {
  return {
    kind: 'partial',
    ts: bucketTs,
    bucketTs,
    stepMs,
    ticks: 0,
    series: [],
    count: new Uint32Array(0),
    min: new Float64Array(0),
    max: new Float64Array(0),
    sum: new Float64Array(0),
    last: new Float64Array(0),
  };
}

function pushSlot(p: PartialRecord): void {
  const n = p.series.length;
  if (n <= p.count.length) return;
  const cap = Math.max(64, n * 2);
  p.count = copy(new Uint32Array(cap), p.count);
  p.min = copy(new Float64Array(cap), p.min);
  p.max = copy(new Float64Array(cap), p.max);
  p.sum = copy(new Float64Array(cap), p.sum);
  p.last = copy(new Float64Array(cap), p.last);
}
