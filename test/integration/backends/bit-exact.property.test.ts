/**
 * Property: for any valid model and any input stream, the C core in the addon, the C core
 * through the HAL driver (dlopen), the same driver built without SIMD, the TypeScript
 * reference and the ONNX graph under ONNX Runtime (as built, and in float64 the other way)
 * agree bit for bit on features and state — over 10,000 samples per run (ONNX: 500 of them,
 * on both sides of the halfway set_state), with the corners of SPEC.md in reach: extreme
 * weights and shifts, thresholds at 1 and 32767, full-range biases, every dash 0 … 15, counts
 * above 15, and saturation of every state variable.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { createBackend, type Backend } from '../../../agent/backends/index.js';
import { chooseRecurrent, createOnnxBackend } from '../../../agent/backends/onnx/index.js';
import { stateBytes, Xoshiro128, type ReservoirModel } from '../../../agent/model/index.js';
import { randomState } from '../../../agent/backends/selftest.js';
import { loadNative, portableCoreDriverPath } from '../../../agent/shared/native.js';
import { bundleOf, randomInputs, randomModel, type ModelKnobs } from '../../helpers/models.js';

const STEPS = 10_000;
const CHUNK = 250;
// The portable driver is the same core without its AVX2 paths: what ARM boards run. The ONNX
// graph runs twice on every model: as the backend builds it (float32 arithmetic, at these
// sizes, and the way of adding spikes chosen for the model), and in float64 with the other
// way (agent/backends/onnx/GRAPH.md), so both element types and both ways meet every corner.
const names = [
  'native',
  'native-driver',
  'native-driver (portable C)',
  'reference',
  'onnx',
  'onnx (float64, other way)',
] as const;
const backends: Backend[] = [
  createBackend('native'),
  createBackend('native-driver'),
  createBackend('native-driver', { driverPath: portableCoreDriverPath() }),
  createBackend('reference'),
  createOnnxBackend('onnx', { cacheDir: false }),
  createOnnxBackend('onnx (float64, other way)', { cacheDir: false, precision: 'float64' }),
];
const OTHER_WAY = backends.length - 1;

/** Recreates the float64 ONNX backend with the way of adding spikes `m` would not get. */
async function otherWayFor(m: ReservoirModel): Promise<void> {
  await backends[OTHER_WAY]!.close();
  backends[OTHER_WAY] = createOnnxBackend(names[OTHER_WAY], {
    cacheDir: false,
    precision: 'float64',
    recurrent: chooseRecurrent(m) === 'dense' ? 'scatter' : 'dense',
  });
}
/**
 * ONNX Runtime spends ~0.35 µs per graph node, ~23 nodes per sub-step: tens of times the native
 * core's time per sample on these small models. So the ONNX backends step only the first chunk
 * and the chunk after the halfway jump (where every backend takes the same state): both sides of
 * the set_state claim and every corner model, in a twentieth of the samples.
 */
const sometimes = new Set<string>(['onnx', 'onnx (float64, other way)']);
after(async () => {
  for (const b of backends) await b.close();
});

const knobs: fc.Arbitrary<ModelKnobs> = fc
  .record({
    // Mostly small (fast, and shrinks well); some past 64, one block of the dense AVX2 path.
    neurons: fc.oneof(
      { weight: 3, arbitrary: fc.integer({ min: 2, max: 48 }) },
      { weight: 1, arbitrary: fc.integer({ min: 49, max: 200 }) },
    ),
    inputs: fc.integer({ min: 1, max: 6 }),
    fanoutShare: fc.double({ min: 0, max: 1, noNaN: true }),
    substeps: fc.integer({ min: 1, max: 16 }),
    seed: fc.nat(),
    extremeWeights: fc.boolean(),
    extremeThresholds: fc.boolean(),
    wildBias: fc.boolean(),
    dash: fc.option(fc.integer({ min: 0, max: 15 }), { nil: undefined }),
    traceDash: fc.integer({ min: 0, max: 15 }),
    traceShift: fc.integer({ min: 0, max: 11 }),
  })
  .map(({ fanoutShare, dash, ...k }) => ({
    ...k,
    fanout: 1 + Math.floor(fanoutShare * (k.neurons - 1)),
    ...(dash === undefined ? {} : { dash }),
  }));

/** Runs every backend over the same stream; returns what was seen at the rails. */
async function agreeOn(
  model: ModelKnobs | ReservoirModel,
  inputSeed: number,
  steps = STEPS,
): Promise<{ railHits: number }> {
  const bundle = bundleOf('recWeight' in model ? model : randomModel(model));
  const m = bundle.model;
  const perSample = m.substeps * m.inputs;
  const chunk = Math.min(CHUNK, steps);
  const input = randomInputs(steps * perSample, inputSeed);
  const features = backends.map(() => new Int16Array(chunk * 2 * m.neurons));
  await otherWayFor(m);
  for (const b of backends) await b.load(bundle);
  let railHits = 0;
  for (let start = 0; start < steps; start += chunk) {
    if (start > 0 && start === steps / 2) {
      // Halfway, every backend jumps to the same random state: set_state is part of the claim.
      const s = randomState(m.neurons, new Xoshiro128(inputSeed ^ 0x9e37));
      for (const b of backends) await b.setState(s);
    }
    const samples = input.subarray(start * perSample, (start + chunk) * perSample);
    const active = backends.map(
      (_, i) => !sometimes.has(names[i]!) || start === 0 || start === steps / 2,
    );
    const spikes = [];
    for (let i = 0; i < backends.length; i++)
      spikes.push(active[i] ? await backends[i]!.step(samples, features[i]!, chunk) : 0);
    const states = await Promise.all(backends.map((b) => b.getState()));
    for (let i = 1; i < backends.length; i++) {
      if (!active[i]) continue;
      const where = `${names[i]} vs ${names[0]}, samples ${start}…${start + chunk - 1}`;
      assert.equal(spikes[i], spikes[0], `spike count, ${where}`);
      assert.ok(
        Buffer.from(features[i]!.buffer).equals(Buffer.from(features[0]!.buffer)),
        `features, ${where}`,
      );
      assert.ok(Buffer.from(states[i]!).equals(Buffer.from(states[0]!)), `state, ${where}`);
    }
    const v = new DataView(states[0]!.buffer);
    for (let i = 0; i < 3 * m.neurons; i++) {
      const x = v.getInt16(2 * i, true);
      if (x === 32767 || x === -32768) railHits++;
    }
  }
  assert.equal(stateBytes(m.neurons), (await backends[0]!.getState()).length);
  return { railHits };
}

test('native, native-driver, reference and onnx agree bit for bit on random models and 10,000-sample streams', async () => {
  await fc.assert(
    fc.asyncProperty(knobs, fc.nat(), async (k, inputSeed) => {
      await agreeOn(k, inputSeed);
    }),
    {
      numRuns: 30,
      examples: [
        // The corners, always tried: every dash at its extremes, saturating weights and biases.
        [
          {
            neurons: 16,
            inputs: 4,
            fanout: 16,
            substeps: 16,
            seed: 1,
            dash: 0,
            extremeWeights: true,
            wildBias: true,
          },
          1,
        ],
        [
          {
            neurons: 16,
            inputs: 4,
            fanout: 16,
            substeps: 16,
            seed: 2,
            dash: 15,
            extremeWeights: true,
            wildBias: true,
          },
          2,
        ],
        [{ neurons: 2, inputs: 1, fanout: 1, substeps: 1, seed: 3, extremeThresholds: true }, 3],
      ],
    },
  );
});

test('saturation is reached and still agreed on', async () => {
  const { railHits } = await agreeOn(
    {
      neurons: 32,
      inputs: 6,
      fanout: 32,
      substeps: 8,
      seed: 11,
      extremeWeights: true,
      wildBias: true,
      dash: 15,
    },
    5,
  );
  assert.ok(railHits > 0, 'the model should drive some state to ±32767/−32768');
});

test('every dash 0 … 15 is exercised on its own', async () => {
  for (let dash = 0; dash <= 15; dash++)
    await agreeOn({ neurons: 12, inputs: 2, fanout: 6, substeps: 4, seed: 100 + dash, dash }, dash);
});

/** The kernel the built-in core picks for a model (see native/core/reservoir.c). */
function kernelFor(model: ReservoirModel): string {
  const r = new (loadNative().Reservoir)(model);
  try {
    return r.capabilities().kernel;
  } finally {
    r.close();
  }
}

test('the dense kernel is used up to its int16 bound and never past it', async (t) => {
  // Every neuron sends to every neuron (shift 0), and all fire in the first sub-step
  // (threshold 1, bias 32767), so in the second each neuron's recurrent sum is the sum of all
  // its input weights. The dense kernel adds in int16, so it may only take a model whose
  // neurons' sums of |weight| are at most 32767.
  const everyToEvery = (neurons: number, weightOf: (row: number) => number): ReservoirModel => {
    const m = randomModel({ neurons, inputs: 2, fanout: neurons, substeps: 4, seed: neurons });
    const recWeight = new Int8Array(m.recWeight.length);
    for (let row = 0; row < neurons; row++)
      recWeight.fill(weightOf(row), row * neurons, (row + 1) * neurons);
    return {
      ...m,
      weightShiftRec: 0,
      threshold: new Int16Array(neurons).fill(1),
      bias: new Int16Array(neurons).fill(32767),
      recWeight,
    };
  };
  const cases = [
    // 255 × −128 − 127 = −32767: at the bound, dense.
    ['sum −32767', everyToEvery(300, (r) => (r < 255 ? -128 : r === 255 ? -127 : 0)), 'avx2-dense'],
    // 256 × −128 = −32768: past it by one, scattered.
    ['sum −32768', everyToEvery(300, (r) => (r < 256 ? -128 : 0)), 'avx2'],
    // 300 × −128 = −38400 would wrap an int16 sum.
    ['sum −38400', everyToEvery(300, () => -128), 'avx2'],
  ] as const;
  const avx2 = kernelFor(cases[0][1]) !== 'portable';
  if (!avx2) t.skip('this CPU has no AVX2: the portable kernel has one path');
  for (const [what, model, kernel] of cases) {
    if (avx2) assert.equal(kernelFor(model), kernel, what);
    await agreeOn(model, 7, 50);
  }
});
