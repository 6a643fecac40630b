/**
 * The spiking forecaster as an evaluation method: the agent's slow-cadence Forecaster, run on a
 * trace exactly as it runs live (one value at a time through the encoder, the reservoir on the
 * chosen backend, the readouts and the calibrators).
 */
import { openBackend, type Backend } from '../backends/index.js';
import { defaultModelBundle } from '../config/resolve.js';
import { Forecaster, type ForecasterOptions } from '../forecast/index.js';
import { readBundle, type ModelBundle } from '../model/index.js';
import type { EvalSettings, Method, MethodForecasts, SeriesInput } from './method.js';
import { emptyForecasts } from './method.js';

export interface SpikecapMethodOptions {
  readonly backend: string;
  /** A model bundle file (default: the one spikecap ships). */
  readonly model?: string;
  /** Forecaster settings to try (tuning); the agent's defaults otherwise. */
  readonly tuning?: Partial<Pick<ForecasterOptions, 'gamma' | 'reservoirFeatures' | 'readout'>>;
}

/** Values between progress reports. */
const PROGRESS_EVERY = 256;

export async function spikecapMethod(
  opts: SpikecapMethodOptions,
): Promise<Method & { close(): Promise<void> }> {
  const bundle: ModelBundle = readBundle(opts.model ?? defaultModelBundle);
  const backend: Backend = await openBackend(opts.backend);
  try {
    await backend.load(bundle);
  } catch (err) {
    await backend.close();
    throw err;
  }
  return {
    name: 'spikecap',
    async run(series: SeriesInput, settings: EvalSettings, progress?: (done: number) => void) {
      await backend.reset();
      const forecaster = new Forecaster({
        bundle,
        backend,
        targets: [series.name],
        covariates: series.covariates.map((c) => c.name),
        horizons: settings.horizons,
        step: series.step,
        alpha: settings.alpha,
        ...opts.tuning,
      });
      const n = series.values.length;
      const out: MethodForecasts[] = emptyForecasts(settings.horizons.length, n);
      const target = new Float64Array(1);
      const cov = new Float64Array(series.covariates.length);
      for (let t = 0; t < n; t++) {
        target[0] = series.values[t]!;
        for (let j = 0; j < cov.length; j++) cov[j] = series.covariates[j]!.values[t]!;
        const [forecasts] = await forecaster.observe(series.t0 + t * series.step, target, cov);
        forecasts?.forEach((f, k) => {
          const at = t + f.horizon;
          if (at >= n) return;
          out[k]!.point[at] = f.point;
          out[k]!.upper[at] = f.upper;
        });
        if (progress && (t + 1) % PROGRESS_EVERY === 0) progress(t + 1);
      }
      progress?.(n);
      return out;
    },
    close: () => backend.close(),
  };
}
