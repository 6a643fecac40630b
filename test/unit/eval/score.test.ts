/** Scoring (agent/eval/score.ts) on tiny series worked out by hand. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MethodForecasts } from '../../../agent/eval/method.js';
import { meanScores, scoreSeries } from '../../../agent/eval/score.js';

const f = (point: number[], upper: number[]): MethodForecasts => ({
  point: Float64Array.from(point),
  upper: Float64Array.from(upper),
});

const close = (actual: number, expected: number, what: string): void =>
  assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: ${actual} ≠ ${expected}`);

const y = Float64Array.from([1, 2, 4, 3]);
const naive = f([NaN, 1, 2, 4], [NaN, NaN, NaN, NaN]);
const method = f([NaN, 2, 2, 2], [NaN, 3, 3, 5]);
const bound = f([NaN, NaN, NaN, NaN], [NaN, NaN, 4, 4]);

test('MASE, coverage and slack by hand', () => {
  const rows = scoreSeries(
    's',
    y,
    [naive],
    new Map([
      ['m', [method]],
      ['b', [bound]],
    ]),
    { horizons: [1], stepsPerDay: 2, warmupDays: 0 },
  );
  const m = rows.find((r) => r.method === 'm')!;
  // Scored: t = 1, 2, 3 (naive has a forecast). Errors |2−2| + |4−2| + |3−2| = 3;
  // naive |2−1| + |4−2| + |3−4| = 4 → MASE 3/4.
  close(m.mase, 0.75, 'mase');
  close(m.mae, 1, 'mae');
  close(m.naive_mae, 4 / 3, 'naive mae');
  // 2 ≤ 3 yes, 4 ≤ 3 no, 3 ≤ 5 yes → 2/3; slack (1 + 0 + 2) / (3 + 3 + 5) = 3/11.
  close(m.coverage, 2 / 3, 'coverage');
  close(m.slack, 3 / 11, 'slack');
  assert.equal(m.n, 3);
  // Bound-only: scored where it has a bound, t = 2, 3: 4 ≤ 4, 3 ≤ 4 → 1; slack (0 + 1) / 8.
  const b = rows.find((r) => r.method === 'b')!;
  assert.ok(Number.isNaN(b.mase));
  assert.equal(b.coverage, 1);
  close(b.slack, 1 / 8, 'bound slack');
  assert.equal(b.n, 2);
});

test('the warm-up days are not scored', () => {
  // 1 day of 2 steps from the first value (t = 0): only t = 2, 3.
  const [m] = scoreSeries('s', y, [naive], new Map([['m', [method]]]), {
    horizons: [1],
    stepsPerDay: 2,
    warmupDays: 1,
  });
  // method |4−2| + |3−2| = 3, naive |4−2| + |3−4| = 3 → 1; coverage 1/2; slack 2/8.
  close(m!.mase, 1, 'mase');
  close(m!.coverage, 0.5, 'coverage');
  close(m!.slack, 0.25, 'slack');
  assert.equal(m!.n, 2);
});

test('the mean over series skips a MASE that is not a number and counts it', () => {
  const flat = Float64Array.from([5, 5, 5, 5]);
  const settings = { horizons: [1], stepsPerDay: 2, warmupDays: 0 };
  const rows = [
    ...scoreSeries('s', y, [naive], new Map([['m', [method]]]), settings),
    // A constant series: naive's error is 0 → MASE NaN.
    ...scoreSeries(
      'flat',
      flat,
      [f([NaN, 5, 5, 5], [NaN, NaN, NaN, NaN])],
      new Map([['m', [f([NaN, 6, 6, 6], [NaN, 6, 6, 6])]]]),
      settings,
    ),
  ];
  assert.ok(Number.isNaN(rows[1]!.mase));
  const [mean] = meanScores(rows, 0.05);
  assert.equal(mean!.series, 'mean');
  close(mean!.mase, 0.75, 'mean mase over the one series with a MASE');
  assert.equal(mean!.mase_excluded, 1);
  assert.equal(mean!.series_count, 2);
  // coverage (2/3 + 1) / 2 = 5/6; slack (3/11 + 3/18) / 2
  close(mean!.coverage, 5 / 6, 'mean coverage');
  close(mean!.slack, (3 / 11 + 3 / 18) / 2, 'mean slack');
  assert.equal(mean!.n, 6);
  assert.equal(mean!.coverage_ok, false); // 0.833 < 0.95 − 0.01
  assert.equal(meanScores(rows, 0.2).at(0)!.coverage_ok, true); // 0.833 ≥ 0.8 − 0.01
});
