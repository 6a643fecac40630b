/**
 * The offline evaluator (../../../shared/EVAL.md): trace files in, each method replayed online
 * over every series, scored against naive. `spikecap eval` (agent/cli/eval.ts) is its front.
 */
export type { EvalSettings, Method, MethodForecasts, SeriesInput } from './method.js';
export { emptyForecasts } from './method.js';
export {
  TraceError,
  parseTraceSpec,
  readTrace,
  readTraceFile,
  resampleTrace,
  seriesOf,
  type ResampledTrace,
  type TraceOptions,
  type TraceSpec,
} from './trace.js';
export {
  AR_RLS,
  BASELINES,
  DecayingHistogram,
  EWMA_WEIGHT,
  Rls,
  VPA,
  arRlsMethod,
  dayBeforeTarget,
  ewmaMethod,
  naiveMethod,
  peak24hMethod,
  seasonalNaiveMethod,
  vpaMethod,
} from './baselines.js';
export {
  COVERAGE_TOLERANCE,
  meanScores,
  scoreSeries,
  type MeanScore,
  type ScoreSettings,
  type SeriesScore,
} from './score.js';
export { METHODS, type MethodFactory, type MethodOptions } from './methods.js';
export { evaluate, type EvaluateResult, type EvaluateSettings } from './evaluate.js';
