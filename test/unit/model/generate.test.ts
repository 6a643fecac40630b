/** generateModel: deterministic from the seed, shaped as its header says, calibrated. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { DEFAULT_ENCODER, encodeBundle } from '../../../agent/model/bundle.js';
import { checkModel } from '../../../agent/model/check.js';
import { GENERATOR, generateModel } from '../../../agent/model/generate.js';
import { ReferenceReservoir } from '../../../agent/model/reservoir.js';
import { measureFiringRate } from '../../../agent/model/standard-input.js';
import { packageRoot } from '../../../agent/shared/paths.js';

const bytesOf = (r: ReturnType<typeof generateModel>): Buffer =>
  encodeBundle({ model: r.model, encoder: DEFAULT_ENCODER, provenance: r.provenance });

test('the same seed gives the same bytes; another seed gives another model', () => {
  const opts = { neurons: 96, inputs: 8, fanout: 16, seed: 5 };
  const a = bytesOf(generateModel(opts));
  const b = bytesOf(generateModel({ ...opts }));
  assert.deepEqual(a, b);
  const other = generateModel({ ...opts, seed: 6 });
  assert.notDeepEqual(bytesOf(other), a);
  assert.notDeepEqual(
    Array.from(other.model.recTarget),
    Array.from(generateModel(opts).model.recTarget),
  );
});

test('config/reservoir.spkb is what `model new --neurons 512 --inputs 16 --fanout 64 --seed 1` makes', () => {
  const file = readFileSync(path.join(packageRoot, 'config', 'reservoir.spkb'));
  const made = bytesOf(generateModel({ neurons: 512, inputs: 16, fanout: 64, seed: 1 }));
  assert.ok(made.equals(file), 'the generator changed: bump GENERATOR and regenerate the bundle');
});

test('the shape of a generated model: dealt targets, Dale’s law, the documented ranges', () => {
  const N = 120;
  const I = 10;
  const F = 24;
  const { model: m, provenance } = generateModel({ neurons: N, inputs: I, fanout: F, seed: 3 });
  checkModel(m);
  assert.equal(provenance.generator, GENERATOR);
  assert.equal(m.substeps, 4);
  assert.ok(m.bias.every((b) => b === 0));
  assert.ok(m.dashSyn.every((d) => d >= 1 && d <= 3));
  assert.ok(m.dashMem.every((d) => d >= 1 && d <= 6));
  assert.ok(m.inWeight.every((w) => w >= 32 && w <= 127));
  assert.equal(m.traceDash, 4);
  assert.equal(m.traceShift, 8); // 10 − ceil(log2 4)

  const inDegree = new Array<number>(N).fill(0);
  const recDegree = new Array<number>(N).fill(0);
  for (let row = 0; row < I; row++) {
    const t = Array.from(m.inTarget.subarray(row * F, (row + 1) * F));
    assert.deepEqual(
      t,
      [...t].sort((a, b) => a - b),
      'sorted',
    );
    for (const x of t) inDegree[x]!++;
  }
  let inhibitory = 0;
  for (let p = 0; p < N; p++) {
    const t = Array.from(m.recTarget.subarray(p * F, (p + 1) * F));
    const w = Array.from(m.recWeight.subarray(p * F, (p + 1) * F));
    assert.deepEqual(
      t,
      [...t].sort((a, b) => a - b),
      'sorted',
    );
    assert.ok(!t.includes(p), `row ${p} targets itself`);
    const negative = w[0]! < 0;
    if (negative) inhibitory++;
    for (const x of w)
      assert.ok(negative ? x >= -127 && x <= -64 : x >= 8 && x <= 47, `Dale: row ${p}: ${x}`);
    for (const x of t) recDegree[x]!++;
  }
  assert.equal(inhibitory, Math.round(0.2 * N));
  // Dealt like cards: every neuron is a target about equally often (I·F/N = 2, and F).
  for (let i = 0; i < N; i++) {
    assert.ok(Math.abs(inDegree[i]! - (I * F) / N) <= 1, `input in-degree of ${i}: ${inDegree[i]}`);
    assert.ok(Math.abs(recDegree[i]! - F) <= 1, `recurrent in-degree of ${i}: ${recDegree[i]}`);
  }
});

test('the calibrated rate is close to the target, and provenance records it exactly', () => {
  for (const [opts, target] of [
    [{ neurons: 128, inputs: 8, fanout: 16, seed: 1 }, 0.05],
    [{ neurons: 256, inputs: 16, fanout: 32, seed: 2 }, 0.05],
    [{ neurons: 128, inputs: 8, fanout: 16, seed: 1, targetRate: 0.1 }, 0.1],
  ] as const) {
    const { model, provenance } = generateModel(opts);
    assert.ok(
      Math.abs(provenance.rate - target) <= 0.05 * target,
      `${JSON.stringify(opts)}: rate ${provenance.rate}, target ${target}`,
    );
    assert.equal(provenance.target_rate, target);
    const again = measureFiringRate(new ReferenceReservoir(model), model);
    assert.equal(again.rate, provenance.rate);
    assert.equal(again.eventsPerSample, provenance.events_per_sample);
    assert.ok(provenance.threshold_factor > 1 && provenance.threshold_factor < 32768);
  }
});

test('the smallest models: F = N puts the source in its own row; every size is a valid model', () => {
  for (const opts of [
    { neurons: 2, inputs: 1, fanout: 1, seed: 1 },
    { neurons: 2, inputs: 1, fanout: 2, seed: 1 },
    { neurons: 5, inputs: 3, fanout: 5, seed: 9, substeps: 1 },
    { neurons: 7, inputs: 2, fanout: 6, seed: 4, substeps: 16 },
  ]) {
    const { model } = generateModel(opts);
    checkModel(model);
    if (opts.fanout === opts.neurons)
      assert.deepEqual(Array.from(model.recTarget.subarray(0, opts.fanout)), [
        ...Array(opts.fanout).keys(),
      ]);
  }
});

test('bad options are refused with the option named', () => {
  const ok = { neurons: 16, inputs: 2, fanout: 4, seed: 1 };
  assert.throws(
    () => generateModel({ ...ok, fanout: 17 }),
    /^RangeError: fanout: 17 is out of range 1…16$/,
  );
  assert.throws(() => generateModel({ ...ok, neurons: 1 }), /neurons: 1 is out of range 2…8192/);
  assert.throws(
    () => generateModel({ ...ok, neurons: 2.5 }),
    /^TypeError: neurons: expected an integer/,
  );
  assert.throws(() => generateModel({ ...ok, seed: -1 }), /seed: -1 is out of range 0…4294967295/);
  assert.throws(() => generateModel({ ...ok, substeps: 17 }), /substeps: 17 is out of range 1…16/);
  assert.throws(
    () => generateModel({ ...ok, targetRate: 0 }),
    /targetRate: 0 must be strictly between 0 and 1/,
  );
  assert.throws(
    () => generateModel({ ...ok, inhibitoryFraction: 2 }),
    /inhibitoryFraction: 2 is out of range 0…1/,
  );
});
