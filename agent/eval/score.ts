/**
 * Scoring, as ../../../shared/EVAL.md ("Scoring") defines it.
 *
 * A step t of a series is scored for a method at horizon h when
 *   - it is past the warm-up: t ≥ first observation + warmupDays · stepsPerDay,
 *   - the naive forecast of it exists (naive.point[t]), and
 *   - the method has a forecast of it (point[t] or upper[t]).
 * On those steps:
 *   - MASE = Σ|y − ŷ| / Σ|y − y_naive| over the steps where the method has a point forecast:
 *     NaN for bound-only methods, and NaN (excluded from the mean, counted in
 *     `mase_excluded`) where the naive error is 0, e.g. a constant series;
 *   - coverage = share of steps with an upper bound where y ≤ u;
 *   - slack = Σ max(u − y, 0) / Σ u over the same steps (NaN if Σ u is 0).
 * The mean rows average each metric over the series where it is a number.
 */
import type { MethodForecasts } from './method.js';

export interface SeriesScore {
  readonly series: string;
  readonly h: number;
  readonly method: string;
  readonly mase: number;
  readonly coverage: number;
  readonly slack: number;
  /** Scored steps. */
  readonly n: number;
  readonly mae: number;
  /** The naive MAE on the steps the MAE is taken over. */
  readonly naive_mae: number;
}

export interface MeanScore {
  readonly series: 'mean';
  readonly h: number;
  readonly method: string;
  readonly mase: number;
  readonly coverage: number;
  readonly slack: number;
  /** Scored steps over all series. */
  readonly n: number;
  /** How many series the row is over. */
  readonly series_count: number;
  /** Series left out of the MASE mean: no point forecast, or a naive MAE of 0. */
  readonly mase_excluded: number;
  /** coverage ≥ 1 − α − 0.01 (meets the target within 1 percentage point). */
  readonly coverage_ok: boolean;
}

/** How far below 1 − α the mean coverage may be and still count as meeting it. */
export const COVERAGE_TOLERANCE = 0.01;

export interface ScoreSettings {
  readonly horizons: readonly number[];
  readonly stepsPerDay: number;
  readonly warmupDays: number;
}

/**
 * The rows of one series: for each horizon (in settings order), one per method (in the order
 * of `methods`). `naive` is the naive method's forecasts, one per horizon.
 */
export function scoreSeries(
  series: string,
  values: Float64Array,
  naive: readonly MethodForecasts[],
  methods: ReadonlyMap<string, readonly MethodForecasts[]>,
  settings: ScoreSettings,
): SeriesScore[] {
  let first = 0;
  while (first < values.length && Number.isNaN(values[first]!)) first++;
  const start = first + Math.round(settings.warmupDays * settings.stepsPerDay);
  const rows: SeriesScore[] = [];
  settings.horizons.forEach((h, k) => {
    const base = naive[k]!.point;
    for (const [method, forecasts] of methods) {
      const { point, upper } = forecasts[k]!;
      let n = 0;
      let absErr = 0;
      let naiveErr = 0;
      let points = 0;
      let bounds = 0;
      let covered = 0;
      let unused = 0;
      let allocated = 0;
      for (let t = start; t < values.length; t++) {
        const y = values[t]!;
        const b = base[t]!;
        const p = point[t]!;
        const u = upper[t]!;
        if (Number.isNaN(y) || Number.isNaN(b) || (Number.isNaN(p) && Number.isNaN(u))) continue;
        n++;
        if (!Number.isNaN(p)) {
          points++;
          absErr += Math.abs(y - p);
          naiveErr += Math.abs(y - b);
        }
        if (!Number.isNaN(u)) {
          bounds++;
          if (y <= u) covered++;
          if (u > y) unused += u - y;
          allocated += u;
        }
      }
      rows.push({
        series,
        h,
        method,
        mase: points > 0 && naiveErr > 0 ? absErr / naiveErr : NaN,
        coverage: bounds > 0 ? covered / bounds : NaN,
        slack: allocated !== 0 ? unused / allocated : NaN,
        n,
        mae: points > 0 ? absErr / points : NaN,
        naive_mae: points > 0 ? naiveErr / points : NaN,
      });
    }
  });
  return rows;
}

function meanOf(xs: number[]): number {
  const ok = xs.filter((x) => !Number.isNaN(x));
  return ok.length ? ok.reduce((a, b) => a + b, 0) / ok.length : NaN;
}

/** One mean row per (horizon, method), in the order the pairs first appear in `rows`. */
export function meanScores(rows: readonly SeriesScore[], alpha: number): MeanScore[] {
  const groups = new Map<string, SeriesScore[]>();
  for (const r of rows) {
    const key = `${r.h}\u0000${r.method}`;
    const g = groups.get(key);
    if (g) g.push(r);
    else groups.set(key, [r]);
  }
  return [...groups.values()].map((g) => {
    const coverage = meanOf(g.map((r) => r.coverage));
    return {
      series: 'mean' as const,
      h: g[0]!.h,
      method: g[0]!.method,
      mase: meanOf(g.map((r) => r.mase)),
      coverage,
      slack: meanOf(g.map((r) => r.slack)),
      n: g.reduce((a, r) => a + r.n, 0),
      series_count: g.length,
      mase_excluded: g.filter((r) => Number.isNaN(r.mase)).length,
      coverage_ok: coverage >= 1 - alpha - COVERAGE_TOLERANCE,
    };
  });
}
