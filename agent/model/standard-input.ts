/**
 * The standard input of native/core/SPEC.md ("The standard input"), the one input on which
 * `model info`, `model new` and the benchmarks report a model's firing rate, and
 * measureFiringRate, which runs it through any stepper (the reference, a native core, ...).
 *
 * Exactly: one xoshiro128** generator seeded with 0x5eed (prng.ts: its state is the first four
 * outputs of splitmix32 started at 0x5eed). Counts are drawn in raster order, sample after
 * sample — entry s·I + j of a sample, for s = 0 … S−1, j = 0 … I−1 — one nextU32() per count:
 * the count is 1 if the draw is below 2^30 (probability exactly 1/4), else 0.
 */
import { Xoshiro128 } from './prng.js';
import type { Stepper } from './reservoir.js';
import type { ReservoirModel } from './types.js';

export const STANDARD_INPUT_SEED = 0x5eed;
/** Samples run from reset before counting. */
export const WARMUP_SAMPLES = 64;
/** Samples counted. */
export const COUNTED_SAMPLES = 1024;

type Shape = Pick<ReservoirModel, 'substeps' | 'inputs'>;

/** The standard input as a stream: each call continues where the last one stopped. */
export class StandardInput {
  private readonly rng = new Xoshiro128(STANDARD_INPUT_SEED);

  constructor(private readonly shape: Shape) {}

  /**
   * Writes the next `samples` samples (`samples · S · I` counts) to the start of `out` and
   * returns how many of those counts are non-zero.
   */
  next(out: Uint8Array, samples: number): number {
    const n = samples * this.shape.substeps * this.shape.inputs;
    if (out.length < n) throw new RangeError(`out needs ${n} counts, got ${out.length}`);
    let nonZero = 0;
    for (let k = 0; k < n; k++) {
      const c = this.rng.nextU32() < 0x40000000 ? 1 : 0;
      out[k] = c;
      nonZero += c;
    }
    return nonZero;
  }
}

/** The first `samples` samples of the standard input, as one raster. */
export function standardInput(shape: Shape, samples: number): Uint8Array {
  const out = new Uint8Array(samples * shape.substeps * shape.inputs);
  new StandardInput(shape).next(out, samples);
  return out;
}

/** SPEC.md, "Firing rate", over the counted samples of the standard input. */
export interface FiringRate {
  /** spikes / (N · S · samples): the probability that a neuron spikes in a sub-step. */
  readonly rate: number;
  readonly spikesPerSample: number;
  /** Synaptic events per sample: F · (non-zero input counts + spikes). */
  readonly eventsPerSample: number;
  /** Samples counted (1024). */
  readonly samples: number;
}

/**
 * Runs the standard input through `stepper` — 64 samples not counted, then 1024 counted — and
 * returns the firing rate. The run must start from reset: `stepper.reset()` is called when the
 * stepper has one; one without must be fresh.
 */
export function measureFiringRate(
  stepper: Stepper & { reset?(): void },
  model: Pick<ReservoirModel, 'neurons' | 'inputs' | 'fanout' | 'substeps'>,
): FiringRate {
  stepper.reset?.();
  const chunk = 64; // samples per step() call: bounds the buffers whatever the model's size
  const input = new Uint8Array(chunk * model.substeps * model.inputs);
  const features = new Int16Array(chunk * 2 * model.neurons);
  const source = new StandardInput(model);

  for (let done = 0; done < WARMUP_SAMPLES; done += chunk) {
    const n = Math.min(chunk, WARMUP_SAMPLES - done);
    source.next(input, n);
    stepper.step(input, features, n);
  }
  let spikes = 0;
  let inputEvents = 0;
  for (let done = 0; done < COUNTED_SAMPLES; done += chunk) {
    const n = Math.min(chunk, COUNTED_SAMPLES - done);
    inputEvents += source.next(input, n);
    spikes += stepper.step(input, features, n);
  }
  return {
    rate: spikes / (model.neurons * model.substeps * COUNTED_SAMPLES),
    spikesPerSample: spikes / COUNTED_SAMPLES,
    eventsPerSample: (model.fanout * (inputEvents + spikes)) / COUNTED_SAMPLES,
    samples: COUNTED_SAMPLES,
  };
}
