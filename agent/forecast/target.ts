/**
 * One forecast target (a series: node CPU, a unit's memory, ...): its history, its robust
 * normaliser, one readout and one calibrator per horizon, and the forecasts still waiting for
 * their target value.
 *
 * At each step, with the value y_t just observed:
 *  1. every forecast made h steps ago meets its target: its residual feeds the readout
 *     (features at origin → target), the scale tracker and the calibrator;
 *  2. the normaliser and history take y_t;
 *  3. for each horizon a new forecast is made from features known now (FEATURES below).
 *
 * What a readout learns is the change to come, in the origin's scale units:
 * (y_{t+h} − y_t)/s_t. The ridge then shrinks toward "no change" — the naive forecast —
 * which is the right prior where little has been learned yet.
 *
 * The point forecast combines four experts — the readout, the last value, the mean of the same
 * time of day over the last week, and a slow level (EWMA 0.05) — weighted by the inverse fourth
 * power of each one's recent mean absolute error at this horizon: at 5 minutes the readout
 * wins, a day ahead on a noisy series the level often does, and the combination follows.
 *
 * The upper bound is chosen the same way from six calibrated experts: three bases — the point,
 * and the (1 − α) quantiles of the last day's and the last week's values (VPA-like) — each plus
 * the adaptive conformal quantile of y − base, and each times the one of y / base (additive
 * for a noise of constant size, multiplicative for one that grows with the level). The one with
 * the lowest recent pinball loss at level 1 − α (the proper score for a quantile: it pays for
 * misses and for slack) is issued. Only under-forecasts miss, so every score is signed.
 */
import { AdaptiveConformal, type ConformalState } from './conformal.js';
import { RobustNormalizer, type NormalizerState } from './normalizer.js';
import { OnlineRidge, type ReadoutOptions, type ReadoutState } from './readout.js';
import { SortedWindow } from './window.js';

/**
 * FEATURES of the readout, in order (all but the calendar and events in z units of the origin's
 * normaliser): bias; the last LAGS values; the value one hour, one day and one week before the
 * target (the week falls back to the day until history allows); the mean of the same time of day
 * over the last 7 days; time of day (two harmonics) and day of week at the target, as sin/cos; the
 * reservoir's features; the covariates; the scheduled-event input.
 */
const LAGS = 6;
const SEASONAL_DAYS = 7;
const CALENDAR = 6;
const FIXED = 1 + LAGS + 4 + CALENDAR;
/** Point experts: readout, last value, week's mean at this time of day, slow level. */
const EXPERTS = 4;
const LEVEL_RATE = 0.05;
/** Bound experts: point + conformal, last day's quantile + conformal. */
const BOUNDS = 6;
/** Bound experts from this one on calibrate ratios y / base rather than differences y − base. */
const RATIO_FROM = 3;
/** Memory of the experts' error averages, in scored steps. */
const EXPERT_MEMORY = 288;
/** A calibrator holding this many scores uses half its level a (aims higher while it knows little). */
const CAREFUL_SCORES = 1000;
/** Weight ∝ (mean absolute error)^−POWER. */
const POWER = 4;

export interface TargetOptions {
  /** Horizons in steps. */
  readonly horizons: readonly number[];
  /** Seconds per step. */
  readonly step: number;
  /** Target miss rate of the upper bound (coverage 1 − alpha). */
  readonly alpha: number;
  /** Step size of the calibrators; default 0.005. */
  readonly gamma?: number;
  /** Scores a calibrator keeps; default 2016. */
  readonly calibrationWindow?: number;
  /** Reservoir features per step given to the readouts. */
  readonly reservoirFeatures: number;
  /** Covariates (z units) per step given to the readouts. */
  readonly covariates: number;
  /** Scored forecasts a horizon needs before its forecasts are trusted; default 1 day of steps. */
  readonly warmupSteps?: number;
  /** History kept, in steps; seasonal lags that would need more are left out. Default 4096. */
  readonly historyLimit?: number;
  readonly readout?: ReadoutOptions;
}

/** One forecast: of the value `horizon` steps after the step it was made at. */
export interface TargetForecast {
  readonly horizon: number;
  readonly point: number;
  /** NaN until a calibrator has scores. */
  readonly upper: number;
  /** Scored forecasts still needed before this horizon is trusted (0: trusted). */
  readonly warmupLeft: number;
}

/** A horizon's forecasts awaiting their target, one slot per step of the horizon (+1). */
interface Pending {
  readonly x: number[];
  readonly origin: number[];
  readonly scale: number[];
  readonly experts: number[];
  readonly bases: number[];
  readonly uppers: number[];
}

export interface TargetState {
  readonly steps: number;
  readonly lastValue: number;
  readonly minValue: number;
  readonly history: number[];
  readonly level: number;
  readonly normalizer: NormalizerState;
  readonly horizons: {
    readonly h: number;
    readonly scored: number;
    readonly readout: ReadoutState;
    readonly expertError: number[];
    readonly boundLoss: number[];
    readonly calibration: ConformalState[];
    readonly pending: Pending;
  }[];
}

/** Per horizon: the readout, the experts' records, the calibrators, the pending forecasts. */
class Horizon {
  readonly readout: OnlineRidge;
  readonly calibration: AdaptiveConformal[];
  /** Recent mean absolute error of each point expert. */
  readonly expertError = new Float64Array(EXPERTS);
  /** Recent mean pinball loss of each bound expert. */
  readonly boundLoss = new Float64Array(BOUNDS);
  scored = 0;
  readonly x: Float64Array;
  readonly origin: Float64Array;
  readonly scale: Float64Array;
  readonly experts: Float64Array;
  /** What each bound expert adds its conformal quantile to. */
  readonly bases: Float64Array;
  readonly uppers: Float64Array;

  constructor(
    readonly h: number,
    readonly size: number,
    options: TargetOptions,
  ) {
    this.readout = new OnlineRidge(size, options.readout);
    this.calibration = Array.from(
      { length: BOUNDS },
      () =>
        new AdaptiveConformal({
          alpha: options.alpha,
          // ACI learns of a miss h steps late; at the full γ its level swings by about γ·h
          // (≈ 1.4 a day ahead at 5 min) and the bound with it. γ/√h keeps the swing small.
          gamma: (options.gamma ?? 0.005) / Math.sqrt(h),
          window: options.calibrationWindow ?? 2016,
        }),
    );
    const slots = h + 1;
    this.x = new Float64Array(slots * size);
    this.origin = new Float64Array(slots).fill(NaN);
    this.scale = new Float64Array(slots);
    this.experts = new Float64Array(slots * EXPERTS);
    this.bases = new Float64Array(slots * BOUNDS);
    this.uppers = new Float64Array(slots * BOUNDS);
  }
}

export class TargetModel {
  readonly size: number;
  private readonly normalizer = new RobustNormalizer();
  private readonly history: Float64Array;
  private readonly mask: number;
  private readonly horizons: Horizon[];
  private readonly hour: number;
  private readonly day: number;
  private readonly week: number;
  private readonly warmupSteps: number;
  private readonly tau: number;
  /** The last day's values, for the quantile bound. */
  private readonly lastDay: SortedWindow;
  private readonly lastWeek: SortedWindow;
  private level = NaN;
  private steps = 0;
  private lastValue = NaN;
  private minValue = Infinity;
  private readonly expertNow = new Float64Array(EXPERTS);
  private readonly boundBase = new Float64Array(BOUNDS);

  constructor(private readonly options: TargetOptions) {
    this.size = FIXED + options.reservoirFeatures + options.covariates + 1;
    this.hour = Math.max(1, Math.round(3600 / options.step));
    this.day = Math.max(1, Math.round(86400 / options.step));
    this.week = 7 * this.day;
    const need = Math.max(...options.horizons) + SEASONAL_DAYS * this.day;
    const limit = options.historyLimit ?? 4096;
    let cap = 1;
    while (cap < Math.min(need, limit)) cap *= 2;
    this.history = new Float64Array(cap);
    this.mask = cap - 1;
    this.lastDay = new SortedWindow(Math.min(this.day, cap));
    this.lastWeek = new SortedWindow(Math.min(this.week, cap));
    this.warmupSteps = options.warmupSteps ?? this.day;
    this.tau = 1 - options.alpha;
    this.horizons = options.horizons.map((h) => new Horizon(h, this.size, options));
  }

  /** Times a readout diverged and was reset. */
  get resets(): number {
    return this.horizons.reduce((n, h) => n + h.readout.resets, 0);
  }

  /** The newest value in z units (the encoder's input); NaN before the first value. */
  get z(): number {
    return Number.isNaN(this.lastValue) ? NaN : this.normalizer.z(this.lastValue);
  }

  /**
   * Step, first half: `y` observed (NaN: missing, the last value carries forward). Scores the
   * forecasts made for this step and takes y into the statistics. False before the first value.
   */
  accept(y: number): boolean {
    if (!Number.isFinite(y)) {
      if (!Number.isFinite(this.lastValue)) return false;
      y = this.lastValue;
    }
    for (const hz of this.horizons) this.score(hz, y);
    this.normalizer.update(y);
    this.level = this.steps === 0 ? y : this.level + LEVEL_RATE * (y - this.level);
    this.history[this.steps & this.mask] = y;
    this.lastDay.push(y);
    this.lastWeek.push(y);
    this.steps++;
    this.lastValue = y;
    if (y < this.minValue) this.minValue = y;
    return true;
  }

  /**
   * Step, second half (after `accept`): one forecast per horizon from the target's history and
   * the step's other inputs — `reservoir` and `covariates` in z units, `event` the scheduled-event
   * input — at unix seconds `time`.
   */
  forecast(
    time: number,
    reservoir: Float64Array,
    covariates: Float64Array,
    event: number,
  ): TargetForecast[] {
    return this.horizons.map((hz) => this.issue(hz, time, reservoir, covariates, event));
  }

  /** The forecasts made h steps ago for this step meet y. */
  private score(hz: Horizon, y: number): void {
    const slot = (this.steps - hz.h) % (hz.h + 1);
    if (this.steps < hz.h || Number.isNaN(hz.origin[slot]!)) return;
    hz.readout.update(
      hz.x.subarray(slot * hz.size, (slot + 1) * hz.size),
      (y - hz.origin[slot]!) / hz.scale[slot]!,
    );
    const memory = Math.min(hz.scored + 1, EXPERT_MEMORY);
    for (let e = 0; e < EXPERTS; e++) {
      const err = Math.abs(y - hz.experts[slot * EXPERTS + e]!);
      hz.expertError[e] = hz.expertError[e]! + (err - hz.expertError[e]!) / memory;
    }
    for (let b = 0; b < BOUNDS; b++) {
      const upper = hz.uppers[slot * BOUNDS + b]!;
      const miss = Number.isNaN(upper) ? null : y > upper;
      const base = hz.bases[slot * BOUNDS + b]!;
      hz.calibration[b]!.update(b >= RATIO_FROM ? (base > 0 ? y / base : NaN) : y - base, miss);
      if (miss !== null) {
        const d = y - upper;
        const loss = d > 0 ? this.tau * d : (this.tau - 1) * d;
        hz.boundLoss[b] = hz.boundLoss[b]! + (loss - hz.boundLoss[b]!) / memory;
      }
    }
    hz.scored++;
  }

  private issue(
    hz: Horizon,
    time: number,
    reservoir: Float64Array,
    covariates: Float64Array,
    event: number,
  ): TargetForecast {
    const y = this.lastValue;
    const slot = (this.steps - 1) % (hz.h + 1);
    const x = hz.x.subarray(slot * hz.size, (slot + 1) * hz.size);
    const weekMean = this.features(x, hz.h, time, reservoir, covariates, event);
    const s = this.normalizer.scale;
    const floor = this.minValue >= 0 ? 0 : -Infinity;
    // A series that has never been negative (every resource) is not forecast below zero.
    const experts = this.expertNow;
    experts[0] = Math.max(floor, y + s * hz.readout.predict(x));
    experts[1] = y;
    experts[2] = weekMean;
    experts[3] = this.level;
    let point = y;
    if (hz.scored > 0) {
      let best = Infinity;
      for (let e = 0; e < EXPERTS; e++) best = Math.min(best, hz.expertError[e]!);
      let sum = 0;
      let wsum = 0;
      for (let e = 0; e < EXPERTS; e++) {
        // Relative to the best, so the weights neither underflow nor depend on units.
        const w = best > 0 ? (best / hz.expertError[e]!) ** POWER : e === 0 ? 1 : 0;
        sum += w * experts[e]!;
        wsum += w;
      }
      if (wsum > 0) point = sum / wsum;
    }
    hz.experts.set(experts, slot * EXPERTS);
    const dayQ = this.lastDay.quantile(this.tau);
    const weekQ = this.lastWeek.quantile(this.tau);
    const bases = this.boundBase;
    bases[0] = bases[3] = point;
    bases[1] = bases[4] = dayQ;
    bases[2] = bases[5] = weekQ;
    let upper = NaN;
    let bestLoss = Infinity;
    for (let b = 0; b < BOUNDS; b++) {
      const cal = hz.calibration[b]!;
      // While few scores are held their quantile is a noisy guess: aim higher, less so as they come.
      const q = cal.quantileAt((cal.level * cal.size) / (cal.size + CAREFUL_SCORES));
      const base = bases[b]!;
      const raw = b >= RATIO_FROM ? (base > 0 ? base * q : NaN) : base + q;
      const u = Number.isNaN(raw) ? NaN : Math.max(raw, point);
      hz.bases[slot * BOUNDS + b] = bases[b]!;
      hz.uppers[slot * BOUNDS + b] = u;
      if (!Number.isNaN(u) && (Number.isNaN(upper) || hz.boundLoss[b]! < bestLoss)) {
        upper = u;
        bestLoss = hz.boundLoss[b]!;
      }
    }
    hz.origin[slot] = y;
    hz.scale[slot] = s;
    return {
      horizon: hz.h,
      point,
      upper,
      warmupLeft: Math.max(0, this.warmupSteps - hz.scored),
    };
  }

  /** The value `back` steps before the newest, or NaN if history does not reach. */
  private past(back: number): number {
    if (back >= this.steps || back > this.mask) return NaN;
    return this.history[(this.steps - 1 - back) & this.mask]!;
  }

  /** The value `periods` periods before the target (whole periods back), NaN if not held. */
  private seasonal(h: number, period: number, periods = 1): number {
    const k = Math.ceil(h / period) + periods - 1;
    return this.past(k * period - h);
  }

  /** Writes the readout's features for horizon h; returns the week's mean at this time of day. */
  private features(
    x: Float64Array,
    h: number,
    time: number,
    reservoir: Float64Array,
    covariates: Float64Array,
    event: number,
  ): number {
    const nz = this.normalizer;
    const newest = this.lastValue;
    const z = (v: number, fallback: number): number => nz.z(Number.isNaN(v) ? fallback : v);
    let i = 0;
    x[i++] = 1;
    for (let k = 0; k < LAGS; k++) x[i++] = z(this.past(k), newest);
    const hourAgo = this.seasonal(h, this.hour);
    const dayAgo = this.seasonal(h, this.day);
    x[i++] = z(hourAgo, newest);
    x[i++] = z(dayAgo, Number.isNaN(hourAgo) ? newest : hourAgo);
    x[i++] = z(this.seasonal(h, this.week), Number.isNaN(dayAgo) ? newest : dayAgo);
    let sum = 0;
    let n = 0;
    for (let d = 1; d <= SEASONAL_DAYS; d++) {
      const v = this.seasonal(h, this.day, d);
      if (Number.isNaN(v)) break;
      sum += v;
      n++;
    }
    const weekMean = n > 0 ? sum / n : Number.isNaN(hourAgo) ? newest : hourAgo;
    x[i++] = nz.z(weekMean);
    const target = time + h * this.options.step;
    const tod = (2 * Math.PI * (((target % 86400) + 86400) % 86400)) / 86400;
    // 1970-01-01 was a Thursday: shift so the week phase starts on Monday 00:00 UTC.
    const dow = (2 * Math.PI * ((((target + 3 * 86400) % 604800) + 604800) % 604800)) / 604800;
    x[i++] = Math.sin(tod);
    x[i++] = Math.cos(tod);
    x[i++] = Math.sin(2 * tod);
    x[i++] = Math.cos(2 * tod);
    x[i++] = Math.sin(dow);
    x[i++] = Math.cos(dow);
    for (let k = 0; k < this.options.reservoirFeatures; k++) x[i++] = reservoir[k]!;
    for (let k = 0; k < this.options.covariates; k++) x[i++] = covariates[k]!;
    x[i++] = event;
    return weekMean;
  }

  getState(): TargetState {
    return {
      steps: this.steps,
      lastValue: this.lastValue,
      minValue: this.minValue,
      history: Array.from(this.history),
      level: this.level,
      normalizer: this.normalizer.getState(),
      horizons: this.horizons.map((hz) => ({
        h: hz.h,
        scored: hz.scored,
        readout: hz.readout.getState(),
        expertError: Array.from(hz.expertError),
        boundLoss: Array.from(hz.boundLoss),
        calibration: hz.calibration.map((c) => c.getState()),
        pending: {
          x: Array.from(hz.x),
          origin: Array.from(hz.origin),
          scale: Array.from(hz.scale),
          experts: Array.from(hz.experts),
          bases: Array.from(hz.bases),
          uppers: Array.from(hz.uppers),
        },
      })),
    };
  }

  /** Restores a {@link getState} result; one of another shape throws a RangeError saying why. */
  setState(state: TargetState): void {
    if (state.history.length !== this.history.length)
      throw new RangeError(
        `history of ${state.history.length} steps, this target keeps ${this.history.length}`,
      );
    if (state.horizons.length !== this.horizons.length)
      throw new RangeError(
        `state has ${state.horizons.length} horizons, this target ${this.horizons.length}`,
      );
    state.horizons.forEach((s, k) => {
      const hz = this.horizons[k]!;
      if (s.h !== hz.h) throw new RangeError(`state horizon ${s.h} where ${hz.h} is expected`);
      if (s.pending.x.length !== hz.x.length)
        throw new RangeError(`horizon ${hz.h}: pending forecasts have the wrong feature count`);
    });
    this.steps = state.steps;
    this.lastValue = state.lastValue;
    this.minValue = state.minValue;
    this.history.set(state.history);
    this.level = state.level;
    this.normalizer.setState(state.normalizer);
    for (const w of [this.lastDay, this.lastWeek]) {
      const held = Math.min(this.steps, w.size);
      w.reset(Array.from({ length: held }, (_, i) => this.past(held - 1 - i)));
    }
    state.horizons.forEach((s, k) => {
      const hz = this.horizons[k]!;
      hz.scored = s.scored;
      hz.readout.setState(s.readout);
      hz.expertError.set(s.expertError);
      hz.boundLoss.set(s.boundLoss);
      s.calibration.forEach((c, b) => hz.calibration[b]!.setState(c));
      hz.x.set(s.pending.x);
      hz.origin.set(s.pending.origin);
      hz.scale.set(s.pending.scale);
      hz.experts.set(s.pending.experts);
      hz.bases.set(s.pending.bases);
      hz.uppers.set(s.pending.uppers);
    });
  }
}
