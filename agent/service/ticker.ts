/**
 * The sampling clock: fires at every multiple of the interval on the wall clock (so ticks of
 * different nodes line up), and measures how late each fire was and how many were missed
 * (an event loop blocked past a whole interval) instead of hiding them.
 */
import { EventEmitter } from 'node:events';

export interface TickerStats {
  ticks: number;
  /** Scheduled ticks that never fired because the process was late past them. */
  missed: number;
  /** Fires skipped because the wall clock went backwards past an already emitted tick. */
  clockBackwards: number;
  /** Lateness of fires (actual − scheduled), ms, over the last 1024 ticks. */
  lagMs: { p50: number; p99: number; max: number; last: number };
}

export class Ticker extends EventEmitter<{ tick: [number] }> {
  private timer: NodeJS.Timeout | undefined;
  private lastTs = -Infinity;
  private readonly lags = new Float64Array(1024);
  private n = 0;
  private readonly counters = { ticks: 0, missed: 0, clockBackwards: 0 };

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {
    super();
  }

  start(): void {
    if (!this.timer) this.schedule();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  get running(): boolean {
    return this.timer !== undefined;
  }

  stats(): TickerStats {
    const k = Math.min(this.n, this.lags.length);
    const s = Array.from(this.lags.subarray(0, k)).sort((a, b) => a - b);
    const q = (p: number): number => (k ? s[Math.min(k - 1, Math.floor(p * k))]! : NaN);
    return {
      ...this.counters,
      lagMs: {
        p50: q(0.5),
        p99: q(0.99),
        max: k ? s[k - 1]! : NaN,
        last: k ? this.lags[(this.n - 1) % this.lags.length]! : NaN,
      },
    };
  }

  private schedule(): void {
    clearTimeout(this.timer);
    const now = this.now();
    const next = Math.floor(now / this.intervalMs) * this.intervalMs + this.intervalMs;
    this.timer = setTimeout(() => this.fire(next), next - now);
  }

  private fire(scheduled: number): void {
    if (this.timer === undefined) return; // stopped meanwhile
    const now = this.now();
    // setTimeout may fire a hair early by the wall clock; the slot is what was scheduled,
    // unless we are late past later slots, which are then counted as missed.
    const due = Math.max(scheduled, Math.floor(now / this.intervalMs) * this.intervalMs);
    const missed = (due - scheduled) / this.intervalMs;
    this.schedule();
    if (due <= this.lastTs) {
      this.counters.clockBackwards++;
      return;
    }
    if (this.lastTs > -Infinity)
      this.counters.missed += Math.max(0, Math.round((due - this.lastTs) / this.intervalMs) - 1);
    else this.counters.missed += missed;
    this.lastTs = due;
    this.lags[this.n++ % this.lags.length] = now - due;
    this.counters.ticks++;
    this.emit('tick', due);
  }
}
