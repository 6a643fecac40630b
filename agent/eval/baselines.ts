/**
 * The classic baselines of ../../../shared/EVAL.md, each a {@link Method} that replays the
 * series online: at origin t it has seen values[first … t] and nothing later, and issues its
 * forecast of values[t + h] for every horizon h. Values before the first observation (NaN)
 * are skipped; forecasts start at the first observation.
 *
 * Point methods (naive, seasonal_naive, ewma, ar_rls) get their upper bound from adaptive
 * conformal inference on their absolute residuals (agent/forecast/conformal.ts), one per
 * horizon, updated when each target arrives. Bound-only methods (vpa, peak_24h) give the same
 * bound for every horizon and no point forecast.
 */
import { AdaptiveConformal } from '../forecast/conformal.js';
import {
  emptyForecasts,
  type EvalSettings,
  type Method,
  type MethodForecasts,
  type SeriesInput,
} from './method.js';

/** How often (in values) a baseline reports progress. */
const PROGRESS_EVERY = 8192;

function firstObserved(values: Float64Array): number {
  let i = 0;
  while (i < values.length && Number.isNaN(values[i]!)) i++;
  return i;
}

/** The whole-days-back index of EVAL.md: t + h − k·D with the smallest k ≥ 1 that is ≤ t. */
export function dayBeforeTarget(t: number, h: number, stepsPerDay: number): number {
  return t + h - Math.max(1, Math.ceil(h / stepsPerDay)) * stepsPerDay;
}

/** A point forecaster, driven by {@link runPointMethod}. */
interface PointModel {
  /** values[t] has arrived (not NaN; values[first … t] are all known). */
  observe(t: number): void;
  /** The forecast of values[t + h] made at origin t (after observe(t)); NaN for none. */
  forecast(t: number, h: number, k: number): number;
}

/** Replays a point model, with one conformal bound per horizon (EVAL.md, "Conformal"). */
function runPointMethod(
  series: SeriesInput,
  settings: EvalSettings,
  model: PointModel,
  progress?: (done: number) => void,
): MethodForecasts[] {
  const y = series.values;
  const n = y.length;
  const hs = settings.horizons;
  const out = emptyForecasts(hs.length, n);
  const conformal = hs.map(() => new AdaptiveConformal({ alpha: settings.alpha }));
  for (let t = firstObserved(y); t < n; t++) {
    const v = y[t]!;
    if (Number.isNaN(v)) continue;
    // Score what was said about y[t] h steps ago, before anything learns from y[t].
    for (let k = 0; k < hs.length; k++) {
      const f = out[k]!;
      const p = f.point[t]!;
      if (Number.isNaN(p)) continue;
      const u = f.upper[t]!;
      conformal[k]!.update(Math.abs(v - p), Number.isNaN(u) ? null : v > u);
    }
    model.observe(t);
    for (let k = 0; k < hs.length; k++) {
      const h = hs[k]!;
      if (t + h >= n) continue;
      const p = model.forecast(t, h, k);
      if (Number.isNaN(p)) continue;
      const f = out[k]!;
      f.point[t + h] = p;
      f.upper[t + h] = p + conformal[k]!.quantile();
    }
    if (progress && t % PROGRESS_EVERY === 0) progress(t + 1);
  }
  progress?.(n);
  return out;
}

/** A bound-only forecaster: one upper bound at each origin, for every horizon. */
interface BoundModel {
  observe(t: number): void;
  upper(): number;
}

function runBoundMethod(
  series: SeriesInput,
  settings: EvalSettings,
  model: BoundModel,
  progress?: (done: number) => void,
): MethodForecasts[] {
  const y = series.values;
  const n = y.length;
  const hs = settings.horizons;
  const out = emptyForecasts(hs.length, n);
  for (let t = firstObserved(y); t < n; t++) {
    if (Number.isNaN(y[t]!)) continue;
    model.observe(t);
    const u = model.upper();
    for (let k = 0; k < hs.length; k++) if (t + hs[k]! < n) out[k]!.upper[t + hs[k]!] = u;
    if (progress && t % PROGRESS_EVERY === 0) progress(t + 1);
  }
  progress?.(n);
  return out;
}

function pointMethod(
  name: string,
  make: (y: Float64Array, settings: EvalSettings) => PointModel,
): Method {
  return {
    name,
    run: (series, settings, progress) =>
      Promise.resolve(runPointMethod(series, settings, make(series.values, settings), progress)),
  };
}

function boundMethod(
  name: string,
  make: (series: SeriesInput, settings: EvalSettings) => BoundModel,
): Method {
  return {
    name,
    run: (series, settings, progress) =>
      Promise.resolve(runBoundMethod(series, settings, make(series, settings), progress)),
  };
}

// ---------------------------------------------------------------------------------------------
// naive, seasonal_naive, ewma

/** naive: ŷ[t+h] = y[t]. */
export function naiveMethod(): Method {
  return pointMethod('naive', (y) => ({ observe() {}, forecast: (t) => y[t]! }));
}

/** seasonal_naive: ŷ[t+h] = y[t + h − k·D], whole days back (none before the first value). */
export function seasonalNaiveMethod(): Method {
  return pointMethod('seasonal_naive', (y, s) => {
    const first = firstObserved(y);
    return {
      observe() {},
      forecast(t, h) {
        const j = dayBeforeTarget(t, h, s.stepsPerDay);
        return j >= first ? y[j]! : NaN;
      },
    };
  });
}

export const EWMA_WEIGHT = 0.3;

/** ewma: s ← 0.3·y + 0.7·s, started at the first value; ŷ[t+h] = s_t for every h. */
export function ewmaMethod(): Method {
  return pointMethod('ewma', (y) => {
    let s = NaN;
    return {
      observe(t) {
        const v = y[t]!;
        s = Number.isNaN(s) ? v : EWMA_WEIGHT * v + (1 - EWMA_WEIGHT) * s;
      },
      forecast: () => s,
    };
  });
}

// ---------------------------------------------------------------------------------------------
// ar_rls

export const AR_RLS = {
  /** Lags y[t], y[t−1], …, y[t−11]. */
  lags: 12,
  forgetting: 0.999,
  /** z-scores are clipped to ±clip, features and targets alike (and the forecast z). */
  clip: 10,
  /** P starts (and restarts) as initialP · I: a weak prior on z-scored data. */
  initialP: 100,
  /** P is reset when trace(P) > resetTrace · size. */
  resetTrace: 1e4,
  /**
   * The std is floored at max(relFloor · |mean|, absFloor): a series that varies by less than
   * 0.1 % of its level is treated as constant, and an all-zero series does not divide by 0.
   */
  relFloor: 1e-3,
  absFloor: 1e-9,
} as const;

/** Recursive least squares with exponential forgetting and a covariance reset. */
export class Rls {
  readonly w: Float64Array;
  readonly p: Float64Array;
  private readonly px: Float64Array;
  resets = 0;

  constructor(
    readonly size: number,
    readonly forgetting: number = AR_RLS.forgetting,
    readonly initialP: number = AR_RLS.initialP,
    readonly resetTrace: number = AR_RLS.resetTrace,
  ) {
    this.w = new Float64Array(size);
    this.p = new Float64Array(size * size);
    this.px = new Float64Array(size);
    this.resetP();
  }

  private resetP(): void {
    this.p.fill(0);
    for (let i = 0; i < this.size; i++) this.p[i * this.size + i] = this.initialP;
  }

  predict(x: Float64Array, offset = 0): number {
    let s = 0;
    for (let i = 0; i < this.size; i++) s += this.w[i]! * x[offset + i]!;
    return s;
  }

  /** One observation (x = x[offset … offset + size), target y). */
  update(x: Float64Array, y: number, offset = 0): void {
    const n = this.size;
    const { p, px, w } = this;
    let xpx = 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += p[i * n + j]! * x[offset + j]!;
      px[i] = s;
      xpx += x[offset + i]! * s;
    }
    const denom = this.forgetting + xpx;
    const e = y - this.predict(x, offset);
    const inv = 1 / this.forgetting;
    let trace = 0;
    for (let i = 0; i < n; i++) {
      const ki = px[i]! / denom;
      w[i] = w[i]! + ki * e;
      // P ← (P − k (Px)ᵀ) / λ, kept symmetric by construction (k ∝ Px).
      for (let j = 0; j < n; j++) p[i * n + j] = (p[i * n + j]! - ki * px[j]!) * inv;
      trace += p[i * n + i]!;
    }
    if (!(trace <= this.resetTrace * n)) {
      this.resetP();
      this.resets++;
    }
  }
}

/**
 * ar_rls: per horizon, a direct linear forecast of z(y[t+h]) from z(y[t … t−11]), z(y[t + h −
 * k·D]) and a bias, fitted by {@link Rls}. z(v) = clip((v − mean_t) / std_t, ±10) with the
 * running (Welford, all values so far) mean and population std at the origin; a value before
 * the first observation enters as 0 (the mean). The pair formed at origin t is learned when
 * y[t+h] arrives, with the origin's mean and std.
 */
export function arRlsMethod(): Method {
  return pointMethod('ar_rls', (y, s) => {
    const { lags, clip } = AR_RLS;
    const size = lags + 2;
    const first = firstObserved(y);
    const hs = s.horizons.length;
    const rls = Array.from({ length: hs }, () => new Rls(size));
    // Pending features of the last h origins of each horizon, in slot (origin mod h).
    const pending = s.horizons.map((h) => ({
      x: new Float64Array(h * size),
      mean: new Float64Array(h),
      std: new Float64Array(h),
      valid: new Uint8Array(h),
    }));
    let count = 0;
    let mean = 0;
    let m2 = 0;
    let std = 1;
    const z = (v: number, m: number, sd: number): number => {
      const q = (v - m) / sd;
      return q > clip ? clip : q < -clip ? -clip : q;
    };
    return {
      observe(t) {
        const v = y[t]!;
        count++;
        const d = v - mean;
        mean += d / count;
        m2 += d * (v - mean);
        std = Math.max(Math.sqrt(m2 / count), AR_RLS.relFloor * Math.abs(mean), AR_RLS.absFloor);
        for (let k = 0; k < hs; k++) {
          const h = s.horizons[k]!;
          const q = pending[k]!;
          const slot = t % h;
          if (!q.valid[slot]) continue;
          rls[k]!.update(q.x, z(v, q.mean[slot]!, q.std[slot]!), slot * size);
        }
      },
      forecast(t, h, k) {
        const q = pending[k]!;
        const slot = t % h;
        const o = slot * size;
        const x = q.x;
        for (let i = 0; i < lags; i++) x[o + i] = t - i >= first ? z(y[t - i]!, mean, std) : 0;
        const j = dayBeforeTarget(t, h, s.stepsPerDay);
        x[o + lags] = j >= first ? z(y[j]!, mean, std) : 0;
        x[o + lags + 1] = 1;
        q.mean[slot] = mean;
        q.std[slot] = std;
        q.valid[slot] = 1;
        const f = rls[k]!.predict(x, o);
        return mean + std * (f > clip ? clip : f < -clip ? -clip : f);
      },
    };
  });
}

// ---------------------------------------------------------------------------------------------
// vpa

/**
 * The Kubernetes VPA recommender's CPU estimate (autoscaler/vertical-pod-autoscaler,
 * pkg/recommender/util/histogram.go, decaying_histogram.go, model/aggregations_config.go,
 * logic/recommender.go), on a series of arbitrary units:
 *   - exponential buckets, ratio 1.05: bucket i starts at f·(1.05^i − 1)/0.05 and the first
 *     bucket is [0, f). VPA uses f = 0.01 core and max 1000 cores (10⁵ f) for CPU; here
 *     f = 0.01 × the first positive value of the series (its scale unknown in advance) and
 *     max = 10⁹ f (≈ 360 buckets), values ≤ 0 in the first bucket;
 *   - each sample weighs 2^((time − ref)/24 h) (24 h half-life; VPA's CPU samples also weigh
 *     the container's request, which a bare series does not have: weight 1); ref is moved and
 *     the weights rescaled when the exponent would pass 100, as VPA does;
 *   - epsilon 1e-4 (VPA's 0.001 × minSampleWeight 0.1) bounds the buckets that count;
 *   - percentile p: the end of the first bucket where the cumulative weight reaches p · total
 *     (the start of the last bucket if it is the last);
 *   - target = percentile(0.9) × (1 + 0.15 safety margin). Before any positive value: 0.
 */
export const VPA = {
  ratio: 1.05,
  firstBucketFraction: 0.01,
  maxOverFirst: 1e9,
  epsilon: 1e-4,
  halfLifeSeconds: 86_400,
  maxDecayExponent: 100,
  percentile: 0.9,
  margin: 0.15,
} as const;

export class DecayingHistogram {
  readonly numBuckets: number;
  private readonly weights: Float64Array;
  private total = 0;
  private minBucket: number;
  private maxBucket = 0;
  private ref: number | undefined;
  private readonly logRatio = Math.log(VPA.ratio);

  constructor(
    readonly firstBucketSize: number,
    readonly halfLife: number = VPA.halfLifeSeconds,
  ) {
    this.numBuckets =
      Math.ceil(Math.log(VPA.maxOverFirst * (VPA.ratio - 1) + 1) / this.logRatio) + 1;
    this.weights = new Float64Array(this.numBuckets);
    this.minBucket = this.numBuckets - 1;
  }

  findBucket(value: number): number {
    if (value < this.firstBucketSize) return 0;
    const b = Math.floor(
      Math.log((value * (VPA.ratio - 1)) / this.firstBucketSize + 1) / this.logRatio,
    );
    return Math.min(b, this.numBuckets - 1);
  }

  bucketStart(bucket: number): number {
    if (bucket === 0) return 0;
    return (this.firstBucketSize * (Math.pow(VPA.ratio, bucket) - 1)) / (VPA.ratio - 1);
  }

  /** Adds a sample of weight 1 taken at `time` seconds. */
  add(value: number, time: number): void {
    if (this.ref === undefined || time > this.ref + this.halfLife * VPA.maxDecayExponent)
      this.shiftReference(time);
    const weight = Math.pow(2, (time - this.ref!) / this.halfLife);
    const b = this.findBucket(value);
    this.weights[b] = this.weights[b]! + weight;
    this.total += weight;
    if (b < this.minBucket && this.weights[b] >= VPA.epsilon) this.minBucket = b;
    if (b > this.maxBucket && this.weights[b] >= VPA.epsilon) this.maxBucket = b;
  }

  private shiftReference(time: number): void {
    // Go's time.Round: to a whole number of half-lives, halves away from zero.
    const newRef = Math.round(time / this.halfLife) * this.halfLife;
    if (this.ref !== undefined) {
      const factor = Math.pow(2, Math.round((this.ref - newRef) / this.halfLife));
      for (let b = this.minBucket; b <= this.maxBucket; b++)
        this.weights[b] = this.weights[b]! * factor;
      this.total *= factor;
      const last = this.numBuckets - 1;
      while (this.weights[this.minBucket]! < VPA.epsilon && this.minBucket < last) this.minBucket++;
      while (this.weights[this.maxBucket]! < VPA.epsilon && this.maxBucket > 0) this.maxBucket--;
    }
    this.ref = newRef;
  }

  isEmpty(): boolean {
    return this.weights[this.minBucket]! < VPA.epsilon;
  }

  percentile(p: number): number {
    if (this.isEmpty()) return 0;
    const threshold = p * this.total;
    let partial = 0;
    let b = this.minBucket;
    for (; b < this.maxBucket; b++) {
      partial += this.weights[b]!;
      if (partial >= threshold) break;
    }
    return b < this.numBuckets - 1 ? this.bucketStart(b + 1) : this.bucketStart(b);
  }
}

/** vpa: the VPA recommender's target (see {@link VPA}) as the upper bound at every horizon. */
export function vpaMethod(): Method {
  return boundMethod('vpa', (series) => {
    const y = series.values;
    let hist: DecayingHistogram | undefined;
    // Samples ≤ 0 seen before the first positive value fixes the bucket scale.
    const early: number[] = [];
    return {
      observe(t) {
        const v = y[t]!;
        const time = t * series.step;
        if (!hist) {
          if (!(v > 0)) {
            early.push(time);
            return;
          }
          hist = new DecayingHistogram(VPA.firstBucketFraction * v);
          for (const e of early) hist.add(0, e);
        }
        hist.add(v, time);
      },
      upper: () => (hist ? hist.percentile(VPA.percentile) * (1 + VPA.margin) : 0),
    };
  });
}

// ---------------------------------------------------------------------------------------------
// peak_24h

/** peak_24h: the maximum of the last day's values (y[t − D + 1 … t]), by a monotonic deque. */
export function peak24hMethod(): Method {
  return boundMethod('peak_24h', (series, s) => {
    const y = series.values;
    const day = s.stepsPerDay;
    const deque = new Int32Array(y.length); // indices, values decreasing from head to tail
    let head = 0;
    let tail = 0;
    let last = -1;
    return {
      observe(t) {
        const v = y[t]!;
        while (tail > head && y[deque[tail - 1]!]! <= v) tail--;
        deque[tail++] = t;
        while (deque[head]! <= t - day) head++;
        last = t;
      },
      upper: () => (last < 0 ? NaN : y[deque[head]!]!),
    };
  });
}

/** The baselines by name, in the order of EVAL.md's table. */
export const BASELINES: Readonly<Record<string, () => Method>> = {
  naive: naiveMethod,
  seasonal_naive: seasonalNaiveMethod,
  ewma: ewmaMethod,
  ar_rls: arRlsMethod,
  vpa: vpaMethod,
  peak_24h: peak24hMethod,
};
