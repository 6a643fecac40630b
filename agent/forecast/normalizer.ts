/**
 * Online robust normalisation of one series: a running location and scale that one outlier
 * cannot drag, so the encoder and the readouts see values of order one whatever the unit
 * (cores, bytes, bytes/s).
 *
 * - location m: an exponentially weighted mean whose update is Huber-clipped: a value more than
 *   `clip` scales away moves m as if it were exactly `clip` scales away.
 * - scale s: an exponentially weighted mean absolute deviation from m, its contributions clipped
 *   the same way (so a spike raises s by a bounded amount), floored at `floor` × the running mean
 *   of |value| (and at 1e-12) so a series that sits still does not divide by zero.
 * - The weight of a new value is 1/n for the first `window` values (a plain running mean while
 *   there is little history), then 1/`window` (forgetting, so a level shift is followed).
 *
 * z(v) = (v − m) / s, clipped to ±`zClip`.
 */
export interface NormalizerOptions {
  /** Values after which weights stop shrinking (the memory of the statistics); default 2016. */
  readonly window?: number;
  /** Huber clip, in scales; default 4. */
  readonly clip?: number;
  /** Scale floor as a fraction of the mean |value|; default 0.01. */
  readonly floor?: number;
  /** |z| at most this; default 10. */
  readonly zClip?: number;
}

export interface NormalizerState {
  readonly n: number;
  readonly location: number;
  readonly scale: number;
  readonly meanAbs: number;
}

export class RobustNormalizer {
  private n = 0;
  private m = 0;
  private s = 0;
  private meanAbs = 0;
  private readonly window: number;
  private readonly clip: number;
  private readonly floor: number;
  private readonly zClip: number;

  constructor(options: NormalizerOptions = {}) {
    this.window = options.window ?? 2016;
    this.clip = options.clip ?? 4;
    this.floor = options.floor ?? 0.01;
    this.zClip = options.zClip ?? 10;
  }

  /** Values seen. */
  get count(): number {
    return this.n;
  }

  get location(): number {
    return this.m;
  }

  /** The scale, floored: never 0. */
  get scale(): number {
    return Math.max(this.s, this.floor * this.meanAbs, 1e-12);
  }

  update(v: number): void {
    if (!Number.isFinite(v)) return;
    this.n++;
    if (this.n === 1) {
      this.m = v;
      this.meanAbs = Math.abs(v);
      this.s = 0;
      return;
    }
    const w = 1 / Math.min(this.n, this.window);
    const s = this.scale;
    // Until a scale exists (the second value), take the first deviation whole.
    const limit = this.s > 0 ? this.clip * s : Infinity;
    const d = v - this.m;
    const dc = d > limit ? limit : d < -limit ? -limit : d;
    this.m += w * dc;
    this.s += w * (Math.min(Math.abs(d), limit) - this.s);
    this.meanAbs += w * (Math.abs(v) - this.meanAbs);
  }

  z(v: number): number {
    const z = (v - this.m) / this.scale;
    return z > this.zClip ? this.zClip : z < -this.zClip ? -this.zClip : z;
  }

  getState(): NormalizerState {
    return { n: this.n, location: this.m, scale: this.s, meanAbs: this.meanAbs };
  }

  setState(state: NormalizerState): void {
    this.n = state.n;
    this.m = state.location;
    this.s = state.scale;
    this.meanAbs = state.meanAbs;
  }
}
