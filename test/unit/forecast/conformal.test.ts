/** Adaptive conformal inference (agent/forecast/conformal.ts): the quantile, a's walk, state. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AdaptiveConformal } from '../../../agent/forecast/conformal.js';
import { Xoshiro128 } from '../../../agent/model/prng.js';

/** Standard normal draws (Box-Muller) from a seeded xoshiro128**. */
function gaussian(seed: number): () => number {
  const rng = new Xoshiro128(seed);
  return () => {
    const u = (rng.nextU32() + 1) / 4294967297; // (0, 1)
    const v = rng.nextFloat();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}

test('no scores: NaN, the caller knows it is uncalibrated', () => {
  const c = new AdaptiveConformal();
  assert.ok(Number.isNaN(c.quantile()));
  assert.equal(c.size, 0);
  assert.equal(c.level, 0.05);
});

test('the (1 − a) quantile is s_(⌈(1 − a) n⌉)', () => {
  const c = new AdaptiveConformal({ alpha: 0.25, gamma: 0 });
  for (const s of [4, 1, 3, 2]) c.update(s, false);
  // sorted 1 2 3 4, a = 0.25: k = ⌈0.75 · 4⌉ = 3 → 3
  assert.equal(c.quantile(), 3);
  const d = new AdaptiveConformal({ alpha: 0.3, gamma: 0 });
  for (const s of [4, 1, 3, 2]) d.update(s, false);
  // a = 0.3: k = ⌈0.7 · 4⌉ = ⌈2.8⌉ = 3 → 3
  assert.equal(d.quantile(), 3);
  const e = new AdaptiveConformal({ alpha: 0.5, gamma: 0 });
  for (const s of [4, 1, 3, 2]) e.update(s, false);
  // a = 0.5: k = ⌈0.5 · 4⌉ = 2 → 2
  assert.equal(e.quantile(), 2);
});

test('a moves by γ(α − miss); a ≤ 0 gives the largest score, a ≥ 1 gives 0', () => {
  const c = new AdaptiveConformal({ alpha: 0.1, gamma: 0.05 });
  c.update(7, true); // a = 0.1 + 0.05 · (0.1 − 1) = 0.055
  assert.ok(Math.abs(c.level - 0.055) < 1e-15);
  c.update(5, true); // 0.055 − 0.045 = 0.01
  c.update(6, true); // 0.01 − 0.045 = −0.035
  assert.ok(c.level < 0);
  assert.equal(c.quantile(), 7);
  c.update(1, null); // no bound was issued: stored, a unchanged
  assert.ok(Math.abs(c.level - -0.035) < 1e-15);
  assert.equal(c.size, 4);

  const up = new AdaptiveConformal({ alpha: 0.5, gamma: 0.9 });
  up.update(3, false); // a = 0.5 + 0.9 · 0.5 = 0.95
  up.update(3, false); // 1.4
  assert.ok(up.level >= 1);
  assert.equal(up.quantile(), 0);
});

test('the window drops the oldest scores', () => {
  const c = new AdaptiveConformal({ alpha: 0.01, gamma: 0, window: 3 });
  for (const s of [5, 1, 3]) c.update(s, false);
  assert.equal(c.quantile(), 5); // ⌈0.99 · 3⌉ = 3: the largest
  c.update(2, false); // 5 leaves: {1, 3, 2}
  assert.equal(c.quantile(), 3);
  c.update(0, false); // 1 leaves: {3, 2, 0}
  c.update(0, false); // 3 leaves: {2, 0, 0}
  assert.equal(c.quantile(), 2);
  assert.deepEqual(c.getState().scores, [2, 0, 0]);
});

test('the sorted window matches a brute-force sort (duplicates, ties, long runs)', () => {
  const rng = new Xoshiro128(11);
  const window = 37;
  const c = new AdaptiveConformal({ alpha: 0.1, gamma: 0.01, window });
  const recent: number[] = [];
  let a = 0.1;
  for (let i = 0; i < 5000; i++) {
    const s = rng.nextInt(i % 500 < 250 ? 8 : 1000); // many duplicates, then few
    const miss = rng.nextFloat() < 0.1;
    c.update(s, miss);
    a += 0.01 * (0.1 - (miss ? 1 : 0));
    recent.push(s);
    if (recent.length > window) recent.shift();
    const sorted = [...recent].sort((x, y) => x - y);
    const n = sorted.length;
    const expected =
      a >= 1
        ? 0
        : a <= 0
          ? sorted[n - 1]
          : sorted[Math.min(n, Math.max(1, Math.ceil((1 - a) * n))) - 1];
    assert.equal(c.quantile(), expected, `step ${i}`);
  }
});

test('getState / setState round-trip through JSON', () => {
  const g = gaussian(3);
  const c = new AdaptiveConformal({ window: 50 });
  for (let i = 0; i < 120; i++) c.update(Math.abs(g()), i % 7 === 0);
  const saved = JSON.parse(JSON.stringify(c.getState())) as ReturnType<typeof c.getState>;
  assert.equal(saved.scores.length, 50);
  const d = new AdaptiveConformal({ window: 50 });
  d.setState(saved);
  assert.equal(d.quantile(), c.quantile());
  assert.equal(d.level, c.level);
  for (let i = 0; i < 60; i++) {
    const s = Math.abs(g());
    c.update(s, false);
    d.update(s, false);
    assert.equal(d.quantile(), c.quantile());
  }
  // A state with more scores than the window keeps the newest.
  const small = new AdaptiveConformal({ window: 2 });
  small.setState({ a: 0.2, scores: [9, 1, 2] });
  assert.deepEqual(small.getState(), { a: 0.2, scores: [1, 2] });
  assert.throws(() => small.setState({ a: NaN, scores: [] }), /state\.a/);
  assert.throws(() => new AdaptiveConformal({ alpha: 1 }), /alpha/);
  assert.throws(() => new AdaptiveConformal({ window: 0 }), /window/);
});

/** Bounds for y = level + noise, with point = level: the empirical coverage. */
function coverage(sigma: (t: number) => number, steps: number, seed: number): number {
  const g = gaussian(seed);
  const c = new AdaptiveConformal(); // α 0.05, γ 0.005, window 2016
  let covered = 0;
  let scored = 0;
  const level = 50;
  for (let t = 0; t < steps; t++) {
    const y = level + sigma(t) * g();
    const q = c.quantile();
    const upper = level + q;
    if (!Number.isNaN(q)) {
      scored++;
      if (y <= upper) covered++;
    }
    c.update(Math.abs(y - level), Number.isNaN(q) ? null : y > upper);
  }
  return covered / scored;
}

test('calibration: on stationary Gaussian noise the coverage converges to 1 − α', () => {
  for (const seed of [1, 2, 3]) {
    const cov = coverage(() => 2, 20_000, seed);
    assert.ok(Math.abs(cov - 0.95) < 0.005, `seed ${seed}: coverage ${cov}`);
  }
});

test('calibration under a shift: the noise triples half-way and coverage still holds', () => {
  // Gibbs & Candès, Prop. 4.1: |miss rate − α| ≤ (max(a₁, 1 − a₁) + γ) / (γ T) ≈ 0.0096 for T = 20000.
  const cov = coverage((t) => (t < 10_000 ? 1 : 3), 20_000, 5);
  assert.ok(Math.abs(cov - 0.95) < 0.0096, `coverage ${cov}`);
});

test('fast enough for the evaluator: a million updates of a full 2016 window', () => {
  const g = gaussian(9);
  const c = new AdaptiveConformal();
  const t0 = performance.now();
  let sink = 0;
  for (let i = 0; i < 1_000_000; i++) {
    c.update(Math.abs(g()), i % 20 === 0);
    sink += c.quantile();
  }
  const ms = performance.now() - t0;
  assert.ok(sink > 0);
  // About 0.3 s here; generous so a loaded machine does not fail it.
  assert.ok(ms < 5000, `${ms.toFixed(0)} ms`);
});
