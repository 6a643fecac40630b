/**
 * decay() and sat16() against values worked out by hand from SPEC.md, "Arithmetic helpers":
 * decay(x, d) = x − floor(x / 2^d), and if that leaves a non-zero x unchanged, one step toward 0.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decay, sat16 } from '../../../agent/model/reservoir.js';

/** Expected decay(x, d) for d = 0 … 15, worked out by hand. */
const TABLE: Record<number, number[]> = {
  0: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
  // 1 < 2^d for every d ≥ 1: the step-by-one rule takes it to 0.
  1: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
  // d = 1: 2 − 1; d ≥ 2: floor(2/2^d) = 0, so the rule gives 1.
  2: [0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
  // d = 1: 3 − 1; d ≥ 2: the rule, 2.
  3: [0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2],
  // d = 1: 5 − 2; d = 2: 5 − 1; d ≥ 3: the rule, 4.
  5: [0, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4],
  // 100 − 50, − 25, − 12, − 6, − 3, − 1; d ≥ 7: the rule, 99.
  100: [0, 50, 75, 88, 94, 97, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99],
  // Negative x: floor(x / 2^d) ≤ −1 for every d, so x always moves and the rule never applies.
  // −1 − floor(−1/2^d) = −1 + 1 = 0.
  [-1]: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
  // d = 1: −2 + 1; d ≥ 2: floor(−2/4) = −1, so −1.
  [-2]: [0, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1],
  // d = 1: floor(−1.5) = −2, −3 + 2 = −1; d ≥ 2: floor(−0.75) = −1, −2.
  [-3]: [0, -1, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2],
  // d = 1: floor(−2.5) = −3 → −2; d = 2: floor(−1.25) = −2 → −3; d ≥ 3: −1 → −4.
  [-5]: [0, -2, -3, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4],
  // floor(−100/2^d) = −50, −25, −13, −7, −4, −2, −1, ...: not the mirror image of +100 (88 vs −87).
  [-100]: [0, -50, -75, -87, -93, -96, -98, -99, -99, -99, -99, -99, -99, -99, -99, -99],
  // 32767 − floor(32767/2^d) = 32767 − (2^(15−d) − 1); d = 15: floor is 0, so the rule: 32766.
  32767: [
    0, 16384, 24576, 28672, 30720, 31744, 32256, 32512, 32640, 32704, 32736, 32752, 32760, 32764,
    32766, 32766,
  ],
  // −32768 − floor(−32768/2^d) = −32768 + 2^(15−d) exactly.
  [-32768]: [
    0, -16384, -24576, -28672, -30720, -31744, -32256, -32512, -32640, -32704, -32736, -32752,
    -32760, -32764, -32766, -32767,
  ],
};

test('decay(x, d) for every d on small positives, negatives and the int16 extremes', () => {
  for (const [key, expected] of Object.entries(TABLE)) {
    const x = Number(key);
    for (let d = 0; d <= 15; d++)
      assert.equal(decay(x, d), expected[d], `decay(${x}, ${d}) should be ${expected[d]}`);
  }
});

test('the step-by-one rule applies exactly when 0 < x < 2^d', () => {
  assert.equal(decay(15, 4), 14); // floor(15/16) = 0: unchanged, so one step down
  assert.equal(decay(16, 4), 15); // floor(16/16) = 1: the plain rule
  assert.equal(decay(31, 4), 30); // 31 − 1
  assert.equal(decay(32, 4), 30); // 32 − 2
  assert.equal(decay(-15, 4), -14); // −15 − floor(−0.9375) = −15 + 1: by floor, not by the rule
  assert.equal(decay(-16, 4), -15);
  assert.equal(decay(-17, 4), -15); // floor(−1.0625) = −2
  // A positive value always reaches 0, one step at a time under a slow decay.
  const seen: number[] = [];
  for (let v = 5; v !== 0; v = decay(v, 15)) seen.push(v);
  assert.deepEqual(seen, [5, 4, 3, 2, 1]);
});

test('decay stays between 0 and x, so it never needs saturation', () => {
  for (let x = -32768; x <= 32767; x += 257)
    for (let d = 0; d <= 15; d++) {
      const y = decay(x, d);
      assert.ok(x >= 0 ? y >= 0 && y <= x : y <= 0 && y >= x, `decay(${x}, ${d}) = ${y}`);
    }
});

test('sat16 clamps to −32768 … 32767 and leaves the range alone', () => {
  assert.equal(sat16(0), 0);
  assert.equal(sat16(12345), 12345);
  assert.equal(sat16(-12345), -12345);
  assert.equal(sat16(32767), 32767);
  assert.equal(sat16(-32768), -32768);
  assert.equal(sat16(32768), 32767);
  assert.equal(sat16(-32769), -32768);
  // The largest accumulator of SPEC.md, "Ranges", both signs.
  assert.equal(sat16(197_165_056), 32767);
  assert.equal(sat16(-197_165_056), -32768);
});
