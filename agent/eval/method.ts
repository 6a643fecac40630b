/**
 * The contract between the evaluator and a forecasting method (a baseline, or spikecap).
 *
 * The evaluator hands a method one resampled series at a time. The method replays it as the
 * agent would see it live: at each origin t it may use values[0 … t] (and the covariates up to
 * t) and nothing later, and for each horizon h issues a forecast of values[t + h]. It writes
 * that forecast at index t + h of the output arrays, so point[t] and upper[t] are what was
 * said about values[t] h steps earlier. Forecasts whose target lies past the end are dropped.
 */

/** One target series, resampled to a fixed step (agent/eval/trace.ts). */
export interface SeriesInput {
  /** `file:column`, e.g. "azure-v1-b-50vms.csv:vm1054036". */
  readonly name: string;
  /** Seconds per value. */
  readonly step: number;
  /** Unix seconds of the start of values[0]'s step. */
  readonly t0: number;
  /** The last observation in each step, carried forward over gaps; NaN before the first one. */
  readonly values: Float64Array;
  /** Exogenous inputs from the same file, resampled the same way, same length as values. */
  readonly covariates: readonly { readonly name: string; readonly values: Float64Array }[];
}

/** A method's forecasts at one horizon, indexed by target step; same length as values. */
export interface MethodForecasts {
  /** point[t]: the forecast of values[t] made at t − h; NaN where none (or bound-only methods). */
  readonly point: Float64Array;
  /** upper[t]: the upper bound for values[t] made at t − h; NaN where none. */
  readonly upper: Float64Array;
}

export interface EvalSettings {
  /** Horizons in steps, each ≥ 1. The result has one MethodForecasts per horizon, same order. */
  readonly horizons: readonly number[];
  /** Target miss rate of the upper bound: coverage aimed at 1 − alpha. */
  readonly alpha: number;
  /** Steps per day (86400 / step), for seasonal features and 24 h windows. */
  readonly stepsPerDay: number;
}

export interface Method {
  readonly name: string;
  /** Replays the series one value at a time, each forecast made before its target is seen. */
  run(
    series: SeriesInput,
    settings: EvalSettings,
    progress?: (done: number) => void,
  ): Promise<MethodForecasts[]>;
  close?(): Promise<void>;
}

/** Empty (all NaN) forecast arrays for `length` steps, one per horizon. */
export function emptyForecasts(horizons: number, length: number): MethodForecasts[] {
  return Array.from({ length: horizons }, () => ({
    point: new Float64Array(length).fill(NaN),
    upper: new Float64Array(length).fill(NaN),
  }));
}
