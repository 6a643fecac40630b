/**
 * The reference reservoir on tiny models whose every number is worked out by hand from
 * native/core/SPEC.md in the comments (not by running the code).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReferenceReservoir } from '../../../agent/model/reservoir.js';
import { decodeState } from '../../../agent/model/state.js';
import type { ReservoirModel } from '../../../agent/model/types.js';

/**
 * Three neurons, one input channel, fan-out 2, two sub-steps per sample.
 *   input 0 → neurons 0, 1 with weights 10, −4, × 2 (weight_shift_in 1)
 *   neuron 0 → 1, 2 with 20, 5; neuron 1 → 2, 0 with −8, 3; neuron 2 → 0, 1 with 7, −6; × 4
 *   threshold 25, 30, 10; bias 0, 3, −2; dash_syn 1, 2, 1; dash_mem 2, 15, 1
 *   trace_dash 1, trace_shift 3 (× 8)
 */
const threeNeurons: ReservoirModel = {
  neurons: 3,
  inputs: 1,
  fanout: 2,
  substeps: 2,
  weightShiftIn: 1,
  weightShiftRec: 2,
  traceDash: 1,
  traceShift: 3,
  threshold: Int16Array.of(25, 30, 10),
  bias: Int16Array.of(0, 3, -2),
  dashSyn: Uint8Array.of(1, 2, 1),
  dashMem: Uint8Array.of(2, 15, 1),
  inTarget: Uint16Array.of(0, 1),
  inWeight: Int8Array.of(10, -4),
  recTarget: Uint16Array.of(1, 2, 2, 0, 0, 1),
  recWeight: Int8Array.of(20, 5, -8, 3, 7, -6),
};

// Four samples; the raster of each is [count in sub-step 0, count in sub-step 1].
const RASTER = Uint8Array.of(1, 2, 0, 20, 0, 0, 0, 0);

/*
 * Sample 0 = [1, 2], from reset.
 *  sub-step 0, c = 1, nobody spiked before:
 *   acc = [0 + 1·10·2, 0 + 1·(−4)·2, 0] = [20, −8, 0]
 *   n0: isyn = decay(20, 1) = 20 − 10 = 10;  v = decay(0, 2) + 10 + 0 = 10 < 25
 *   n1: isyn = decay(−8, 2) = −8 − floor(−2) = −6;  v = 0 − 6 + 3 = −3 < 30
 *   n2: isyn = decay(0, 1) = 0;  v = 0 + 0 − 2 = −2 < 10
 *  sub-step 1, c = 2:
 *   acc = [10 + 40, −6 − 16, 0] = [50, −22, 0]
 *   n0: isyn = 50 − 25 = 25;  v = decay(10, 2) = 8, 8 + 25 = 33 ≥ 25: spike, v = 8
 *   n1: isyn = −22 − floor(−5.5) = −16;  v = decay(−3, 15) = −3 + 1 = −2, −2 − 16 + 3 = −15
 *   n2: isyn = 0;  v = decay(−2, 1) = −2 + 1 = −1, −1 + 0 − 2 = −3
 *  counts [1, 0, 0]; trace = decay(0, 1) + count·8 = [8, 0, 0]
 *  state: isyn [25, −16, 0], vmem [8, −15, −3], spiked [1, 0, 0]
 *
 * Sample 1 = [0, 20]: the 20 counts as 15.
 *  sub-step 0, c = 0, n0 spiked (→ n1 +20·4, n2 +5·4):
 *   acc = [25, −16 + 80, 0 + 20] = [25, 64, 20]
 *   n0: isyn = 25 − 12 = 13;  v = decay(8, 2) = 6, 6 + 13 = 19 < 25
 *   n1: isyn = 64 − 16 = 48;  v = decay(−15, 15) = −14, −14 + 48 + 3 = 37 ≥ 30: spike, v = 7
 *   n2: isyn = 20 − 10 = 10;  v = decay(−3, 1) = −3 + 2 = −1, −1 + 10 − 2 = 7 < 10
 *  sub-step 1, c = 15, n1 spiked (→ n2 −8·4, n0 +3·4):
 *   acc = [13 + 15·10·2 + 12, 48 + 15·(−4)·2, 10 − 32] = [325, −72, −22]
 *   n0: isyn = 325 − 162 = 163;  v = decay(19, 2) = 15, 15 + 163 = 178: spike, v = 153
 *   n1: isyn = −72 + 18 = −54;  v = decay(7, 15): floor(7/32768) = 0, so the step-by-one
 *       rule: 6; 6 − 54 + 3 = −45
 *   n2: isyn = −22 + 11 = −11;  v = decay(7, 1) = 4, 4 − 11 − 2 = −9
 *  counts [1, 1, 0]; trace = [decay(8, 1) + 8, 0 + 8, 0] = [12, 8, 0]
 *  state: isyn [163, −54, −11], vmem [153, −45, −9], spiked [1, 0, 0]
 *
 * Sample 2 = [0, 0].
 *  sub-step 0, n0 spiked: acc = [163, −54 + 80, −11 + 20] = [163, 26, 9]
 *   n0: isyn = 163 − 81 = 82;  v = decay(153, 2) = 115, 115 + 82 = 197: spike, v = 172
 *   n1: isyn = 26 − 6 = 20;  v = decay(−45, 15) = −44, −44 + 20 + 3 = −21
 *   n2: isyn = 9 − 4 = 5;  v = decay(−9, 1) = −9 − floor(−4.5) = −4, −4 + 5 − 2 = −1
 *  sub-step 1, n0 spiked: acc = [82, 20 + 80, 5 + 20] = [82, 100, 25]
 *   n0: isyn = 41;  v = decay(172, 2) = 129, 129 + 41 = 170: spike, v = 145
 *   n1: isyn = 100 − 25 = 75;  v = decay(−21, 15) = −20, −20 + 75 + 3 = 58: spike, v = 28
 *   n2: isyn = 25 − 12 = 13;  v = decay(−1, 1) = −1 − floor(−0.5) = 0, 0 + 13 − 2 = 11: spike, v = 1
 *  counts [2, 1, 1]; trace = [decay(12, 1) + 16, decay(8, 1) + 8, 0 + 8] = [22, 12, 8]
 *
 * Sample 3 = [0, 0].
 *  sub-step 0, all three spiked:
 *   acc0 = 41 + 3·4 (from n1) + 7·4 (from n2) = 81
 *   acc1 = 75 + 20·4 (from n0) − 6·4 (from n2) = 131
 *   acc2 = 13 + 5·4 (from n0) − 8·4 (from n1) = 1
 *   n0: isyn = 81 − 40 = 41;  v = decay(145, 2) = 109, 109 + 41 = 150: spike, v = 125
 *   n1: isyn = 131 − 32 = 99;  v = decay(28, 15) = 27, 27 + 99 + 3 = 129: spike, v = 99
 *   n2: isyn = decay(1, 1) = 0 (step-by-one);  v = decay(1, 1) = 0, 0 + 0 − 2 = −2
 *  sub-step 1, n0 and n1 spiked: acc = [41 + 12, 99 + 80, 0 + 20 − 32] = [53, 179, −12]
 *   n0: isyn = 53 − 26 = 27;  v = decay(125, 2) = 94, 94 + 27 = 121: spike, v = 96
 *   n1: isyn = 179 − 44 = 135;  v = decay(99, 15) = 98, 98 + 135 + 3 = 236: spike, v = 206
 *   n2: isyn = −12 + 6 = −6;  v = decay(−2, 1) = −1, −1 − 6 − 2 = −9
 *  counts [2, 2, 0]; trace = [11 + 16, 6 + 16, 4 + 0] = [27, 22, 4]
 *  state: isyn [27, 135, −6], vmem [96, 206, −9], trace [27, 22, 4], spiked [1, 1, 0]
 */
const FEATURES = [
  [1, 0, 0, 8, 0, 0],
  [1, 1, 0, 12, 8, 0],
  [2, 1, 1, 22, 12, 8],
  [2, 2, 0, 27, 22, 4],
];
const SPIKES = [1, 2, 4, 4];

test('three neurons over four samples: every feature and the final state as worked out by hand', () => {
  const r = new ReferenceReservoir(threeNeurons);
  const features = new Int16Array(6);
  for (let k = 0; k < 4; k++) {
    const spikes = r.step(RASTER.subarray(2 * k, 2 * k + 2), features, 1);
    assert.deepEqual(Array.from(features), FEATURES[k], `features of sample ${k}`);
    assert.equal(spikes, SPIKES[k], `spikes of sample ${k}`);
  }
  const out = new Uint8Array(21);
  r.getState(out);
  const state = decodeState(out, 3);
  assert.deepEqual(Array.from(state.isyn), [27, 135, -6]);
  assert.deepEqual(Array.from(state.vmem), [96, 206, -9]);
  assert.deepEqual(Array.from(state.trace), [27, 22, 4]);
  assert.deepEqual(Array.from(state.spiked), [1, 1, 0]);
});

test('several samples in one call give the same as one at a time', () => {
  const r = new ReferenceReservoir(threeNeurons);
  const features = new Int16Array(4 * 6);
  assert.equal(
    r.step(RASTER, features, 4),
    SPIKES.reduce((a, b) => a + b),
  );
  assert.deepEqual(Array.from(features), FEATURES.flat());
});

test('a count above 15 is taken as 15', () => {
  const run = (count: number): number[] => {
    const r = new ReferenceReservoir(threeNeurons);
    const features = new Int16Array(2 * 6);
    const state = new Uint8Array(21);
    r.step(Uint8Array.of(1, 2, 0, count), features, 2);
    r.getState(state);
    return [...features, ...state];
  };
  assert.deepEqual(run(15).slice(0, 12), FEATURES.slice(0, 2).flat());
  assert.deepEqual(run(20), run(15));
  assert.deepEqual(run(255), run(15));
  // 14 gives other currents (isyn0 = decay(13 + 280 + 12, 1) = 153, not 163).
  assert.notDeepEqual(run(14), run(15));
});

/**
 * Saturation everywhere: N = 2, I = 1, F = 1, S = 1.
 *   input → n0 with 127, × 128 (weight_shift_in 7); n0 → n1 with 127, n1 → n0 with −128, × 128
 *   threshold 32767, 1; bias 32767, −32768; every dash 15; trace_dash 0, trace_shift 11
 */
const saturating: ReservoirModel = {
  neurons: 2,
  inputs: 1,
  fanout: 1,
  substeps: 1,
  weightShiftIn: 7,
  weightShiftRec: 7,
  traceDash: 0,
  traceShift: 11,
  threshold: Int16Array.of(32767, 1),
  bias: Int16Array.of(32767, -32768),
  dashSyn: Uint8Array.of(15, 15),
  dashMem: Uint8Array.of(15, 15),
  inTarget: Uint16Array.of(0),
  inWeight: Int8Array.of(127),
  recTarget: Uint16Array.of(1, 0),
  recWeight: Int8Array.of(127, -128),
};

test('saturation: the current, the membrane at both ends, spiking at the top of the range', () => {
  /*
   * Sample 0 = [255], taken as 15:
   *  acc0 = 15·127·128 = 243840 → sat16 32767; isyn0 = decay(32767, 15): floor(32767/32768)
   *  = 0, so the step-by-one rule: 32766. v0 = sat16(0 + 32766 + 32767) = 32767 ≥ 32767:
   *  spike, v0 = 0.
   *  n1: isyn1 = 0; v1 = sat16(0 + 0 − 32768) = −32768 < 1.
   *  trace0 = decay(0, 0) + 1·2048 = 2048.
   * Sample 1 = [0], n0 spiked:
   *  acc0 = 32766 → isyn0 = 32765 (the rule again); v0 = sat16(0 + 32765 + 32767) = 32767:
   *  spike, v0 = 0.
   *  acc1 = 0 + 127·128 = 16256 → isyn1 = 16255 (the rule); v1 = decay(−32768, 15) =
   *  −32768 − floor(−1) = −32767, then sat16(−32767 + 16255 − 32768) = −32768 < 1.
   *  trace0 = decay(2048, 0) + 2048 = 2048 (trace_dash 0 forgets everything).
   */
  const r = new ReferenceReservoir(saturating);
  const features = new Int16Array(8);
  assert.equal(r.step(Uint8Array.of(255, 0), features, 2), 2);
  assert.deepEqual(Array.from(features), [1, 0, 2048, 0, 1, 0, 2048, 0]);
  const out = new Uint8Array(14);
  r.getState(out);
  const s = decodeState(out, 2);
  assert.deepEqual(Array.from(s.isyn), [32765, 16255]);
  assert.deepEqual(Array.from(s.vmem), [0, -32768]);
  assert.deepEqual(Array.from(s.trace), [2048, 0]);
  assert.deepEqual(Array.from(s.spiked), [1, 0]);
});

test('the trace saturates: 16 spikes · 2^11 = 32768 → 32767', () => {
  /*
   * N = 2, S = 16, every dash 0 (full decay each sub-step). n0: threshold 1, bias 1: every
   * sub-step v = decay(0, 0) + decay(acc, 0) + 1 = 1 ≥ 1, a spike, v = 0. n1 gets n0's spike
   * (weight 1) but its current decays fully at once, and its bias is 0: never reaches 5.
   * trace0 = sat16(decay(0, 3) + 16·2048) = sat16(32768) = 32767; the next sample:
   * sat16(decay(32767, 3) + 32768) = sat16(28672 + 32768) = 32767.
   */
  const model: ReservoirModel = {
    ...saturating,
    substeps: 16,
    weightShiftIn: 0,
    weightShiftRec: 0,
    traceDash: 3,
    threshold: Int16Array.of(1, 5),
    bias: Int16Array.of(1, 0),
    dashSyn: Uint8Array.of(0, 0),
    dashMem: Uint8Array.of(0, 0),
    inWeight: Int8Array.of(0),
    recWeight: Int8Array.of(1, 1),
  };
  const r = new ReferenceReservoir(model);
  const features = new Int16Array(8);
  assert.equal(r.step(new Uint8Array(32), features, 2), 32);
  assert.deepEqual(Array.from(features), [16, 0, 32767, 0, 16, 0, 32767, 0]);
});

test('getState / setState / reset: canonical bytes, spiked as 0 or 1, wrong lengths refused', () => {
  const r = new ReferenceReservoir(threeNeurons);
  const features = new Int16Array(6);
  r.step(RASTER.subarray(0, 4), new Int16Array(12), 2);
  const after2 = new Uint8Array(21);
  r.getState(after2);
  // State after sample 1 (worked out above): isyn [163, −54, −11], vmem [153, −45, −9],
  // trace [12, 8, 0], spiked [1, 0, 0].
  assert.deepEqual(
    Array.from(after2),
    // prettier-ignore
    [163, 0, 0xca, 0xff, 0xf5, 0xff, 153, 0, 0xd3, 0xff, 0xf7, 0xff, 12, 0, 8, 0, 0, 0, 1, 0, 0],
  );

  // Another reservoir set to that state continues exactly as the first.
  const other = new ReferenceReservoir(threeNeurons);
  const odd = after2.slice();
  odd[18] = 7; // any non-zero spiked byte is 1
  other.setState(odd);
  const back = new Uint8Array(21);
  other.getState(back);
  assert.deepEqual(back, after2);
  other.step(RASTER.subarray(4, 6), features, 1);
  assert.deepEqual(Array.from(features), FEATURES[2]);

  assert.throws(() => other.setState(new Uint8Array(20)), RangeError);
  assert.throws(() => other.setState(new Uint8Array(22)), RangeError);
  assert.throws(() => other.getState(new Uint8Array(7)), RangeError);
  other.getState(back); // a refused setState changed nothing: still the state after sample 2
  const s = decodeState(back, 3);
  assert.deepEqual(Array.from(s.isyn), [41, 75, 13]);
  assert.deepEqual(Array.from(s.vmem), [145, 28, 1]);
  assert.deepEqual(Array.from(s.trace), [22, 12, 8]);
  assert.deepEqual(Array.from(s.spiked), [1, 1, 1]);

  other.reset();
  other.getState(back);
  assert.deepEqual(back, new Uint8Array(21));
  // From reset, the first sample again gives the first features.
  other.step(RASTER.subarray(0, 2), features, 1);
  assert.deepEqual(Array.from(features), FEATURES[0]);
});

test('step refuses buffers that are too short', () => {
  const r = new ReferenceReservoir(threeNeurons);
  assert.throws(() => r.step(new Uint8Array(3), new Int16Array(12), 2), RangeError);
  assert.throws(() => r.step(new Uint8Array(4), new Int16Array(11), 2), RangeError);
  assert.equal(r.step(new Uint8Array(0), new Int16Array(0), 0), 0);
});
