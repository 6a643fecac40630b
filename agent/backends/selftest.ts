/**
 * `backend selftest`: the same random inputs, from the same random state, through several
 * backends, compared bit for bit after every sample (features) and every 100 samples and at
 * the end (state). The first backend is the yardstick the others are compared with.
 */
import { Xoshiro128, stateBytes, type ModelBundle } from '../model/index.js';
import { featureLength, inputLength } from '../model/index.js';
import type { Backend } from './contract.js';

export interface Mismatch {
  /** The sample (0-based) after which the difference was seen. */
  readonly step: number;
  readonly what: 'features' | 'state';
  /** The first differing value's index in the features or the state bytes. */
  readonly index: number;
  readonly backend: string;
  readonly expected: number;
  readonly got: number;
  /** The backend whose value is `expected`. */
  readonly against: string;
}

export interface SelftestReport {
  readonly bit_exact: boolean;
  readonly steps: number;
  readonly backends: string[];
  /** Comparisons (one per backend per sample, and per state check) that differed. */
  readonly mismatches: number;
  readonly first_mismatch: Mismatch | null;
  readonly seed: number;
  readonly model: {
    sha256: string;
    neurons: number;
    inputs: number;
    fanout: number;
    substeps: number;
  };
  /** Spikes per neuron per sub-step over the run, on the first backend. */
  readonly firing_rate: number;
}

const STATE_CHECK_EVERY = 100;

/**
 * A random but meaningful state: currents and membranes anywhere in int16, traces non-negative,
 * about one neuron in ten just spiked.
 */
export function randomState(neurons: number, rng: Xoshiro128): Uint8Array {
  const bytes = new Uint8Array(stateBytes(neurons));
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < neurons; i++) {
    view.setInt16(2 * i, (rng.nextU32() & 0xffff) - 0x8000, true);
    view.setInt16(2 * (neurons + i), (rng.nextU32() & 0xffff) - 0x8000, true);
    view.setInt16(2 * (2 * neurons + i), rng.nextU32() & 0x7fff, true);
    bytes[6 * neurons + i] = rng.nextFloat() < 0.1 ? 1 : 0;
  }
  return bytes;
}

/**
 * Random input counts: mostly 0 and 1, sometimes a burst, and now and then a count above 15,
 * which every backend must clamp to 15.
 */
export function randomInput(out: Uint8Array, rng: Xoshiro128): void {
  for (let k = 0; k < out.length; k++) {
    const u = rng.nextFloat();
    out[k] = u < 0.7 ? 0 : u < 0.95 ? 1 : u < 0.995 ? 2 + rng.nextInt(14) : 16 + rng.nextInt(240);
  }
}

function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

export async function selftest(
  backends: Backend[],
  bundle: ModelBundle,
  steps: number,
  seed: number,
): Promise<SelftestReport> {
  const model = bundle.model;
  const rng = new Xoshiro128(seed);
  const start = randomState(model.neurons, rng);
  for (const b of backends) {
    await b.load(bundle);
    await b.setState(start);
  }
  const input = new Uint8Array(inputLength(model));
  const features = backends.map(() => new Int16Array(featureLength(model)));
  let mismatches = 0;
  let first: Mismatch | null = null;
  let spikes = 0;
  const names = backends.map((b) => b.name);
  /** Compares every backend's values with the first backend's, counting each that differs. */
  const compare = (step: number, what: Mismatch['what'], values: ArrayLike<number>[]) => {
    for (let k = 1; k < values.length; k++) {
      const i = firstDifference(values[0]!, values[k]!);
      if (i < 0) continue;
      mismatches++;
      first ??= {
        step,
        what,
        index: i,
        backend: names[k]!,
        expected: values[0]![i]!,
        got: values[k]![i]!,
        against: names[0]!,
      };
    }
  };

  for (let step = 0; step < steps; step++) {
    randomInput(input, rng);
    for (let k = 0; k < backends.length; k++) {
      const s = await backends[k]!.step(input, features[k]!, 1);
      if (k === 0) spikes += s;
    }
    compare(step, 'features', features);
    if ((step + 1) % STATE_CHECK_EVERY === 0 || step === steps - 1)
      compare(step, 'state', await Promise.all(backends.map((b) => b.getState())));
  }
  return {
    bit_exact: mismatches === 0,
    steps,
    backends: names,
    mismatches,
    first_mismatch: first,
    seed,
    model: {
      sha256: bundle.sha256,
      neurons: model.neurons,
      inputs: model.inputs,
      fanout: model.fanout,
      substeps: model.substeps,
    },
    firing_rate: spikes / (model.neurons * model.substeps * Math.max(steps, 1)),
  };
}
