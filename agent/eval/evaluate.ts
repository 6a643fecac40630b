/**
 * One evaluation run: every method over every series, then the scores. The naive method is
 * always run, because MASE and the scored steps are defined against it; it is only reported
 * if it was asked for.
 */
import { naiveMethod } from './baselines.js';
import type { EvalSettings, Method, MethodForecasts, SeriesInput } from './method.js';
import { meanScores, scoreSeries, type MeanScore, type SeriesScore } from './score.js';

export interface EvaluateSettings extends EvalSettings {
  readonly warmupDays: number;
}

export interface EvaluateResult {
  /** Per series: for each series, each horizon, each method. */
  readonly rows: SeriesScore[];
  /** Per horizon and method, the mean over series. */
  readonly means: MeanScore[];
  /** Values replayed (series lengths summed), per method. */
  readonly values: number;
}

function checkShape(
  method: string,
  series: SeriesInput,
  forecasts: MethodForecasts[],
  horizons: number,
): void {
  if (forecasts.length !== horizons)
    throw new Error(
      `${method} on ${series.name}: returned ${forecasts.length} forecasts, one per horizon (${horizons}) expected`,
    );
  for (const f of forecasts)
    if (f.point.length !== series.values.length || f.upper.length !== series.values.length)
      throw new Error(
        `${method} on ${series.name}: forecast arrays of ${f.point.length} and ${f.upper.length} values, ${series.values.length} expected`,
      );
}

/**
 * Runs `methods` (in order) over `series`. `progress(done, total)` counts values replayed
 * across all series and methods.
 */
export async function evaluate(
  series: readonly SeriesInput[],
  methods: readonly Method[],
  settings: EvaluateSettings,
  progress?: (done: number, total: number) => void,
): Promise<EvaluateResult> {
  const naiveAsked = methods.find((m) => m.name === 'naive');
  const naive = naiveAsked ?? naiveMethod();
  const runs = naiveAsked ? methods : [naive, ...methods];
  const total = series.reduce((a, s) => a + s.values.length, 0) * runs.length;
  let done = 0;
  const rows: SeriesScore[] = [];
  for (const s of series) {
    const results = new Map<string, MethodForecasts[]>();
    for (const m of runs) {
      const base = done;
      const f = await m.run(s, settings, progress && ((d) => progress(base + d, total)));
      checkShape(m.name, s, f, settings.horizons.length);
      results.set(m.name, f);
      done = base + s.values.length;
      progress?.(done, total);
    }
    const reported = new Map(methods.map((m) => [m.name, results.get(m.name)!]));
    rows.push(...scoreSeries(s.name, s.values, results.get(naive.name)!, reported, settings));
  }
  // Per horizon, methods in the order asked: the per-series rows are ordered by series first.
  const means = meanScores(rows, settings.alpha).sort(
    (a, b) =>
      settings.horizons.indexOf(a.h) - settings.horizons.indexOf(b.h) ||
      methods.findIndex((m) => m.name === a.method) - methods.findIndex((m) => m.name === b.method),
  );
  return { rows, means, values: total / runs.length };
}
