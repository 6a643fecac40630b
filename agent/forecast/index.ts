/** The forecaster: series in, point forecasts and calibrated upper bounds out, per horizon. */
export { AdaptiveConformal, CONFORMAL_DEFAULTS } from './conformal.js';
export type { ConformalOptions, ConformalState } from './conformal.js';
export {
  EncoderSettingsError,
  SigmaDeltaEncoder,
  planEncoder,
  type EncoderPlan,
} from './encoder.js';
export {
  Forecaster,
  type ForecasterOptions,
  type ForecasterState,
  type ScheduledEvent,
} from './forecaster.js';
export { RobustNormalizer, type NormalizerOptions, type NormalizerState } from './normalizer.js';
export { OnlineRidge, type ReadoutOptions, type ReadoutState } from './readout.js';
export {
  TargetModel,
  type TargetForecast,
  type TargetOptions,
  type TargetState,
} from './target.js';
export { STATE_FORMAT, StateError, decodeForecasterState, encodeForecasterState } from './state.js';
export { SortedWindow } from './window.js';
