/**
 * What the `onnx` backend adds to the contract suite: why float64 past the bound (a model where
 * float32 really goes wrong), decay and saturation over every int16 under ONNX Runtime, the disk
 * cache (reused, corrupt files rebuilt, an unwritable directory survived), and clear errors.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import type * as Ort from 'onnxruntime-node';
import { BackendError } from '../../../agent/backends/index.js';
import {
  buildReservoirGraph,
  cacheFileName,
  createOnnxBackend,
  FLOAT32_EXACT,
  graphProblem,
  IO,
  OnnxBackend,
} from '../../../agent/backends/onnx/index.js';
import {
  decodeState,
  encodeState,
  ReferenceReservoir,
  stateBytes,
  type ReservoirModel,
} from '../../../agent/model/index.js';
import { bundleOf, randomInputs, randomModel } from '../../helpers/models.js';
import { tempDir } from '../../helpers/servers.js';

const ort = createRequire(import.meta.url)('onnxruntime-node') as typeof Ort;
const tmp = tempDir('onnx');
after(() => tmp.remove());

function onnx(options: Parameters<typeof createOnnxBackend>[1] = {}): OnnxBackend {
  const b = createOnnxBackend('onnx', { cacheDir: false, ...options });
  assert.ok(b instanceof OnnxBackend);
  return b;
}

/** The reference from `state`, one call of `samples` samples: features and the state after. */
function reference(m: ReservoirModel, state: Uint8Array, input: Uint8Array, samples: number) {
  const r = new ReferenceReservoir(m);
  r.setState(state);
  const features = new Int16Array(samples * 2 * m.neurons);
  r.step(input, features, samples);
  const after = new Uint8Array(stateBytes(m.neurons));
  r.getState(after);
  return { features, state: after };
}

/**
 * 1043 neurons, 70 inputs, fan-out 1, shifts 7: every input channel and every neuron sends to
 * neuron 0 only. From isyn[0] = 1, neurons 1 … 1042 spiked and every input at 15, neuron 0's
 * accumulator is 1 + 70·15·127·128 − 1042·128·128 = 1 + 17,068,800 − 17,072,128 = −3327 — but
 * its partial sum 17,068,801 is odd and above 2^24, which float32 cannot hold.
 */
function pastTheBound(): { model: ReservoirModel; state: Uint8Array; input: Uint8Array } {
  const N = 1043;
  const I = 70;
  const model: ReservoirModel = {
    neurons: N,
    inputs: I,
    fanout: 1,
    substeps: 1,
    weightShiftIn: 7,
    weightShiftRec: 7,
    traceDash: 0,
    traceShift: 0,
    threshold: new Int16Array(N).fill(32767),
    bias: new Int16Array(N),
    dashSyn: new Uint8Array(N).fill(15),
    dashMem: new Uint8Array(N).fill(15),
    inTarget: new Uint16Array(I),
    inWeight: new Int8Array(I).fill(127),
    recTarget: new Uint16Array(N),
    recWeight: new Int8Array(N).fill(-128).fill(0, 0, 1),
  };
  const s = decodeState(new Uint8Array(stateBytes(N)), N);
  s.isyn[0] = 1;
  s.spiked.fill(1, 1);
  return { model, state: encodeState(s), input: new Uint8Array(I).fill(15) };
}

test('past 2^24 float32 gets neuron 0 wrong; the backend picks float64 and gets it right', async () => {
  const { model, state, input } = pastTheBound();
  const want = reference(model, state, input, 1);
  // decay(−3327, 15) = −3327 − floor(−3327 / 32768) = −3326.
  assert.equal(decodeState(want.state, model.neurons).isyn[0], -3326);

  // Forced float32, run directly: the partial sum rounds, and the answer is off by one.
  const f32 = buildReservoirGraph(model, { precision: 'float32' });
  assert.ok(f32.bound > FLOAT32_EXACT);
  const session = await ort.InferenceSession.create(f32.bytes, { logSeverityLevel: 3 });
  try {
    const s = decodeState(state, model.neurons);
    const N = model.neurons;
    const out = await session.run({
      [IO.input]: new ort.Tensor('uint8', input, [1, 1, model.inputs]),
      [IO.isyn]: new ort.Tensor('int16', s.isyn, [N]),
      [IO.vmem]: new ort.Tensor('int16', s.vmem, [N]),
      [IO.trace]: new ort.Tensor('int16', s.trace, [N]),
      [IO.spiked]: new ort.Tensor('uint8', s.spiked, [N]),
    });
    const isyn0 = (out[IO.isynOut]!.data as Int16Array)[0];
    assert.notEqual(isyn0, -3326, 'float32 should not be exact past the bound');
    assert.equal(Math.abs(isyn0! - -3326), 1);
  } finally {
    await session.release();
  }

  const b = onnx();
  try {
    await b.load(bundleOf(model));
    assert.equal(b.graph?.arithmetic, 'float64');
    await b.setState(state);
    const features = new Int16Array(2 * model.neurons);
    await b.step(input, features, 1);
    assert.deepEqual(features, want.features);
    assert.deepEqual(await b.getState(), want.state);
  } finally {
    await b.close();
  }
});

test('decay and saturation of every int16 value, every dash, in float32 and float64', async () => {
  // 8192 neurons with no synapses: isyn, vmem and trace only decay (vmem adds isyn and a bias,
  // 0 or at a rail), so eight runs of one sample see every int16 value in each.
  const N = 8192;
  for (const precision of ['auto', 'float64'] as const) {
    const b = onnx({ precision });
    try {
      for (let d = 0; d <= 15; d++) {
        const base = randomModel({ neurons: N, inputs: 1, fanout: 1, substeps: 1, seed: d });
        const model: ReservoirModel = {
          ...base,
          traceDash: d,
          traceShift: 11,
          dashSyn: new Uint8Array(N).fill(d),
          dashMem: new Uint8Array(N).fill(15 - d),
          bias: Int16Array.from({ length: N }, (_, i) => [0, 0, 32767, -32768][i % 4]!),
          inWeight: new Int8Array(base.inWeight.length),
          recWeight: new Int8Array(base.recWeight.length),
        };
        await b.load(bundleOf(model));
        if (precision === 'auto') assert.equal(b.graph?.arithmetic, 'float32');
        const input = new Uint8Array(1);
        for (let part = 0; part < 8; part++) {
          const s = decodeState(new Uint8Array(stateBytes(N)), N);
          for (let i = 0; i < N; i++) {
            const x = -32768 + part * N + i;
            s.isyn[i] = x;
            s.vmem[i] = x ^ 0x5555;
            s.trace[i] = -x - 1;
            s.spiked[i] = i % 3 === 0 ? 1 : 0;
          }
          const state = encodeState(s);
          const want = reference(model, state, input, 1);
          await b.setState(state);
          const features = new Int16Array(2 * N);
          await b.step(input, features, 1);
          assert.deepEqual(features, want.features, `dash ${d}, part ${part}, ${precision}`);
          assert.deepEqual(await b.getState(), want.state, `dash ${d}, part ${part}, ${precision}`);
        }
      }
    } finally {
      await b.close();
    }
  }
});

test('the cache: the first load writes the graph, the next reads it; a damaged file is rebuilt', async () => {
  const dir = path.join(tmp.dir, 'cache');
  const bundle = bundleOf(randomModel({ neurons: 60, inputs: 3, fanout: 9, substeps: 2, seed: 5 }));
  const m = bundle.model;
  const input = randomInputs(40 * m.substeps * m.inputs, 6);
  const want = reference(m, new Uint8Array(stateBytes(m.neurons)), input, 40);
  const file = path.join(
    dir,
    cacheFileName(bundle.sha256, { arithmetic: 'float32', recurrent: 'scatter' }),
  );
  const loadAndCheck = async () => {
    const b = onnx({ cacheDir: dir });
    await b.load(bundle);
    const features = new Int16Array(40 * 2 * m.neurons);
    await b.step(input, features, 40);
    assert.deepEqual(features, want.features);
    const graph = b.graph!;
    const health = await b.health();
    await b.close();
    return { graph, health };
  };

  const first = await loadAndCheck();
  assert.equal(first.graph.source, 'built');
  assert.equal(first.graph.file, file);
  assert.equal(first.graph.note, undefined);
  assert.deepEqual(readdirSync(dir), [path.basename(file)]); // no temporary file left
  const bytes = readFileSync(file);
  assert.equal(graphProblem(bytes, bundle.sha256, first.graph), undefined);
  const written = statSync(file).mtimeMs;

  const second = await loadAndCheck();
  assert.equal(second.graph.source, 'cache');
  assert.match(second.health.detail!, /float32 scatter graph from .*\.onnx/);
  assert.equal(statSync(file).mtimeMs, written);

  // A flipped bit in the recurrent weights (the initializer's raw data follows its name): the
  // file still parses, and the runtime would take it.
  const flipped = Buffer.from(bytes);
  const at = flipped.lastIndexOf('rec_weight') + 'rec_weight'.length + 20;
  flipped[at] = flipped[at]! ^ 0x10;
  writeFileSync(file, flipped);
  const third = await loadAndCheck();
  assert.equal(third.graph.source, 'built');
  assert.match(third.graph.note!, /rebuilt: the graph does not match its SHA-256/);
  assert.deepEqual(readFileSync(file), bytes);

  // Truncated, and plain garbage.
  for (const junk of [bytes.subarray(0, 1000), Buffer.from('not a model')]) {
    writeFileSync(file, junk);
    const again = await loadAndCheck();
    assert.equal(again.graph.source, 'built');
    assert.match(again.graph.note!, /rebuilt: not an ONNX model/);
    assert.deepEqual(readFileSync(file), bytes);
  }

  // Another bundle's graph under this bundle's name.
  const other = bundleOf(randomModel({ neurons: 60, inputs: 3, fanout: 9, substeps: 2, seed: 99 }));
  writeFileSync(file, buildReservoirGraph(other.model, { bundleSha256: other.sha256 }).bytes);
  const fourth = await loadAndCheck();
  assert.match(fourth.graph.note!, /spikecap\.bundle_sha256 is "[0-9a-f]{64}", expected/);
  assert.deepEqual(readFileSync(file), bytes);
});

test('a cache directory that cannot be written costs the cache, not the load', async () => {
  const blocker = path.join(tmp.dir, 'a-file');
  writeFileSync(blocker, '');
  const b = onnx({ cacheDir: path.join(blocker, 'cache') });
  try {
    const bundle = bundleOf(
      randomModel({ neurons: 10, inputs: 2, fanout: 3, substeps: 1, seed: 1 }),
    );
    await b.load(bundle);
    assert.equal(b.graph?.source, 'built');
    assert.match(b.graph.note!, /cannot write .*: ENOTDIR/);
    assert.equal((await b.health()).status, 'ok');
    await b.step(new Uint8Array(2), new Int16Array(20), 1);
  } finally {
    await b.close();
  }
});

test('a bundle ONNX Runtime refuses is EINVAL naming the bundle; the old model stays', async () => {
  const b = onnx();
  try {
    const good = bundleOf(randomModel({ neurons: 10, inputs: 2, fanout: 3, substeps: 1, seed: 1 }));
    await b.load(good);
    // Not a checked model (the backend assumes one): 10 neurons but 9 thresholds.
    const bad = { ...good, model: { ...good.model, threshold: new Int16Array(9).fill(1) } };
    await assert.rejects(b.load(bad), (err: unknown) => {
      assert.ok(err instanceof BackendError);
      assert.equal(err.code, 'EINVAL');
      assert.match(
        err.message,
        new RegExp(
          `^onnx: bundle ${good.sha256.slice(0, 12)}… \\(10 neurons, 2 inputs, fan-out 3, 1 sub-steps\\): `,
        ),
      );
      return true;
    });
    assert.equal((await b.health()).lastError?.code, 'EINVAL');
    assert.equal(await b.step(new Uint8Array(2), new Int16Array(20), 1), 0);
  } finally {
    await b.close();
  }
});

test('options: threads, a bad option is a TypeError naming it', async () => {
  const b = onnx({ threads: 2 });
  assert.match(b.capabilities().device, /^ONNX Runtime \d+\.\d+\.\d+ \(CPU, 2 threads\)$/);
  const bundle = bundleOf(
    randomModel({ neurons: 40, inputs: 5, fanout: 12, substeps: 3, seed: 7 }),
  );
  await b.load(bundle);
  const input = randomInputs(20 * 15, 1);
  const features = new Int16Array(20 * 80);
  await b.step(input, features, 20);
  assert.deepEqual(
    features,
    reference(bundle.model, new Uint8Array(stateBytes(40)), input, 20).features,
  );
  await b.close();
  assert.throws(() => createOnnxBackend('onnx', { threads: 0 }), /threads: expected an integer/);
  assert.throws(() => createOnnxBackend('onnx', { threads: 1.5 }), TypeError);
  assert.throws(() => createOnnxBackend('onnx', { cacheDir: '' }), /cacheDir/);
  assert.throws(
    () => createOnnxBackend('onnx', { precision: 'float16' as 'auto' }),
    /precision: expected "auto" or "float64"/,
  );
  assert.throws(() => createOnnxBackend('onnx', { recurrent: 'sparse' as 'auto' }), /recurrent/);
});
