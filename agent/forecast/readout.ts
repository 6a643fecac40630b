/**
 * One linear readout, adapted online: exponentially weighted ridge regression, the batch
 * equivalent of recursive least squares with forgetting, but with a ridge that does not fade
 * (RLS's initial regularisation decays with the forgetting factor, and its covariance winds up
 * in directions the inputs stop exciting; here neither can happen).
 *
 * After each update: A ← λA + ω·x·xᵀ, b ← λb + ω·x·y, where ω is a Huber weight (a residual more
 * than `huber` robust scales from the current prediction counts as if it were that far), so one
 * spike in the target does not swing the weights. Every `solveEvery` updates the weights become
 * the solution of (A + ρ·I)·w = b, by Cholesky. A solve that fails or gives non-finite or huge
 * weights, or a prediction beyond `limit`, resets the readout to zero weights (counted in
 * `resets`): a readout that has diverged starts over rather than publishing nonsense.
 */
export interface ReadoutOptions {
  /** Forgetting factor λ per update; default 0.998 (an effective memory of 500 updates). */
  readonly forgetting?: number;
  /** Ridge ρ; default 1. */
  readonly ridge?: number;
  /** Huber threshold in robust scales (1.25 × mean |residual|); default 3. */
  readonly huber?: number;
  /** Re-solve the weights every this many updates; default 16 (a solve costs ~P³/6, an update ~P²). */
  readonly solveEvery?: number;
  /** |prediction| above this means divergence; default 1e3. */
  readonly limit?: number;
}

export interface ReadoutState {
  readonly a: number[];
  readonly b: number[];
  readonly w: number[];
  readonly updates: number;
  readonly resets: number;
  readonly meanAbsResidual: number;
}

export class OnlineRidge {
  readonly size: number;
  /** Times the readout diverged and started over. */
  resets = 0;
  /** Updates since the last reset. */
  updates = 0;
  private readonly a: Float64Array;
  private readonly b: Float64Array;
  private readonly w: Float64Array;
  private readonly chol: Float64Array;
  private readonly tmp: Float64Array;
  private meanAbsResidual = 0;
  private readonly lambda: number;
  private readonly ridge: number;
  private readonly huber: number;
  private readonly solveEvery: number;
  private readonly limit: number;

  constructor(size: number, options: ReadoutOptions = {}) {
    this.size = size;
    this.a = new Float64Array(size * size);
    this.b = new Float64Array(size);
    this.w = new Float64Array(size);
    this.chol = new Float64Array(size * size);
    this.tmp = new Float64Array(size);
    this.lambda = options.forgetting ?? 0.998;
    this.ridge = options.ridge ?? 1;
    this.huber = options.huber ?? 3;
    this.solveEvery = options.solveEvery ?? 16;
    this.limit = options.limit ?? 1e3;
  }

  /** The weights' prediction for x (0 before the first solve). */
  predict(x: Float64Array): number {
    const w = this.w;
    let y = 0;
    for (let i = 0; i < this.size; i++) y += w[i]! * x[i]!;
    if (!(Math.abs(y) <= this.limit)) {
      this.reset();
      return 0;
    }
    return y;
  }

  update(x: Float64Array, y: number): void {
    if (!Number.isFinite(y)) return;
    const n = this.size;
    const e = y - this.predict(x);
    const robust = 1.25 * this.meanAbsResidual;
    const omega =
      this.updates >= 16 && Math.abs(e) > this.huber * robust
        ? (this.huber * robust) / Math.abs(e)
        : 1;
    this.meanAbsResidual += (Math.abs(e) - this.meanAbsResidual) / Math.min(this.updates + 1, 200);
    const lambda = this.lambda;
    const a = this.a;
    // Upper triangle only; the solve reads nothing else.
    for (let i = 0; i < n; i++) {
      const xi = omega * x[i]!;
      const row = i * n;
      for (let j = i; j < n; j++) a[row + j] = lambda * a[row + j]! + xi * x[j]!;
      this.b[i] = lambda * this.b[i]! + xi * y;
    }
    this.updates++;
    if (this.updates % this.solveEvery === 0) this.solve();
  }

  private solve(): void {
    const n = this.size;
    const a = this.a;
    const l = this.chol;
    // Cholesky of A + ρI, L stored in the upper triangle as Lᵀ (row i holds column i of L).
    for (let i = 0; i < n; i++) {
      for (let j = i; j < n; j++) {
        let sum = a[i * n + j]! + (i === j ? this.ridge : 0);
        for (let k = 0; k < i; k++) sum -= l[k * n + i]! * l[k * n + j]!;
        if (i === j) {
          if (!(sum > 0)) return this.reset();
          l[i * n + i] = Math.sqrt(sum);
        } else l[i * n + j] = sum / l[i * n + i]!;
      }
    }
    const t = this.tmp;
    for (let i = 0; i < n; i++) {
      let sum = this.b[i]!;
      for (let k = 0; k < i; k++) sum -= l[k * n + i]! * t[k]!;
      t[i] = sum / l[i * n + i]!;
    }
    for (let i = n - 1; i >= 0; i--) {
      let sum = t[i]!;
      for (let k = i + 1; k < n; k++) sum -= l[i * n + k]! * this.w[k]!;
      const wi = sum / l[i * n + i]!;
      if (!(Math.abs(wi) < 1e6)) return this.reset();
      this.w[i] = wi;
    }
  }

  /** Zero weights and statistics; counts a divergence. */
  private reset(): void {
    this.a.fill(0);
    this.b.fill(0);
    this.w.fill(0);
    this.updates = 0;
    this.meanAbsResidual = 0;
    this.resets++;
  }

  getState(): ReadoutState {
    return {
      a: Array.from(this.a),
      b: Array.from(this.b),
      w: Array.from(this.w),
      updates: this.updates,
      resets: this.resets,
      meanAbsResidual: this.meanAbsResidual,
    };
  }

  setState(state: ReadoutState): void {
    const n = this.size;
    if (state.a.length !== n * n || state.b.length !== n || state.w.length !== n)
      throw new RangeError(`readout state has the wrong size for ${n} features`);
    this.a.set(state.a);
    this.b.set(state.b);
    this.w.set(state.w);
    this.updates = state.updates;
    this.resets = state.resets;
    this.meanAbsResidual = state.meanAbsResidual;
  }
}
