/**
 * The baselines (agent/eval/baselines.ts) against values worked out by hand, and the
 * no-look-ahead property: a forecast made at origin t never depends on values after t.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BASELINES,
  DecayingHistogram,
  Rls,
  arRlsMethod,
  ewmaMethod,
  naiveMethod,
  peak24hMethod,
  seasonalNaiveMethod,
  vpaMethod,
} from '../../../agent/eval/baselines.js';
import type { EvalSettings, SeriesInput } from '../../../agent/eval/method.js';
import { Xoshiro128 } from '../../../agent/model/prng.js';

function series(values: number[], step = 300): SeriesInput {
  return { name: 'test', step, t0: 0, values: Float64Array.from(values), covariates: [] };
}

function settings(horizons: number[], stepsPerDay = 4): EvalSettings {
  return { horizons, alpha: 0.05, stepsPerDay };
}

const close = (actual: number, expected: number, what: string): void =>
  assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: ${actual} ≠ ${expected}`);

test('naive: y[t]; the conformal bound starts after the first residual', async () => {
  const [f] = await naiveMethod().run(series([NaN, 1, 3, 2, 5]), settings([1]));
  // Forecasts start at the first observation (t = 1): point[t + 1] = y[t].
  assert.deepEqual([...f!.point], [NaN, NaN, 1, 3, 2]);
  // t = 1: no residual yet → upper[2] NaN.
  // t = 2: y = 3, residual |3 − 1| = 2 (no bound was issued: a stays 0.05);
  //        upper[3] = 3 + s_(⌈0.95 · 1⌉) = 3 + 2 = 5.
  // t = 3: y = 2, residual |2 − 3| = 1, 2 ≤ 5 covered: a = 0.05 + 0.005 · 0.05 = 0.05025;
  //        scores {1, 2}, k = ⌈0.94975 · 2⌉ = 2 → 2; upper[4] = 2 + 2 = 4.
  assert.deepEqual([...f!.upper], [NaN, NaN, NaN, 5, 4]);
});

test('seasonal_naive: whole days back from the target (D = 4)', async () => {
  const y = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19];
  const [h1, h4, h5] = await seasonalNaiveMethod().run(series(y), settings([1, 4, 5]));
  // h = 1: k = 1, y[t + 1 − 4] = y[t − 3]: first at t = 3 → point[4] = y[0] = 10 … point[9] = y[5].
  assert.deepEqual([...h1!.point], [NaN, NaN, NaN, NaN, 10, 11, 12, 13, 14, 15]);
  // h = 4: k = 1, y[t + 4 − 4] = y[t]: point[t + 4] = y[t] from t = 0.
  assert.deepEqual([...h4!.point], [NaN, NaN, NaN, NaN, 10, 11, 12, 13, 14, 15]);
  // h = 5: k = ⌈5/4⌉ = 2, y[t + 5 − 8] = y[t − 3]: first at t = 3 → point[8] = y[0].
  assert.deepEqual([...h5!.point], [NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN, 10, 11]);
});

test('ewma: s = 0.3 y + 0.7 s, started at the first value', async () => {
  const [h1, h2] = await ewmaMethod().run(series([NaN, 10, 20, 0, 5]), settings([1, 2]));
  // s1 = 10; s2 = 0.3·20 + 0.7·10 = 13; s3 = 0.3·0 + 0.7·13 = 9.1
  assert.deepEqual([...h1!.point].slice(0, 4), [NaN, NaN, 10, 13]);
  close(h1!.point[4]!, 9.1, 'h1 point[4]');
  assert.deepEqual([...h2!.point], [NaN, NaN, NaN, 10, 13]);
});

test('Rls: two observations of y = w·x by hand (λ = 1, P₀ = 100)', () => {
  const r = new Rls(1, 1, 100);
  const x = Float64Array.of(1);
  r.update(x, 2);
  // Px = 100, k = 100 / (1 + 100), w = 0 + k · 2 = 200/101, P = 100 − k · 100 = 100/101
  close(r.w[0]!, 200 / 101, 'w after 1');
  close(r.p[0]!, 100 / 101, 'P after 1');
  r.update(x, 4);
  // With λ = 1 this is ridge regression with penalty 1/P₀: w = Σxy / (Σx² + 0.01) = 6 / 2.01
  close(r.w[0]!, 6 / 2.01, 'w after 2');
  // Forgetting λ = 0.5, one step: k = 100 / 100.5, P = (100 − k·100) / 0.5
  const f = new Rls(1, 0.5, 100);
  f.update(x, 1);
  close(f.p[0]!, (100 - (100 * 100) / 100.5) / 0.5, 'P with forgetting');
});

test('Rls: the covariance is reset when its trace passes 10⁴ × size', () => {
  // A constant input leaves the other direction unexcited: P grows there by 1/λ each step.
  const r = new Rls(2, 0.5, 100, 1e4);
  const x = Float64Array.of(1, 0);
  // P₂₂ = 100 · 2^t passes 2 · 10⁴ after 8 steps (25600): reset to 100.
  for (let t = 0; t < 7; t++) r.update(x, 1);
  assert.equal(r.resets, 0);
  close(r.p[3]!, 100 * 2 ** 7, 'P22 before the reset');
  r.update(x, 1);
  assert.equal(r.resets, 1);
  assert.equal(r.p[3], 100);
});

test('ar_rls: first forecasts by hand (z-scores, floor, clip, bias)', async () => {
  const [f] = await arRlsMethod().run(series([NaN, 2, 4, 9]), settings([1]));
  // t = 1: mean 2, std max(0, 10⁻³ · 2, 10⁻⁹) = 0.002; w = 0 → point[2] = mean = 2.
  // t = 2: the pair from t = 1: x = (z(2) = 0, no other lags, no day-before value, bias 1),
  //   target z = (4 − 2) / 0.002 = 1000 → clipped to 10. Only the bias is excited:
  //   k = 100 / (0.999 + 100), w_bias = 10 k = 1000 / 100.999.
  //   Then mean 3, std √((1 + 1) / 2) = 1; the forecast z = w_bias · 1 (the lags' weights are 0)
  //   → point[3] = 3 + 1000 / 100.999 = 12.90108813…
  close(f!.point[2]!, 2, 'point[2]');
  close(f!.point[3]!, 3 + 1000 / 100.999, 'point[3]');
});

test('ar_rls learns a daily pattern that naive cannot', async () => {
  const D = 24;
  const y = Array.from({ length: 40 * D }, (_, t) => 10 + 5 * Math.sin((2 * Math.PI * t) / D));
  const [f] = await arRlsMethod().run(series(y), settings([6], D));
  let err = 0;
  let naiveErr = 0;
  for (let t = 30 * D; t < y.length; t++) {
    err += Math.abs(y[t]! - f!.point[t]!);
    naiveErr += Math.abs(y[t]! - y[t - 6]!);
  }
  assert.ok(err < 0.05 * naiveErr, `MASE ${err / naiveErr}`);
});

test('DecayingHistogram: buckets 5 % apart from f, as VPA computes them', () => {
  const h = new DecayingHistogram(1);
  // bucket i starts at (1.05^i − 1) / 0.05: bucket 1 at 1, bucket 2 at 2.05
  assert.equal(h.bucketStart(0), 0);
  close(h.bucketStart(1), 1, 'start 1');
  close(h.bucketStart(2), 2.05, 'start 2');
  assert.equal(h.findBucket(0.99), 0);
  assert.equal(h.findBucket(1.5), 1);
  assert.equal(h.findBucket(2.1), 2);
  // 100: ⌊ln(100 · 0.05 + 1) / ln 1.05⌋ = ⌊1.791759 / 0.048790⌋ = ⌊36.72⌋ = 36
  assert.equal(h.findBucket(100), 36);
  assert.ok(h.isEmpty());
  assert.equal(h.percentile(0.9), 0);
});

test('vpa: p90 of the decaying histogram, +15 %', async () => {
  // step 43200 s: each sample weighs 2^(t/2) (24 h half-life). Nine 100s, then one 200.
  // f = 0.01 · 100 = 1; bucket(100) = 36, bucket(200) = ⌊ln 11 / ln 1.05⌋ = ⌊49.15⌋ = 49.
  // Weights: the 100s Σ 2^(i/2), i = 0…8 = 52.213, the 200 2^4.5 = 22.627; total 74.841,
  // p90 threshold 67.357 > 52.213 → bucket 49, whose end is (1.05^50 − 1) / 0.05 = 209.348;
  // × 1.15 = 240.750. (With equal weights 9/10 of the weight would be ≤ 100 → 116.872.)
  const y = [100, 100, 100, 100, 100, 100, 100, 100, 100, 200, 0];
  const [h1, h3] = await vpaMethod().run(series(y, 43_200), settings([1, 3], 2));
  close(h1!.upper[10]!, 240.7501950723351, 'upper[10]');
  // After the first 100 alone: bucket 36's end, (1.05^37 − 1) / 0.05 · 1.15 = 116.872
  close(h1!.upper[1]!, 116.87235968372065, 'upper[1]');
  // The same bound at every horizon; no point forecast.
  assert.equal(h3!.upper[3], h1!.upper[1]);
  assert.ok(h1!.point.every(Number.isNaN));
  // Before any positive value: 0.
  const [z] = await vpaMethod().run(series([0, 0, 5, 5]), settings([1]));
  assert.deepEqual([...z!.upper].slice(0, 3), [NaN, 0, 0]);
});

test('peak_24h: the maximum of the last day (D = 3)', async () => {
  const [f] = await peak24hMethod().run(series([NaN, 1, 5, 2, 3, 1, 0]), settings([1], 3));
  // t = 1: max{1} = 1; t = 2: max{1, 5}; t = 3: max{1, 5, 2}; t = 4: max{5, 2, 3};
  // t = 5: max{2, 3, 1} = 3 (5 has left the window)
  assert.deepEqual([...f!.upper], [NaN, NaN, 1, 5, 5, 5, 3]);
  assert.ok(f!.point.every(Number.isNaN));
});

test('no look-ahead: corrupting values from k on changes no forecast made before k', async () => {
  const rng = new Xoshiro128(42);
  const n = 1500;
  const k = 900;
  const D = 48;
  const horizons = [1, 7, 48, 60];
  const base = Array.from({ length: n }, (_, t) =>
    t < 5 ? NaN : 20 + 10 * Math.sin((2 * Math.PI * t) / D) + 5 * rng.nextFloat(),
  );
  const corrupt = base.map((v, t) => (t >= k ? 1000 * rng.nextFloat() - 300 : v));
  for (const [name, make] of Object.entries(BASELINES)) {
    const a = await make().run(series(base), settings(horizons, D));
    const b = await make().run(series(corrupt), settings(horizons, D));
    horizons.forEach((h, i) => {
      // A forecast with origin t < k sits at index t + h < k + h.
      for (let t = 0; t < k + h; t++) {
        assert.ok(Object.is(a[i]!.point[t], b[i]!.point[t]), `${name} h=${h} point[${t}]`);
        assert.ok(Object.is(a[i]!.upper[t], b[i]!.upper[t]), `${name} h=${h} upper[${t}]`);
      }
      // And the corruption does show up later (the test would be empty otherwise).
      let differs = false;
      for (let t = k + h; t < n; t++)
        if (!Object.is(a[i]!.upper[t], b[i]!.upper[t])) differs = true;
      assert.ok(differs, `${name} h=${h}: the corrupted future changed nothing`);
    });
  }
});
