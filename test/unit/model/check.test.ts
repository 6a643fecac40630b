/** checkModel: every rule of SPEC.md, "Model parameters", each with a message naming it. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ModelError, checkModel } from '../../../agent/model/check.js';
import type { ReservoirModel } from '../../../agent/model/types.js';

/** A valid model: 5 neurons, 2 inputs, fan-out 3. */
function valid(): ReservoirModel {
  return {
    neurons: 5,
    inputs: 2,
    fanout: 3,
    substeps: 4,
    weightShiftIn: 1,
    weightShiftRec: 0,
    traceDash: 4,
    traceShift: 8,
    threshold: Int16Array.of(1, 100, 1000, 10000, 32767),
    bias: Int16Array.of(-32768, -1, 0, 1, 32767),
    dashSyn: Uint8Array.of(0, 1, 2, 3, 15),
    dashMem: Uint8Array.of(15, 3, 2, 1, 0),
    inTarget: Uint16Array.of(0, 1, 2, 4, 3, 2),
    inWeight: Int8Array.of(-128, 0, 127, 1, 2, 3),
    // Rows may include their own source.
    recTarget: Uint16Array.of(0, 1, 2, 1, 2, 3, 2, 3, 4, 3, 4, 0, 4, 0, 1),
    recWeight: Int8Array.of(1, -1, 2, -2, 3, -3, 4, -4, 5, -5, 6, -6, 7, -7, 8),
  };
}

function rejects(change: Partial<Record<keyof ReservoirModel, unknown>>, message: string): void {
  const model = { ...valid(), ...change } as unknown as ReservoirModel;
  assert.throws(
    () => checkModel(model),
    (err: unknown) => {
      assert.ok(err instanceof ModelError, String(err));
      assert.equal(err.code, 'EMODEL');
      assert.equal(err.message, message);
      return true;
    },
  );
}

test('a valid model passes, including the extremes of every range', () => {
  checkModel(valid());
  // F = N: each row holds every neuron once.
  checkModel({
    ...valid(),
    fanout: 5,
    inTarget: Uint16Array.of(4, 3, 2, 1, 0, 0, 1, 2, 3, 4),
    inWeight: new Int8Array(10),
    recTarget: Uint16Array.from({ length: 25 }, (_, i) => i % 5),
    recWeight: new Int8Array(25),
  });
});

test('scalars: integers within their ranges', () => {
  rejects({ neurons: 1 }, 'neurons: 1 is out of range 2…8192');
  rejects({ neurons: 8193 }, 'neurons: 8193 is out of range 2…8192');
  rejects({ neurons: 5.5 }, 'neurons: 5.5 is not an integer');
  rejects({ inputs: 0 }, 'inputs: 0 is out of range 1…256');
  rejects({ inputs: 257 }, 'inputs: 257 is out of range 1…256');
  rejects({ fanout: 0 }, 'fanout: 0 is below the minimum 1');
  rejects({ fanout: 600 }, 'fanout: 600 is above the limit 512 (and must be ≤ neurons)');
  rejects({ fanout: 6 }, 'fanout: 6 is above neurons (5): a row cannot have more distinct targets');
  rejects({ substeps: 0 }, 'substeps: 0 is out of range 1…16');
  rejects({ substeps: 17 }, 'substeps: 17 is out of range 1…16');
  rejects({ weightShiftIn: 8 }, 'weightShiftIn: 8 is out of range 0…7');
  rejects({ weightShiftRec: -1 }, 'weightShiftRec: -1 is out of range 0…7');
  rejects({ traceDash: 16 }, 'traceDash: 16 is out of range 0…15');
  rejects({ traceShift: 12 }, 'traceShift: 12 is out of range 0…11');
  rejects({ traceShift: '3' }, 'traceShift: "3" is not an integer');
});

test('arrays: the right type and length', () => {
  rejects({ threshold: new Int16Array(4) }, 'threshold: length 4, expected 5 (neurons)');
  rejects({ bias: new Int32Array(5) }, 'bias: expected type Int16Array');
  rejects({ dashSyn: [1, 1, 1, 1, 1] }, 'dashSyn: expected type Uint8Array');
  rejects({ inTarget: new Uint16Array(5) }, 'inTarget: length 5, expected 6 (inputs × fanout)');
  rejects({ inWeight: new Uint8Array(6) }, 'inWeight: expected type Int8Array');
  rejects(
    { recTarget: new Uint16Array(16) },
    'recTarget: length 16, expected 15 (neurons × fanout)',
  );
  rejects({ recWeight: new Int8Array(14) }, 'recWeight: length 14, expected 15 (neurons × fanout)');
});

test('elements: the field, the index, the value and the range', () => {
  const m = valid();
  const threshold = m.threshold.slice();
  threshold[2] = 0;
  rejects({ threshold }, 'threshold[2]: 0 is out of range 1…32767');
  threshold[2] = -5;
  rejects({ threshold }, 'threshold[2]: -5 is out of range 1…32767');
  const dashSyn = m.dashSyn.slice();
  dashSyn[4] = 16;
  rejects({ dashSyn }, 'dashSyn[4]: 16 is out of range 0…15');
  const dashMem = m.dashMem.slice();
  dashMem[0] = 255;
  rejects({ dashMem }, 'dashMem[0]: 255 is out of range 0…15');
  const inTarget = m.inTarget.slice();
  inTarget[3] = 5;
  rejects({ inTarget }, 'inTarget[3]: 5 is out of range 0…4');
  const recTarget = m.recTarget.slice();
  recTarget[14] = 600;
  rejects({ recTarget }, 'recTarget[14]: 600 is out of range 0…4');
});

test('targets: distinct within each row, for inputs and neurons', () => {
  const m = valid();
  const inTarget = m.inTarget.slice();
  inTarget[5] = 4; // row 1 is now 4, 3, 4
  rejects({ inTarget }, 'inTarget row 1: target 4 appears twice');
  const recTarget = m.recTarget.slice();
  recTarget[7] = 2; // row 2 is now 2, 2, 4
  rejects({ recTarget }, 'recTarget row 2: target 2 appears twice');
  // The same target in different rows is fine (that is what every model does).
  checkModel({ ...m, inTarget: Uint16Array.of(0, 1, 2, 0, 1, 2) });
});

test('the first broken rule is the one reported, scalars before arrays', () => {
  rejects({ neurons: 1, threshold: new Int16Array(0) }, 'neurons: 1 is out of range 2…8192');
  const err = (() => {
    try {
      checkModel({ ...valid(), dashSyn: Uint8Array.of(0, 0, 0, 0, 99) });
    } catch (e) {
      return e as ModelError;
    }
    return undefined;
  })();
  assert.equal(err?.field, 'dashSyn');
});
