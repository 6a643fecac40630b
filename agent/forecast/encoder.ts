/**
 * The encoder: normalised series values in, one input sample of spike counts out (S sub-steps ×
 * I channels, native/core/SPEC.md "One input sample").
 *
 * Scheme `sigma-delta` (the only one this version knows): each series k owns two channels, 2k
 * (up) and 2k + 1 (down), and a reconstruction r_k in normalised units. For each new value u,
 * sub-step by sub-step, while u is at least one threshold θ above r the up channel fires
 * n = min(15, ⌊(u − r)/θ⌋) and r rises by n·θ (the down channel likewise below), so a step change
 * arrives as a burst and a still series is silent: the reservoir sees change, the readout sees
 * level (its raw-input features). Series beyond I/2 channels get no channels (they are still
 * forecast; the reservoir just does not hear them), which `EncoderPlan.unheard` reports.
 */
import type { EncoderSettings, ReservoirModel } from '../model/index.js';

export class EncoderSettingsError extends Error {
  readonly code = 'EENCODER';
}

export interface EncoderPlan {
  readonly threshold: number;
  /** Series that have channels, in order. */
  readonly heard: number;
  /** Series without channels (more series than I/2). */
  readonly unheard: number;
}

/** Checks a bundle's encoder settings; a problem throws an EncoderSettingsError naming the key. */
export function planEncoder(
  settings: EncoderSettings,
  model: Pick<ReservoirModel, 'inputs'>,
  series: number,
): EncoderPlan {
  if (settings.scheme !== 'sigma-delta')
    throw new EncoderSettingsError(
      `encoder.scheme: "${settings.scheme}" is not a scheme this version knows (sigma-delta)`,
    );
  const perSeries = settings.channels_per_series ?? 2;
  if (perSeries !== 2)
    throw new EncoderSettingsError(
      `encoder.channels_per_series: sigma-delta uses 2 (up, down), got ${JSON.stringify(perSeries)}`,
    );
  const threshold = settings.threshold ?? 0.5;
  if (typeof threshold !== 'number' || !(threshold > 0) || !Number.isFinite(threshold))
    throw new EncoderSettingsError(
      `encoder.threshold: expected a positive number, got ${JSON.stringify(threshold)}`,
    );
  const heard = Math.min(series, Math.floor(model.inputs / 2));
  return { threshold, heard, unheard: series - heard };
}

export class SigmaDeltaEncoder {
  private readonly recon: Float64Array;

  constructor(
    private readonly plan: EncoderPlan,
    private readonly shape: Pick<ReservoirModel, 'inputs' | 'substeps'>,
  ) {
    this.recon = new Float64Array(plan.heard);
  }

  /** Writes one input sample (S·I counts) for the normalised values `u` into `out`. */
  encode(u: Float64Array, out: Uint8Array): void {
    const { inputs: I, substeps: S } = this.shape;
    const theta = this.plan.threshold;
    out.fill(0, 0, S * I);
    for (let k = 0; k < this.plan.heard; k++) {
      const v = u[k]!;
      if (!Number.isFinite(v)) continue;
      let r = this.recon[k]!;
      for (let s = 0; s < S; s++) {
        const d = (v - r) / theta;
        if (d >= 1) {
          const n = Math.min(15, Math.floor(d));
          out[s * I + 2 * k] = n;
          r += n * theta;
        } else if (d <= -1) {
          const n = Math.min(15, Math.floor(-d));
          out[s * I + 2 * k + 1] = n;
          r -= n * theta;
        } else break;
      }
      this.recon[k] = r;
    }
  }

  getState(): number[] {
    return Array.from(this.recon);
  }

  setState(state: readonly number[]): void {
    if (state.length !== this.recon.length)
      throw new RangeError(
        `encoder state has ${state.length} series, the encoder ${this.recon.length}`,
      );
    this.recon.set(state);
  }
}
