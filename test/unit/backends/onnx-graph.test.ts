/**
 * The ONNX graph builder as a pure function: the bound that picks float32 or float64, the way of
 * adding spikes, the graph's interface, operators and constants (decoded back from the bytes),
 * and the decay formula it uses, checked against SPEC.md's decay for every int16 and dash.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import {
  accumulatorBound,
  buildReservoirGraph,
  cacheFileName,
  chooseArithmetic,
  chooseRecurrent,
  defaultOnnxCacheDir,
  FLOAT32_EXACT,
  GRAPH_VERSION,
  graphProblem,
  IO,
  META,
} from '../../../agent/backends/onnx/index.js';
import { writeFileAtomic } from '../../../agent/shared/fs.js';
import {
  DataType,
  decodeGraph,
  readModelEnvelope,
  type GraphSpec,
} from '../../../agent/backends/onnx/onnx-proto.js';
import { decay, type ReservoirModel } from '../../../agent/model/index.js';
import { randomModel } from '../../helpers/models.js';
import { tempDir } from '../../helpers/servers.js';

const tmp = tempDir('onnx-graph');
after(() => tmp.remove());

/** Two neurons, one input: every synapse at a chosen weight and shift. */
function tiny(over: Partial<ReservoirModel> = {}): ReservoirModel {
  return {
    neurons: 2,
    inputs: 1,
    fanout: 2,
    substeps: 2,
    weightShiftIn: 3,
    weightShiftRec: 1,
    traceDash: 4,
    traceShift: 5,
    threshold: Int16Array.of(100, 200),
    bias: Int16Array.of(-3, 4),
    dashSyn: Uint8Array.of(0, 15),
    dashMem: Uint8Array.of(1, 2),
    inTarget: Uint16Array.of(1, 0),
    inWeight: Int8Array.of(-128, 5),
    recTarget: Uint16Array.of(0, 1, 1, 0),
    recWeight: Int8Array.of(7, -9, 127, -128),
    ...over,
  };
}

test('the accumulator bound: 32768 + each neuron’s Σ|w|·2^shift, inputs at count 15', () => {
  // Neuron 0: input 5·8·15 = 600, recurrent (7 + 128)·2 = 270; neuron 1: 128·8·15 = 15360,
  // recurrent (9 + 127)·2 = 272.
  assert.equal(accumulatorBound(tiny()), 32768 + 15360 + 272);
  // SPEC.md "Ranges" at the limits: 32768 + 245760·I + 16384·N.
  const full = randomModel({ neurons: 300, inputs: 9, fanout: 300, substeps: 1, seed: 1 });
  const extreme: ReservoirModel = {
    ...full,
    weightShiftIn: 7,
    weightShiftRec: 7,
    inWeight: new Int8Array(full.inWeight.length).fill(-128),
    recWeight: new Int8Array(full.recWeight.length).fill(-128),
  };
  assert.equal(accumulatorBound(extreme), 32768 + 245760 * 9 + 16384 * 300);
});

test('float32 exactly up to a bound of 2^24, float64 past it or when asked', () => {
  // One input synapse to neuron 1 of weight w·2^7·15: choose w so the bound lands on 2^24.
  const at = (bound: number) => {
    const m = randomModel({ neurons: 1024, inputs: 256, fanout: 1, substeps: 1, seed: 2 });
    const recWeight = new Int8Array(m.recWeight.length);
    const inTarget = new Uint16Array(m.inTarget.length); // every input channel → neuron 0
    const inWeight = new Int8Array(m.inWeight.length);
    // Σ|w|·128·15 over 256 channels = bound − 32768: spread it, 1920 per unit of weight.
    let rest = (bound - 32768) / 1920;
    for (let j = 0; j < 256 && rest > 0; j++) {
      inWeight[j] = Math.min(127, rest);
      rest -= inWeight[j]!;
    }
    assert.equal(rest, 0);
    return { ...m, weightShiftIn: 7, inTarget, inWeight, recWeight };
  };
  const exact = at(32768 + 1920 * 8721); // = 16,777,088 ≤ 2^24
  const over = at(32768 + 1920 * 8722); // = 16,779,008 > 2^24
  assert.ok(accumulatorBound(exact) <= FLOAT32_EXACT && accumulatorBound(over) > FLOAT32_EXACT);
  assert.equal(chooseArithmetic(exact).arithmetic, 'float32');
  assert.equal(chooseArithmetic(over).arithmetic, 'float64');
  assert.equal(chooseArithmetic(exact, 'float64').arithmetic, 'float64');
});

test('dense MatMul for quarter-full matrices up to 512 neurons, ScatterElements otherwise', () => {
  assert.equal(chooseRecurrent({ neurons: 40, fanout: 10 }), 'dense');
  assert.equal(chooseRecurrent({ neurons: 40, fanout: 9 }), 'scatter');
  assert.equal(chooseRecurrent({ neurons: 512, fanout: 128 }), 'dense');
  assert.equal(chooseRecurrent({ neurons: 512, fanout: 64 }), 'scatter');
  assert.equal(chooseRecurrent({ neurons: 513, fanout: 512 }), 'scatter');
  assert.equal(chooseRecurrent({ neurons: 2, fanout: 1 }), 'dense');
});

/** The operators GRAPH.md lists, per place. */
const MAIN_OPS = new Set(['Cast', 'Min', 'Reshape', 'MatMul', 'Scan']);
const BODY_OPS = new Set([
  'Identity',
  'Split',
  'Add',
  'Sum',
  'Mul',
  'Sub',
  'Floor',
  'Min',
  'Max',
  'Clip',
  'GreaterOrEqual',
  'Cast',
  'Concat',
  'MatMul',
  'Compress',
  'Reshape',
  'ScatterElements',
]);

function bodyOf(g: GraphSpec): GraphSpec {
  const scan = g.nodes.find((n) => n.opType === 'Scan')!;
  const attr = scan.attributes!.find((a) => a.name === 'body')!;
  assert.ok('graph' in attr);
  return attr.graph;
}

function initializer(g: GraphSpec, name: string): Float64Array | Float32Array | Int32Array {
  const t = g.initializers.find((i) => i.name === name);
  assert.ok(t, `initializer ${name}`);
  const buf = t.raw.buffer.slice(t.raw.byteOffset, t.raw.byteOffset + t.raw.byteLength);
  if (t.dataType === DataType.FLOAT) return new Float32Array(buf);
  if (t.dataType === DataType.INT32) return new Int32Array(buf);
  return new Float64Array(buf);
}

test('the graph: opset 17, IR 8, the documented interface, operators and metadata', () => {
  for (const [model, recurrent] of [
    [tiny(), 'dense'],
    [randomModel({ neurons: 64, inputs: 3, fanout: 8, substeps: 5, seed: 3 }), 'scatter'],
  ] as const) {
    const built = buildReservoirGraph(model, { bundleSha256: 'ab'.repeat(32) });
    assert.equal(built.recurrent, recurrent);
    const env = readModelEnvelope(built.bytes);
    assert.equal(env.irVersion, 8);
    assert.deepEqual(env.opsets, [{ domain: '', version: 17 }]);
    assert.equal(env.metadata.get(META.bundle), 'ab'.repeat(32));
    assert.equal(env.metadata.get(META.graphVersion), String(GRAPH_VERSION));
    assert.equal(env.metadata.get(META.arithmetic), 'float32');
    assert.equal(env.metadata.get(META.recurrent), recurrent);
    assert.equal(env.metadata.get(META.bound), String(accumulatorBound(model)));
    assert.equal(
      env.metadata.get(META.graphSha256),
      createHash('sha256').update(env.graph).digest('hex'),
    );

    const g = decodeGraph(env.graph);
    const { neurons: N, inputs: I, substeps: S } = model;
    const io = (v: GraphSpec['inputs'][number]) => [v.name, v.elemType, v.shape];
    assert.deepEqual(g.inputs.map(io), [
      [IO.input, DataType.UINT8, ['samples', S, I]],
      [IO.isyn, DataType.INT16, [N]],
      [IO.vmem, DataType.INT16, [N]],
      [IO.trace, DataType.INT16, [N]],
      [IO.spiked, DataType.UINT8, [N]],
    ]);
    assert.deepEqual(g.outputs.map(io), [
      [IO.features, DataType.INT16, ['samples', 2 * N]],
      [IO.isynOut, DataType.INT16, [N]],
      [IO.vmemOut, DataType.INT16, [N]],
      [IO.traceOut, DataType.INT16, [N]],
      [IO.spikedOut, DataType.UINT8, [N]],
    ]);
    for (const n of g.nodes) assert.ok(MAIN_OPS.has(n.opType), `main graph: ${n.opType}`);
    const body = bodyOf(g);
    for (const n of body.nodes) assert.ok(BODY_OPS.has(n.opType), `Scan body: ${n.opType}`);
    // One ScatterElements or one MatMul per sub-step; one threshold comparison per sub-step.
    const count = (op: string) => body.nodes.filter((n) => n.opType === op).length;
    assert.equal(count(recurrent === 'dense' ? 'MatMul' : 'ScatterElements'), S);
    assert.equal(count(recurrent === 'dense' ? 'ScatterElements' : 'MatMul'), 0);
    assert.equal(count('GreaterOrEqual'), S);
    // Two decays per sub-step and one for the trace, each one Floor.
    assert.equal(count('Floor'), 2 * S + 1);
    // Every value a node reads is made before it: a graph input, an initializer, the outer
    // scope, or an earlier node's output.
    const known = new Set([...g.inputs, ...body.inputs].map((v) => v.name));
    for (const t of g.initializers) known.add(t.name);
    for (const n of [...body.nodes, ...g.nodes]) {
      for (const i of n.inputs) assert.ok(known.has(i), `${n.name} reads ${i} before it exists`);
      for (const o of n.outputs) known.add(o);
    }
    for (const o of [...g.outputs, ...body.outputs]) assert.ok(known.has(o.name), o.name);
  }
});

test('the constants hold the model: dense rows, weights · 2^shift, 2^−dash', () => {
  const m = tiny();
  const g = decodeGraph(readModelEnvelope(buildReservoirGraph(m).bytes).graph);
  // w_in[j][target] = weight · 2^3; input 0 → neuron 1 (−128), neuron 0 (5).
  assert.deepEqual([...initializer(g, 'w_in')], [5 * 8, -128 * 8]);
  // w_rec[p][target] = weight · 2^1: row 0 = (7 → 0, −9 → 1), row 1 = (127 → 1, −128 → 0).
  assert.deepEqual([...initializer(g, 'w_rec')], [14, -18, -256, 254]);
  assert.deepEqual([...initializer(g, 'inv_dash_syn')], [1, 2 ** -15]);
  assert.deepEqual([...initializer(g, 'inv_dash_mem')], [0.5, 0.25]);
  assert.deepEqual([...initializer(g, 'threshold')], [100, 200]);
  assert.deepEqual([...initializer(g, 'bias')], [-3, 4]);
  assert.deepEqual([...initializer(g, 'trace_scale')], [32]);

  const s = randomModel({ neurons: 9, inputs: 1, fanout: 2, substeps: 1, seed: 4 });
  const gs = decodeGraph(
    readModelEnvelope(buildReservoirGraph({ ...s, weightShiftRec: 2 }).bytes).graph,
  );
  assert.equal(chooseRecurrent(s), 'scatter');
  assert.deepEqual([...initializer(gs, 'rec_target')], [...s.recTarget]);
  assert.deepEqual(
    [...initializer(gs, 'rec_weight')],
    Array.from(s.recWeight, (w) => w * 4),
  );
  const g64 = decodeGraph(
    readModelEnvelope(buildReservoirGraph(m, { precision: 'float64' }).bytes).graph,
  );
  assert.ok(initializer(g64, 'w_in') instanceof Float64Array);
  assert.deepEqual([...initializer(g64, 'w_in')], [40, -1024]);
});

test('the same model builds the same bytes', () => {
  const m = randomModel({ neurons: 50, inputs: 4, fanout: 7, substeps: 3, seed: 9 });
  assert.deepEqual(buildReservoirGraph(m).bytes, buildReservoirGraph(m).bytes);
});

test('the graph’s decay, x − max(floor(x·2^−d), min(x, 1)), is SPEC.md’s for every int16 and d', () => {
  // In float32, as the graph computes it: x·2^−d is exact (a power of two), so is every step.
  const f = Math.fround;
  for (let d = 0; d <= 15; d++) {
    const inv = f(2 ** -d);
    for (let x = -32768; x <= 32767; x++) {
      const y = f(x - Math.max(Math.floor(f(x * inv)), Math.min(x, 1)));
      if (y !== decay(x, d)) assert.fail(`decay(${x}, ${d}): graph ${y}, SPEC.md ${decay(x, d)}`);
    }
  }
});

test('the cache check: a good file passes, any other is named', () => {
  const m = tiny();
  const sha = 'cd'.repeat(32);
  const v = { arithmetic: 'float32', recurrent: 'dense' } as const;
  const good = buildReservoirGraph(m, { bundleSha256: sha }).bytes;
  assert.equal(graphProblem(good, sha, v), undefined);
  assert.match(graphProblem(good, 'ef'.repeat(32), v)!, /bundle_sha256/);
  assert.match(graphProblem(good, sha, { ...v, arithmetic: 'float64' })!, /arithmetic/);
  assert.match(graphProblem(good, sha, { ...v, recurrent: 'scatter' })!, /recurrent/);
  // One bit flipped in the weights: still a protobuf, but not the graph that was written.
  const flipped = good.slice();
  const at = Buffer.from(flipped).indexOf(Buffer.from(new Float32Array([-1024]).buffer));
  assert.ok(at > 0);
  flipped[at] = flipped[at]! ^ 1;
  assert.match(graphProblem(flipped, sha, v)!, /does not match its SHA-256/);
  assert.match(graphProblem(good.subarray(0, good.length - 9), sha, v)!, /not an ONNX model/);
  assert.match(graphProblem(new TextEncoder().encode('hello'), sha, v)!, /not an ONNX model/);
  assert.equal(cacheFileName(sha, v), `${sha}.g${GRAPH_VERSION}.float32.dense.onnx`);
});

test('the default cache directory follows systemd, then XDG, then ~/.cache', () => {
  assert.equal(
    defaultOnnxCacheDir({ CACHE_DIRECTORY: '/var/cache/spikecap:/other', XDG_CACHE_HOME: '/x' }),
    '/var/cache/spikecap/onnx',
  );
  assert.equal(defaultOnnxCacheDir({ XDG_CACHE_HOME: '/x' }), '/x/spikecap/onnx');
  assert.match(defaultOnnxCacheDir({}), /\.cache\/spikecap\/onnx$/);
});

test('atomic writes leave the new file and no temporary one', () => {
  const dir = path.join(tmp.dir, 'atomic');
  mkdirSync(dir);
  const file = path.join(dir, 'x.onnx');
  writeFileSync(file, 'old');
  writeFileAtomic(file, new TextEncoder().encode('new'));
  writeFileAtomic(file, new TextEncoder().encode('newer'), true);
  assert.equal(readFileSync(file, 'utf8'), 'newer');
  assert.deepEqual(readdirSync(dir), ['x.onnx']);
  assert.throws(() => writeFileAtomic(path.join(dir, 'no', 'x.onnx'), new Uint8Array(1)), {
    code: 'ENOENT',
  });
  assert.deepEqual(readdirSync(dir), ['x.onnx']);
});
