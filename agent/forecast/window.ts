/**
 * The last `size` values of a stream, kept both in arrival order and sorted, so an order
 * statistic (a quantile) costs O(1) and a new value O(log n) to place plus one memmove of at most
 * `size` numbers.
 */
export class SortedWindow {
  private readonly ring: Float64Array;
  private readonly sorted: Float64Array;
  private next = 0;
  private count = 0;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1)
      throw new TypeError(`size: expected a positive integer, got ${size}`);
    this.ring = new Float64Array(size);
    this.sorted = new Float64Array(size);
  }

  /** Values held. */
  get length(): number {
    return this.count;
  }

  /** The k-th smallest value held, k = 1 … length. */
  order(k: number): number {
    return this.sorted[k - 1]!;
  }

  /**
   * The empirical quantile at level q: the smallest held value with at least q·n values at or
   * below it (the largest for q ≥ 1, the smallest for q ≤ 0); NaN when empty.
   */
  quantile(q: number): number {
    const n = this.count;
    if (n === 0) return NaN;
    return this.sorted[Math.min(n, Math.max(1, Math.ceil(q * n))) - 1]!;
  }

  /** Adds v, dropping the oldest value once `size` are held. NaN is ignored. */
  push(v: number): void {
    if (Number.isNaN(v)) return;
    if (this.count < this.size) {
      const i = this.lowerBound(v);
      this.sorted.copyWithin(i + 1, i, this.count);
      this.sorted[i] = v;
      this.count++;
    } else {
      this.replace(this.ring[this.next]!, v);
    }
    this.ring[this.next] = v;
    this.next = this.next + 1 === this.size ? 0 : this.next + 1;
  }

  /** Values held, oldest first. */
  values(): number[] {
    const out: number[] = [];
    const start = (this.next - this.count + this.size) % this.size;
    for (let i = 0; i < this.count; i++) out.push(this.ring[(start + i) % this.size]!);
    return out;
  }

  /** Empties the window and pushes `values` in order (the newest `size` of them stay). */
  reset(values: readonly number[] = []): void {
    this.count = 0;
    this.next = 0;
    for (const v of values.slice(-this.size)) this.push(v);
  }

  /** First index in sorted[0 … count) whose value is ≥ x. */
  private lowerBound(x: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.sorted[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Removes one copy of `old` (held) and inserts `x`, moving only the values between them. */
  private replace(old: number, x: number): void {
    const s = this.sorted;
    const i = this.lowerBound(old);
    let j = this.lowerBound(x);
    if (j > i) {
      j--;
      s.copyWithin(i, i + 1, j + 1);
    } else if (j < i) {
      s.copyWithin(j + 1, j, i);
    }
    s[j] = x;
  }
}
