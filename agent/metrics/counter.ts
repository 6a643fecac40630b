/**
 * Turning kernel counters into rates.
 *
 * A counter that went down was either wrapped or reset, and the two must not be confused:
 * reading a reset as a wrap invents a huge spike. The rules (documented in SERIES.md):
 *
 * - `cur >= prev`: the delta is `cur - prev`.
 * - 32-bit wrap: both readings fit in 32 bits and `cur + 2^32 - prev` is below a quarter of
 *   the 32-bit range (the counter was near the top and is now near the bottom).
 * - 64-bit wrap: `prev` is at or above 2^32 (so not a 32-bit counter) and
 *   `cur + 2^64 - prev` is below a quarter of the 64-bit range.
 * - Anything else is a reset (a device or cgroup recreated, a driver reloaded): the delta is
 *   NaN, the tick reports NaN, and the next tick rates from the new baseline.
 * - `maxDelta` (when the counter has a physical bound, e.g. busy ms cannot exceed elapsed ms)
 *   turns an implausible wrap into a reset.
 *
 * Counters are held as doubles: exact below 2^53 (a byte counter reaches that after 104 days
 * at 1 TB/s). Above it, a 64-bit wrap's delta is exact to the double's spacing (2^11 near 2^64).
 */
export const TWO32 = 4294967296;
export const TWO64 = 18446744073709551616;
const QUARTER32 = TWO32 / 4;
const QUARTER64 = TWO64 / 4;

export function counterDelta(prev: number, cur: number, maxDelta = Infinity): number {
  if (!(cur >= prev)) {
    if (Number.isNaN(prev) || Number.isNaN(cur)) return NaN;
    let d: number;
    if (prev < TWO32) {
      d = cur + TWO32 - prev;
      if (cur >= TWO32 || d >= QUARTER32) return NaN;
    } else {
      d = TWO64 - prev + cur;
      if (d >= QUARTER64) return NaN;
    }
    return d <= maxDelta ? d : NaN;
  }
  return cur - prev;
}

/** Per-second rate of a counter over `elapsedMs`; NaN on a reset or a non-positive interval. */
export function ratePerSecond(prev: number, cur: number, elapsedMs: number): number {
  if (!(elapsedMs > 0)) return NaN;
  return (counterDelta(prev, cur) * 1000) / elapsedMs;
}

/**
 * Share of the interval (0–100) a PSI `total=` counter (µs stalled) advanced by. Our clock
 * and the kernel's differ by the read latency, so a fully stalled tick is clamped to 100.
 */
export function stalledPct(prevUs: number, curUs: number, elapsedMs: number): number {
  if (!(elapsedMs > 0)) return NaN;
  const pct = counterDelta(prevUs, curUs) / (elapsedMs * 10);
  return pct > 100 ? 100 : pct;
}
