/**
 * The TypeScript reference reservoir: native/core/SPEC.md in code, read side by side with it.
 * Section names in the comments are SPEC.md's. Every other implementation (the C core, the
 * board, the ONNX graph) is checked against this one, bit for bit; so it is written to be
 * obviously right first, and reasonably fast second (buffers allocated once, not per step;
 * event-driven accumulation, as the spec allows).
 *
 * Number representation: every state value is held in an Int16Array and every intermediate
 * value is a JS number holding an exact integer; all sums below stay far inside ±2^31 (SPEC.md,
 * "Ranges"), so nothing rounds and nothing wraps before sat16 clamps it.
 */
import { decodeStateInto, encodeStateInto, zeroState } from './state.js';
import { LIMITS, type ReservoirModel, type ReservoirState } from './types.js';

/** SPEC.md, "Arithmetic helpers": `x` clamped to −32768 … 32767. */
export function sat16(x: number): number {
  return x < -32768 ? -32768 : x > 32767 ? 32767 : x;
}

/**
 * SPEC.md, "Decay": `decay(x, d)` for an int16 `x` and 0 ≤ d ≤ 15.
 *
 * JS `>>` converts to int32 and shifts arithmetically, which is floor(x / 2^d) for negative `x`
 * too — exactly SPEC.md's step 1 (the C core, where `>>` of a negative value is
 * implementation-defined, spells floor out instead). `x` is an int16, so the int32 conversion
 * changes nothing.
 */
export function decay(x: number, d: number): number {
  // 1. y = x − floor(x / 2^d); d = 0 gives y = 0 (full decay).
  let y = x - (x >> d);
  // 2. The step-by-one rule: if that left a non-zero x unchanged, move one step toward zero.
  //    (With floor this happens only for 0 < x < 2^d.)
  if (y === x && x !== 0) y = x > 0 ? x - 1 : x + 1;
  return y;
}

/** Something that runs input samples through a reservoir (this class, a native core, ...). */
export interface Stepper {
  /**
   * Runs `samples` input samples: `input` holds `samples · S · I` counts (SPEC.md, "One input
   * sample"), `features` receives `samples · 2 · N` values. Returns the number of spikes.
   */
  step(input: Uint8Array, features: Int16Array, samples: number): number;
}

export class ReferenceReservoir implements Stepper {
  readonly model: ReservoirModel;
  private readonly state: ReservoirState;
  /** The wide accumulator of one sub-step ("One sub-step", step 1). */
  private readonly acc: Float64Array;
  /** Each neuron's spikes over the sub-steps of the current sample ("One input sample"). */
  private readonly count: Uint8Array;
  /** 2^weight_shift_in, 2^weight_shift_rec, 2^trace_shift. */
  private readonly scaleIn: number;
  private readonly scaleRec: number;
  private readonly scaleTrace: number;

  /** `model` must be checked (checkModel); the reference assumes it, as the cores may. */
  constructor(model: ReservoirModel) {
    this.model = model;
    this.state = zeroState(model.neurons);
    // Float64 holds every accumulator value exactly (|acc| < 2^28, see SPEC.md "Ranges").
    this.acc = new Float64Array(model.neurons);
    this.count = new Uint8Array(model.neurons);
    this.scaleIn = 2 ** model.weightShiftIn;
    this.scaleRec = 2 ** model.weightShiftRec;
    this.scaleTrace = 2 ** model.traceShift;
  }

  /** SPEC.md, "State": reset sets isyn, vmem, trace and spiked to zero. */
  reset(): void {
    this.state.isyn.fill(0);
    this.state.vmem.fill(0);
    this.state.trace.fill(0);
    this.state.spiked.fill(0);
  }

  /** The canonical encoding (7·N bytes) into `out`; a RangeError if `out` is any other length. */
  getState(out: Uint8Array): void {
    encodeStateInto(this.state, out);
  }

  /** Replaces the state from its canonical encoding; a RangeError (and no change) on a bad length. */
  setState(bytes: Uint8Array): void {
    decodeStateInto(bytes, this.state);
  }

  /**
   * Runs `samples` input samples ("One input sample", repeated). `input` holds at least
   * `samples · S · I` counts, sample after sample; `features` receives `samples · 2 · N` values,
   * sample after sample (counts, then traces). Returns the number of spikes over all of them.
   */
  step(input: Uint8Array, features: Int16Array, samples: number): number {
    const { substeps: S, inputs: I, neurons: N } = this.model;
    if (!Number.isInteger(samples) || samples < 0)
      throw new RangeError(`samples must be a non-negative integer, got ${samples}`);
    if (input.length < samples * S * I)
      throw new RangeError(
        `input needs ${samples * S * I} counts for ${samples} sample(s), got ${input.length}`,
      );
    if (features.length < samples * 2 * N)
      throw new RangeError(
        `features needs room for ${samples * 2 * N} values, got ${features.length}`,
      );

    let spikes = 0;
    for (let k = 0; k < samples; k++) {
      spikes += this.sample(input.subarray(k * S * I, (k + 1) * S * I));
      this.writeFeatures(features.subarray(k * 2 * N, (k + 1) * 2 * N));
    }
    return spikes;
  }

  /** SPEC.md, "One input sample": S sub-steps, then the trace. Returns the sample's spikes. */
  private sample(raster: Uint8Array): number {
    const { substeps: S, inputs: I, neurons: N, traceDash } = this.model;
    const { trace } = this.state;
    const count = this.count;
    count.fill(0);
    let spikes = 0;

    for (let s = 0; s < S; s++) {
      // c[j] = min(raster[s·I + j], 15): a count above 15 is taken as 15.
      spikes += this.subStep(raster, s * I);
    }

    // trace[i] = sat16(decay(trace[i], trace_dash) + count[i] · 2^trace_shift)
    for (let i = 0; i < N; i++) {
      trace[i] = sat16(decay(trace[i]!, traceDash) + count[i]! * this.scaleTrace);
    }
    return spikes;
  }

  /**
   * SPEC.md, "One sub-step", with the counts c[j] = min(raster[offset + j], 15). Adds each
   * neuron's spike to `count` and returns the number of spikes.
   */
  private subStep(raster: Uint8Array, offset: number): number {
    const {
      neurons: N,
      inputs: I,
      fanout: F,
      inTarget,
      inWeight,
      recTarget,
      recWeight,
    } = this.model;
    const { threshold, bias, dashSyn, dashMem } = this.model;
    const { isyn, vmem, spiked } = this.state;
    const { acc, count, scaleIn, scaleRec } = this;

    // 1. Accumulate, exactly, before any saturation. acc[i] starts at isyn[i] ...
    for (let i = 0; i < N; i++) acc[i] = isyn[i]!;
    // ... plus, for each input channel j with c[j] > 0, c[j] · in_weight · 2^weight_shift_in on
    // each of its F targets ...
    for (let j = 0; j < I; j++) {
      const c = Math.min(raster[offset + j]!, LIMITS.inputCount);
      if (c === 0) continue;
      for (let k = j * F; k < (j + 1) * F; k++) {
        acc[inTarget[k]!]! += c * inWeight[k]! * scaleIn;
      }
    }
    // ... plus, for each neuron p that spiked in the previous sub-step, rec_weight ·
    // 2^weight_shift_rec on each of its F targets. (The spikes travel with a one-sub-step delay.)
    for (let p = 0; p < N; p++) {
      if (spiked[p] === 0) continue;
      for (let k = p * F; k < (p + 1) * F; k++) {
        acc[recTarget[k]!]! += recWeight[k]! * scaleRec;
      }
    }

    // 2. Every neuron. Step 1 is complete, so overwriting spiked[] here cannot affect it.
    let spikes = 0;
    for (let i = 0; i < N; i++) {
      // 2.1 The current takes the spikes (saturated once), then decays.
      isyn[i] = decay(sat16(acc[i]!), dashSyn[i]!);
      // 2.2 The membrane decays,
      let v = decay(vmem[i]!, dashMem[i]!);
      // 2.3 then adds the decayed current and the bias: one saturation of the exact sum.
      v = sat16(v + isyn[i]! + bias[i]!);
      // 2.4 Spike and subtractive reset (v ≥ threshold ≥ 1, so v − threshold cannot overflow).
      if (v >= threshold[i]!) {
        spiked[i] = 1;
        v -= threshold[i]!;
        count[i]! += 1;
        spikes++;
      } else {
        spiked[i] = 0;
      }
      // 2.5
      vmem[i] = v;
    }
    return spikes;
  }

  /** SPEC.md, "Features": count[0..N), then trace[0..N). */
  private writeFeatures(out: Int16Array): void {
    const N = this.model.neurons;
    out.set(this.count, 0);
    out.set(this.state.trace, N);
  }
}
