/**
 * Random reservoir models for tests, valid by SPEC.md (distinct targets per row), with knobs
 * that push them to the corners: extreme weights and shifts, thresholds at 1 and 32767, big
 * biases, one dash for every neuron. Bulk arrays come from a seed so fast-check can shrink
 * the sizes and knobs while the arrays stay reproducible.
 */
import {
  decodeBundle,
  encodeBundle,
  Xoshiro128,
  type ModelBundle,
  type ReservoirModel,
} from '../../agent/model/index.js';
import { randomInput } from '../../agent/backends/selftest.js';

export interface ModelKnobs {
  neurons: number;
  inputs: number;
  fanout: number;
  substeps: number;
  seed: number;
  /** Weights only −128, −127, 127 or 0, and shifts of 7. */
  extremeWeights?: boolean;
  /** Thresholds only 1 or 32767. */
  extremeThresholds?: boolean;
  /** Biases drawn from the full int16 range rather than near zero. */
  wildBias?: boolean;
  /** Every neuron's dash_syn and dash_mem: this value (0 … 15); otherwise random per neuron. */
  dash?: number;
  weightShiftIn?: number;
  weightShiftRec?: number;
  traceDash?: number;
  traceShift?: number;
}

export function randomModel(k: ModelKnobs): ReservoirModel {
  const rng = new Xoshiro128(k.seed);
  const { neurons: n, inputs: inp, fanout: f } = k;
  const int = (lo: number, hi: number) => lo + rng.nextInt(hi - lo + 1);
  const weight = () =>
    k.extremeWeights ? ([-128, -127, 0, 127] as const)[rng.nextInt(4)]! : int(-128, 127);
  const pool = Uint16Array.from({ length: n }, (_, i) => i);
  const rows = (count: number) => {
    const target = new Uint16Array(count * f);
    const w = new Int8Array(count * f);
    for (let r = 0; r < count; r++) {
      rng.partialShuffle(pool, f);
      target.set(pool.subarray(0, f), r * f);
      for (let j = 0; j < f; j++) w[r * f + j] = weight();
    }
    return { target, w };
  };
  const input = rows(inp);
  const rec = rows(n);
  const dash = () => k.dash ?? int(0, 15);
  return {
    neurons: n,
    inputs: inp,
    fanout: f,
    substeps: k.substeps,
    weightShiftIn: k.weightShiftIn ?? (k.extremeWeights ? 7 : int(0, 7)),
    weightShiftRec: k.weightShiftRec ?? (k.extremeWeights ? 7 : int(0, 7)),
    traceDash: k.traceDash ?? int(0, 15),
    traceShift: k.traceShift ?? int(0, 11),
    threshold: Int16Array.from({ length: n }, () =>
      k.extremeThresholds ? (rng.nextInt(2) ? 32767 : 1) : int(1, 32767),
    ),
    bias: Int16Array.from({ length: n }, () => (k.wildBias ? int(-32768, 32767) : int(-64, 64))),
    dashSyn: Uint8Array.from({ length: n }, dash),
    dashMem: Uint8Array.from({ length: n }, dash),
    inTarget: input.target,
    inWeight: input.w,
    recTarget: rec.target,
    recWeight: rec.w,
  };
}

/** A bundle as a backend receives it: encoded and decoded, so it is checked and hashed. */
export function bundleOf(model: ReservoirModel): ModelBundle {
  return decodeBundle(
    encodeBundle({
      model,
      encoder: { scheme: 'sigma-delta', channels_per_series: 2, threshold: 0.5 },
      provenance: { generator: 'test' },
    }),
    'test bundle',
  );
}

/** Random input rasters, as `backend selftest` draws them (counts above 15 included). */
export function randomInputs(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  randomInput(out, new Xoshiro128(seed));
  return out;
}
