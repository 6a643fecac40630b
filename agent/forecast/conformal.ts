/**
 * Adaptive conformal inference (Gibbs and Candès, "Adaptive conformal inference under
 * distribution shift", NeurIPS 2021), as ../../../shared/EVAL.md defines it for spikecap:
 *
 *     bound_t   = point_t + Q(1 − a_t)          Q: quantile of the last `window` scores
 *     a_{t+1}   = a_t + γ (α − miss_t)          miss_t = 1 if y_t was above bound_t, else 0
 *
 * The class holds only the scores and a: what a score is (an absolute residual, or a residual
 * divided by a scale the caller predicts) is the caller's business, and so is turning the
 * quantile into a bound. Updates arrive in the order the targets are observed; for a forecast
 * h steps ahead the caller keeps its pending (point, bound) until y arrives.
 *
 * Quantile at level q = 1 − a over n stored scores s_(1) ≤ … ≤ s_(n) (the empirical quantile,
 * inf{s : #{s_i ≤ s} ≥ q n}):
 *   - n = 0: NaN, the caller has no calibration yet and issues no bound;
 *   - a ≥ 1 (q ≤ 0): 0, the bound is the point forecast itself;
 *   - a ≤ 0 (q ≥ 1): s_(n), the largest stored score. Gibbs and Candès take +∞ here; a finite
 *     bound keeps slack finite, and a then still rises by γα on every covered step;
 *   - otherwise s_(k), k = ⌈q n⌉.
 *
 * Cost: the scores live in a SortedWindow (window.ts): an update is two binary searches and
 * one memmove of at most `window` doubles, a query O(1).
 */
import { SortedWindow } from './window.js';

/** Settings of {@link AdaptiveConformal}. */
export interface ConformalOptions {
  /** Target miss rate α: the bound aims at coverage 1 − α. Default 0.05. */
  readonly alpha?: number;
  /** Step size γ of a. Default 0.005. */
  readonly gamma?: number;
  /** How many recent scores the quantile is taken over. Default 2016 (a week at 300 s). */
  readonly window?: number;
}

export const CONFORMAL_DEFAULTS = { alpha: 0.05, gamma: 0.005, window: 2016 } as const;

/** The learned state, plain JSON: a and the stored scores, oldest first. */
export interface ConformalState {
  readonly a: number;
  readonly scores: readonly number[];
}

export class AdaptiveConformal {
  readonly alpha: number;
  readonly gamma: number;
  readonly window: number;
  /** The current miss-rate level a_t; starts at α. */
  private a: number;
  private readonly scores: SortedWindow;

  constructor(options: ConformalOptions = {}) {
    const alpha = options.alpha ?? CONFORMAL_DEFAULTS.alpha;
    const gamma = options.gamma ?? CONFORMAL_DEFAULTS.gamma;
    const window = options.window ?? CONFORMAL_DEFAULTS.window;
    if (!(alpha > 0 && alpha < 1))
      throw new TypeError(`alpha: expected a number between 0 and 1 (exclusive), got ${alpha}`);
    if (!(gamma >= 0 && gamma < 1))
      throw new TypeError(`gamma: expected a number in [0, 1), got ${gamma}`);
    if (!Number.isInteger(window) || window < 1)
      throw new TypeError(`window: expected a positive integer, got ${window}`);
    this.alpha = alpha;
    this.gamma = gamma;
    this.window = window;
    this.a = alpha;
    this.scores = new SortedWindow(window);
  }

  /** The current level a_t (the quantile is taken at 1 − a_t). */
  get level(): number {
    return this.a;
  }

  /** How many scores the window holds. */
  get size(): number {
    return this.scores.length;
  }

  /** The (1 − a) quantile of the stored scores; NaN while there are none (see the header). */
  quantile(): number {
    return this.quantileAt(this.a);
  }

  /**
   * The (1 − a) quantile for a level `a` the caller derives from {@link level} (a caller that
   * wants to be careful while the window is small asks for a smaller a).
   */
  quantileAt(a: number): number {
    if (this.scores.length === 0) return NaN;
    return a >= 1 ? 0 : this.scores.quantile(1 - a);
  }

  /**
   * One scored step: store `score` (dropping the oldest beyond the window) and move a by
   * γ(α − miss). `miss` null means no bound was issued for this step (the window was empty):
   * the score is stored and a is left alone. A NaN score is ignored entirely.
   */
  update(score: number, miss: boolean | null): void {
    if (Number.isNaN(score)) return;
    if (miss !== null) this.a += this.gamma * (this.alpha - (miss ? 1 : 0));
    this.scores.push(score);
  }

  getState(): ConformalState {
    return { a: this.a, scores: this.scores.values() };
  }

  /** Restores a {@link getState} result; keeps the newest `window` scores if it holds more. */
  setState(state: ConformalState): void {
    if (typeof state.a !== 'number' || !Number.isFinite(state.a))
      throw new TypeError(`state.a: expected a finite number, got ${String(state.a)}`);
    const scores: unknown = state.scores;
    if (!Array.isArray(scores)) throw new TypeError('state.scores: expected an array');
    state.scores.forEach((s, i) => {
      if (typeof s !== 'number' || Number.isNaN(s))
        throw new TypeError(`state.scores[${i}]: expected a number, got ${String(s)}`);
    });
    this.a = state.a;
    this.scores.reset(state.scores);
  }
}
