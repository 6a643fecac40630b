/**
 * The forecaster of one cadence: every target and covariate series in, one forecast per
 * (target, horizon) out, each step.
 *
 *   values ─► normalisers ─► encoder ─spikes─► reservoir (any Backend) ─features─┐
 *      └──────────► per target: history, lags, seasonal lags, calendar ─────────┴─► readouts
 *
 * One reservoir hears every series (targets first, then covariates, two channels each, as many
 * as the model has inputs for); each target has its own readouts over the shared reservoir
 * features and its own inputs. `observe` is the whole online step: forecasts made before a
 * value is seen, learning only from the past.
 */
import type { Backend } from '../backends/contract.js';
import { featureLength, inputLength, type ModelBundle } from '../model/index.js';
import { SigmaDeltaEncoder, planEncoder, type EncoderPlan } from './encoder.js';
import { RobustNormalizer, type NormalizerState } from './normalizer.js';
import type { ReadoutOptions } from './readout.js';
import { TargetModel, type TargetForecast, type TargetState } from './target.js';

/** A scheduled event from the config: between start and end, demand is about `factor` × usual. */
export interface ScheduledEvent {
  readonly name: string;
  /** Unix seconds. */
  readonly start: number;
  readonly end: number;
  readonly factor: number;
}

export interface ForecasterOptions {
  readonly bundle: ModelBundle;
  /** Steps the reservoir; only `step` is used. */
  readonly backend: Pick<Backend, 'step'>;
  readonly targets: readonly string[];
  readonly covariates?: readonly string[];
  /** Horizons in steps. */
  readonly horizons: readonly number[];
  /** Seconds per step. */
  readonly step: number;
  /** Target miss rate of the upper bounds; default 0.05. */
  readonly alpha?: number;
  readonly gamma?: number;
  /** Reservoir neurons whose traces the readouts see; default 16. */
  readonly reservoirFeatures?: number;
  readonly events?: readonly ScheduledEvent[];
  readonly warmupSteps?: number;
  readonly readout?: ReadoutOptions;
}

export interface ForecasterState {
  readonly bundle: string;
  readonly targets: readonly string[];
  readonly covariates: readonly string[];
  readonly horizons: readonly number[];
  readonly step: number;
  readonly encoder: number[];
  readonly reservoir: number[];
  readonly covariateNormalizers: NormalizerState[];
  /** The last value of each covariate (carried over gaps). */
  readonly covariateValues: number[];
  readonly featureNormalizers: NormalizerState[];
  readonly models: TargetState[];
}

export class Forecaster {
  readonly targets: readonly string[];
  readonly covariates: readonly string[];
  readonly plan: EncoderPlan;
  private readonly models: TargetModel[];
  private readonly covNorm: RobustNormalizer[];
  private readonly featNorm: RobustNormalizer[];
  /** Indices into the trace half of the reservoir's features. */
  private readonly picks: Int32Array;
  private readonly encoder: SigmaDeltaEncoder;
  private readonly spikes: Uint8Array;
  private readonly features: Int16Array;
  private readonly u: Float64Array;
  private readonly reservoirX: Float64Array;
  private readonly covX: Float64Array;
  private readonly lastCov: Float64Array;

  constructor(private readonly options: ForecasterOptions) {
    const { bundle } = options;
    this.targets = options.targets;
    this.covariates = options.covariates ?? [];
    const series = this.targets.length + this.covariates.length;
    this.plan = planEncoder(bundle.encoder, bundle.model, series);
    this.encoder = new SigmaDeltaEncoder(this.plan, bundle.model);
    this.spikes = new Uint8Array(inputLength(bundle.model));
    this.features = new Int16Array(featureLength(bundle.model));
    const N = bundle.model.neurons;
    const k = Math.min(options.reservoirFeatures ?? 16, N);
    // Evenly spread over the neurons: the generator places neurons at random, so any spread
    // set is as good as another, and this one is reproducible.
    this.picks = Int32Array.from({ length: k }, (_, i) => N + Math.floor((i * N) / k));
    this.featNorm = Array.from({ length: k }, () => new RobustNormalizer());
    this.covNorm = this.covariates.map(() => new RobustNormalizer());
    this.u = new Float64Array(series);
    this.reservoirX = new Float64Array(k);
    this.covX = new Float64Array(this.covariates.length);
    this.lastCov = new Float64Array(this.covariates.length).fill(NaN);
    this.models = this.targets.map(
      () =>
        new TargetModel({
          horizons: options.horizons,
          step: options.step,
          alpha: options.alpha ?? 0.05,
          reservoirFeatures: k,
          covariates: this.covariates.length,
          ...(options.gamma !== undefined ? { gamma: options.gamma } : {}),
          ...(options.warmupSteps !== undefined ? { warmupSteps: options.warmupSteps } : {}),
          ...(options.readout !== undefined ? { readout: options.readout } : {}),
        }),
    );
  }

  /** Times any readout diverged and was reset. */
  get resets(): number {
    return this.models.reduce((n, m) => n + m.resets, 0);
  }

  /**
   * One step at unix seconds `time`: `targets[i]` and `covariates[j]` are the step's values (NaN:
   * missing). Returns, per target, one forecast per horizon, or undefined for a target not yet
   * seen.
   */
  async observe(
    time: number,
    targets: ArrayLike<number>,
    covariates: ArrayLike<number> = [],
  ): Promise<(TargetForecast[] | undefined)[]> {
    const nt = this.targets.length;
    const seen = new Array<boolean>(nt);
    for (let i = 0; i < nt; i++) {
      const m = this.models[i]!;
      seen[i] = m.accept(targets[i] ?? NaN);
      this.u[i] = m.z;
    }
    for (let j = 0; j < this.covariates.length; j++) {
      const v = covariates[j] ?? NaN;
      if (Number.isFinite(v)) {
        this.lastCov[j] = v;
        this.covNorm[j]!.update(v);
      }
      const last = this.lastCov[j]!;
      this.covX[j] = Number.isNaN(last) ? 0 : this.covNorm[j]!.z(last);
      this.u[nt + j] = this.covX[j]!;
    }
    this.encoder.encode(this.u, this.spikes);
    await this.options.backend.step(this.spikes, this.features, 1);
    for (let k = 0; k < this.picks.length; k++) {
      const norm = this.featNorm[k]!;
      const v = this.features[this.picks[k]!]!;
      norm.update(v);
      this.reservoirX[k] = norm.z(v);
    }
    const event = this.eventInput(time);
    return this.models.map((m, i) =>
      seen[i] ? m.forecast(time, this.reservoirX, this.covX, event) : undefined,
    );
  }

  /** Σ (factor − 1) over the scheduled events under way at `time`. */
  private eventInput(time: number): number {
    let x = 0;
    for (const e of this.options.events ?? [])
      if (time >= e.start && time < e.end) x += e.factor - 1;
    return x;
  }

  /** The learned state, plain JSON-able (reservoir state as bytes). */
  getState(reservoir: Uint8Array): ForecasterState {
    return {
      bundle: this.options.bundle.sha256,
      targets: this.targets,
      covariates: this.covariates,
      horizons: this.options.horizons,
      step: this.options.step,
      encoder: this.encoder.getState(),
      reservoir: Array.from(reservoir),
      covariateNormalizers: this.covNorm.map((n) => n.getState()),
      covariateValues: Array.from(this.lastCov),
      featureNormalizers: this.featNorm.map((n) => n.getState()),
      models: this.models.map((m) => m.getState()),
    };
  }

  /**
   * Restores a {@link getState} result and returns the reservoir state the caller must set on its
   * backend. A state for another bundle, other series, horizons or step throws a RangeError
   * saying which (the caller warns and starts fresh).
   */
  setState(state: ForecasterState): Uint8Array {
    const same = (a: readonly unknown[], b: readonly unknown[]): boolean =>
      a.length === b.length && a.every((v, i) => v === b[i]);
    if (state.bundle !== this.options.bundle.sha256)
      throw new RangeError(
        `saved for model ${state.bundle.slice(0, 12)}…, running ${this.options.bundle.sha256.slice(0, 12)}…`,
      );
    if (!same(state.targets, this.targets)) throw new RangeError('saved for other targets');
    if (!same(state.covariates, this.covariates))
      throw new RangeError('saved for other covariates');
    if (!same(state.horizons, this.options.horizons) || state.step !== this.options.step)
      throw new RangeError('saved for other horizons or another step');
    if (
      state.models.length !== this.models.length ||
      state.featureNormalizers.length !== this.featNorm.length
    )
      throw new RangeError('saved with another number of targets or reservoir features');
    this.encoder.setState(state.encoder);
    this.lastCov.set(state.covariateValues);
    state.covariateNormalizers.forEach((s, j) => this.covNorm[j]!.setState(s));
    state.featureNormalizers.forEach((s, k) => this.featNorm[k]!.setState(s));
    state.models.forEach((s, i) => this.models[i]!.setState(s));
    return Uint8Array.from(state.reservoir);
  }
}
