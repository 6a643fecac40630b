/**
 * generateModel: a random reservoir from a seed, calibrated to a firing rate.
 *
 * Everything is drawn from one xoshiro128** generator seeded with `seed` (prng.ts), in the
 * numbered order of generateModel, and the calibration is a deterministic search over the
 * deterministic standard input; so the same options give the same model, byte for byte. (A
 * change here that changes any draw must change GENERATOR, which provenance records.)
 *
 * The design, and why (measured rates: agent/model/BUNDLE.md, "The generator"):
 * - Inhibitory neurons: exactly round(N · inhibitoryFraction) (default 20%), picked by a partial
 *   shuffle. Dale's law: all outgoing weights of a neuron have its sign.
 * - Time constants: dash_syn uniform in 1 … 3, dash_mem uniform in 1 … 6, per neuron — decay
 *   times from 2 to 64 sub-steps, so the reservoir holds its input at several time scales (the
 *   trace adds 16 samples on top).
 * - Connectivity is dealt like cards (dealTargets): each row gets F distinct targets, and every
 *   neuron is a target about equally often — I·F/N input synapses and F recurrent ones each,
 *   give or take one. With purely random rows, the neurons that happen to get no input synapse
 *   stay silent (a third of them at 512 neurons, measured); dealing avoids that.
 *   Recurrent rows never include their source (no self-connection: a neuron's spike already
 *   resets it, and self-excitation makes bursters), except when F = N, where they must.
 *   Targets within a row are sorted: locality for event-driven cores, no effect on semantics.
 * - Input weights 32 … 127, all excitatory: with mixed signs, a neuron whose few input synapses
 *   are all negative only ever sees its input as inhibition and mostly stays silent (17–32% of
 *   the neurons, measured); the recurrent inhibition already gives the reservoir both signs.
 * - Recurrent weights: excitatory 8 … 47, inhibitory −127 … −64 (3.5 times the excitatory mean):
 *   inhibition-dominated enough that activity follows the input. With weaker inhibition the
 *   rate jumps from a few percent to over 60% as thresholds fall (runaway excitation, measured
 *   at 1024 neurons), and no threshold gives the target.
 * - Weight shifts: weight_shift_in 1 when neurons have 2 input synapses on average (the default
 *   512 neurons, 16 inputs, fan-out 64), one more for every halving of that; weight_shift_rec 0
 *   at fan-out 64, one more for every halving of F. So the drive per neuron, and with it the
 *   calibrated thresholds, stays about the same across sizes.
 * - Thresholds: per neuron, a base proportional to the neuron's gain for its dashes (DESIGN's
 *   synGain · memGain) times a spread of ±25%, so fast and slow neurons fire at comparable
 *   rates; then one global factor (the calibration). Bias 0: activity comes from the input.
 * - trace_dash 4 (a trace time constant of 16 samples); trace_shift = 10 − ceil(log2 S), so the
 *   steady trace of a neuron that spikes every sub-step, S · 2^trace_shift · 2^trace_dash, is at
 *   most 16384: half the int16 range.
 *
 * Calibration: thresholds = clamp(round(base · factor), 1, 32767), the factor found by a
 * bracketing bisection on log2(factor) (see calibrate) so that the firing rate on the standard
 * input, measured with the reference, is within 2% of `targetRate`. Where no factor gets there
 * (tiny or extreme models), the closest one wins; provenance records the rate reached.
 * (Math.log and ** are V8's own ports of fdlibm, the same on every platform.)
 */
import { checkModel } from './check.js';
import { Xoshiro128 } from './prng.js';
import { ReferenceReservoir } from './reservoir.js';
import { measureFiringRate, type FiringRate } from './standard-input.js';
import { LIMITS, type ReservoirModel } from './types.js';

/** The algorithm's name and version, recorded in provenance. */
export const GENERATOR = 'spikecap-generate/1';

export interface GenerateOptions {
  /** N, 2 … 8192 */
  readonly neurons: number;
  /** I, 1 … 256 */
  readonly inputs: number;
  /** F, 1 … min(512, N) */
  readonly fanout: number;
  /** 0 … 2^32 − 1 */
  readonly seed: number;
  /** S, 1 … 16; default 4 */
  readonly substeps?: number;
  /** Spikes per neuron per sub-step on the standard input, (0, 1); default 0.05 */
  readonly targetRate?: number;
  /** Fraction of inhibitory neurons, [0, 1]; default 0.2 */
  readonly inhibitoryFraction?: number;
}

export const GENERATE_DEFAULTS = {
  substeps: 4,
  targetRate: 0.05,
  inhibitoryFraction: 0.2,
} as const;

/** What the generator records about a model it made (JSON-ready, snake_case as in the bundle). */
export interface GeneratorProvenance {
  readonly [key: string]: string | number;
  readonly generator: string;
  readonly seed: number;
  readonly neurons: number;
  readonly inputs: number;
  readonly fanout: number;
  readonly substeps: number;
  readonly target_rate: number;
  readonly inhibitory_fraction: number;
  /** The calibrated global threshold factor. */
  readonly threshold_factor: number;
  /** The firing rate on the standard input with the calibrated thresholds. */
  readonly rate: number;
  readonly spikes_per_sample: number;
  readonly events_per_sample: number;
}

// The design constants of the header comment, in one place.
const DESIGN = {
  dashSyn: { min: 1, max: 3 },
  dashMem: { min: 1, max: 6 },
  /**
   * Threshold gain per dash_syn and per dash_mem (index = dash): about 4 · 2^(1.3·dash_syn) and
   * 10 · 2^(0.5·dash_mem), rounded. Fitted by measurement so that each (dash_syn, dash_mem)
   * group fires at a comparable rate; integers, so the thresholds need no transcendental math.
   */
  synGain: [0, 10, 24, 60],
  memGain: [0, 14, 20, 28, 40, 57, 80],
  inWeight: { min: 32, max: 127 },
  excWeight: { min: 8, max: 47 },
  inhWeight: { min: 64, max: 127 },
  thresholdSpread: 0.25,
  /** weight_shift_in when each neuron has this many input synapses on average (I·F/N). */
  shiftIn: { shift: 1, inputsPerNeuron: 2 },
  /** weight_shift_rec at this fan-out. */
  shiftRec: { shift: 0, fanout: 64 },
  traceDash: 4,
  calibration: { start: 11, step: 0.5, log2Min: 0, log2Max: 15, rounds: 20, tolerance: 0.02 },
} as const;

function option(name: string, value: number, min: number, max: number, integer = true): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || (integer && !Number.isInteger(value)))
    throw new TypeError(`${name}: expected ${integer ? 'an integer' : 'a number'}, got ${value}`);
  if (value < min || value > max)
    throw new RangeError(`${name}: ${value} is out of range ${min}…${max}`);
  return value;
}

/** The options with defaults filled in, checked; a TypeError or RangeError names a bad one. */
export function resolveGenerateOptions(opts: GenerateOptions): Required<GenerateOptions> {
  const neurons = option('neurons', opts.neurons, LIMITS.neurons.min, LIMITS.neurons.max);
  const r: Required<GenerateOptions> = {
    neurons,
    inputs: option('inputs', opts.inputs, LIMITS.inputs.min, LIMITS.inputs.max),
    fanout: option('fanout', opts.fanout, LIMITS.fanout.min, Math.min(LIMITS.fanout.max, neurons)),
    seed: option('seed', opts.seed, 0, 0xffffffff),
    substeps: option(
      'substeps',
      opts.substeps ?? GENERATE_DEFAULTS.substeps,
      LIMITS.substeps.min,
      LIMITS.substeps.max,
    ),
    targetRate: option('targetRate', opts.targetRate ?? GENERATE_DEFAULTS.targetRate, 0, 1, false),
    inhibitoryFraction: option(
      'inhibitoryFraction',
      opts.inhibitoryFraction ?? GENERATE_DEFAULTS.inhibitoryFraction,
      0,
      1,
      false,
    ),
  };
  if (r.targetRate === 0 || r.targetRate === 1)
    throw new RangeError(`targetRate: ${r.targetRate} must be strictly between 0 and 1`);
  return r;
}

/** A uniform integer in min … max. */
function uniform(rng: Xoshiro128, range: { min: number; max: number }): number {
  return range.min + rng.nextInt(range.max - range.min + 1);
}

/**
 * Deals `rows` rows of `fanout` distinct targets into `targets`, like cards: from a shuffled
 * deck of all N neurons, reshuffled whenever it runs out. So every neuron is dealt as evenly as
 * the numbers allow (rows · fanout / N times, give or take one), which keeps any neuron from
 * being left without input. A card the current row cannot take — already in the row (only near a
 * reshuffle), or the row's own source when `skipSelf` — waits for the next row, first in line.
 */
function dealTargets(
  rng: Xoshiro128,
  targets: Uint16Array,
  rows: number,
  fanout: number,
  neurons: number,
  skipSelf: boolean,
): void {
  const deck = new Uint16Array(neurons).map((_, i) => i);
  let next = neurons; // the deck is used up: shuffle before the first card
  let waiting: number[] = [];
  const row = new Uint16Array(fanout);
  const inRow = new Uint8Array(neurons);
  for (let r = 0; r < rows; r++) {
    let filled = 0;
    const queue = waiting;
    waiting = [];
    const take = (t: number): void => {
      if (inRow[t] || (skipSelf && t === r)) waiting.push(t);
      else {
        inRow[t] = 1;
        row[filled++] = t;
      }
    };
    for (const t of queue) {
      if (filled === fanout) waiting.push(t);
      else take(t);
    }
    while (filled < fanout) {
      if (next === neurons) {
        rng.shuffle(deck);
        next = 0;
      }
      take(deck[next++]!);
    }
    row.sort();
    targets.set(row, r * fanout);
    for (const t of row) inRow[t] = 0;
  }
}

/**
 * The weight shift (0 … 7) that makes up for a drive `ratio` times weaker than the design
 * point's: the design's shift plus log2(ratio), rounded — fewer synapses, bigger weights.
 */
function shiftFor(shift: number, ratio: number): number {
  return Math.min(LIMITS.weightShift.max, Math.max(0, Math.round(shift + Math.log2(ratio))));
}

/**
 * Sets `model.threshold` to clamp(round(base · factor), 1, 32767) for the factor that brings the
 * firing rate on the standard input closest to `target`. On x = log2(factor): a bracket found in
 * steps of 1/2 from x = 11 (small steps: an overshoot into a high rate is slow to measure), then
 * bisection, each new point interpolated on log(rate) within the bracket but kept inside its
 * middle half (so the bracket shrinks by a quarter at least), until the rate is within 2% of the
 * target or 20 rates have been measured. The best factor seen wins.
 */
function calibrate(
  model: ReservoirModel & { threshold: Int16Array },
  base: Float64Array,
  target: number,
): { factor: number; rate: FiringRate } {
  const { calibration: c } = DESIGN;
  const reservoir = new ReferenceReservoir(model);
  const setFactor = (log2Factor: number): void => {
    const factor = 2 ** log2Factor;
    for (let i = 0; i < model.neurons; i++)
      model.threshold[i] = Math.min(32767, Math.max(1, Math.round(base[i]! * factor)));
  };
  let best: { x: number; rate: FiringRate } | undefined;
  let evaluations = 0;
  const rateAt = (x: number): number => {
    setFactor(x);
    const rate = measureFiringRate(reservoir, model);
    evaluations++;
    if (!best || Math.abs(rate.rate - target) < Math.abs(best.rate.rate - target))
      best = { x, rate };
    return rate.rate;
  };
  const close = (rate: number): boolean => Math.abs(rate - target) <= c.tolerance * target;

  // The bracket: rate(lo) > target ≥ rate(hi); a higher factor means a lower rate.
  let lo: number = c.start;
  let rLo = rateAt(lo);
  let hi = lo;
  let rHi = rLo;
  if (rLo > target) {
    while (rHi > target && hi < c.log2Max && !close(rHi)) {
      lo = hi;
      rLo = rHi;
      hi = Math.min(c.log2Max, hi + c.step);
      rHi = rateAt(hi);
    }
  } else {
    while (rLo <= target && lo > c.log2Min && !close(rLo)) {
      hi = lo;
      rHi = rLo;
      lo = Math.max(c.log2Min, lo - c.step);
      rLo = rateAt(lo);
    }
  }
  while (evaluations < c.rounds && !close(best!.rate.rate) && rLo > target && rHi <= target) {
    const width = hi - lo;
    let x = lo + width / 2;
    if (rHi > 0) {
      const t = (Math.log(rLo) - Math.log(target)) / (Math.log(rLo) - Math.log(rHi));
      x = lo + width * Math.min(0.75, Math.max(0.25, t));
    }
    const r = rateAt(x);
    if (r > target) {
      lo = x;
      rLo = r;
    } else {
      hi = x;
      rHi = r;
    }
  }
  setFactor(best!.x);
  return { factor: 2 ** best!.x, rate: best!.rate };
}

/** Generates and calibrates a model; deterministic for given options. */
export function generateModel(options: GenerateOptions): {
  model: ReservoirModel;
  provenance: GeneratorProvenance;
} {
  const o = resolveGenerateOptions(options);
  const { neurons: N, inputs: I, fanout: F, substeps: S } = o;
  const rng = new Xoshiro128(o.seed);

  // 1. Which neurons are inhibitory.
  const inhibitory = new Uint8Array(N);
  const order = Array.from({ length: N }, (_, i) => i);
  const nInhibitory = Math.round(N * o.inhibitoryFraction);
  rng.partialShuffle(order, nInhibitory);
  for (let k = 0; k < nInhibitory; k++) inhibitory[order[k]!] = 1;

  // 2. Per neuron: dashes and the threshold spread, neuron by neuron.
  const dashSyn = new Uint8Array(N);
  const dashMem = new Uint8Array(N);
  const base = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    dashSyn[i] = uniform(rng, DESIGN.dashSyn);
    dashMem[i] = uniform(rng, DESIGN.dashMem);
    const spread = 1 + DESIGN.thresholdSpread * (2 * rng.nextFloat() - 1);
    base[i] = DESIGN.synGain[dashSyn[i]!]! * DESIGN.memGain[dashMem[i]!]! * spread;
  }
  // Normalise to a mean of 1: the factor is then the threshold of an average neuron.
  const meanBase = base.reduce((a, b) => a + b, 0) / N;
  for (let i = 0; i < N; i++) base[i] = base[i]! / meanBase;

  // 3. Input rows: targets, then weights.
  const inTarget = new Uint16Array(I * F);
  const inWeight = new Int8Array(I * F);
  dealTargets(rng, inTarget, I, F, N, false);
  for (let k = 0; k < I * F; k++) {
    inWeight[k] = uniform(rng, DESIGN.inWeight);
  }

  // 4. Recurrent rows: targets (no self unless F = N), then weights with the source's sign.
  const recTarget = new Uint16Array(N * F);
  const recWeight = new Int8Array(N * F);
  dealTargets(rng, recTarget, N, F, N, F < N);
  for (let p = 0; p < N; p++) {
    for (let k = p * F; k < (p + 1) * F; k++) {
      recWeight[k] = inhibitory[p]
        ? -uniform(rng, DESIGN.inhWeight)
        : uniform(rng, DESIGN.excWeight);
    }
  }

  const threshold = new Int16Array(N);
  const model: ReservoirModel = {
    neurons: N,
    inputs: I,
    fanout: F,
    substeps: S,
    weightShiftIn: shiftFor(DESIGN.shiftIn.shift, DESIGN.shiftIn.inputsPerNeuron / ((I * F) / N)),
    weightShiftRec: shiftFor(DESIGN.shiftRec.shift, DESIGN.shiftRec.fanout / F),
    traceDash: DESIGN.traceDash,
    traceShift: 10 - Math.ceil(Math.log2(S)),
    threshold,
    bias: new Int16Array(N),
    dashSyn,
    dashMem,
    inTarget,
    inWeight,
    recTarget,
    recWeight,
  };

  // 5. Calibration: one global factor on the thresholds.
  const calibrated = calibrate(model, base, o.targetRate);
  checkModel(model);

  return {
    model,
    provenance: {
      generator: GENERATOR,
      seed: o.seed,
      neurons: N,
      inputs: I,
      fanout: F,
      substeps: S,
      target_rate: o.targetRate,
      inhibitory_fraction: o.inhibitoryFraction,
      threshold_factor: calibrated.factor,
      rate: calibrated.rate.rate,
      spikes_per_sample: calibrated.rate.spikesPerSample,
      events_per_sample: calibrated.rate.eventsPerSample,
    },
  };
}
