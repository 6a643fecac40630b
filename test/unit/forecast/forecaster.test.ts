/**
 * The forecaster (agent/forecast/) on the real native addon: no look-ahead, state that survives
 * a restart, calibration, and the pieces it is made of (readout, normaliser, encoder).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createBackend, type Backend } from '../../../agent/backends/index.js';
import {
  Forecaster,
  OnlineRidge,
  RobustNormalizer,
  SigmaDeltaEncoder,
  StateError,
  decodeForecasterState,
  encodeForecasterState,
  planEncoder,
  type ForecasterOptions,
} from '../../../agent/forecast/index.js';
import { Xoshiro128, readBundle } from '../../../agent/model/index.js';
import { defaultModelBundle } from '../../../agent/config/resolve.js';

const bundle = readBundle(defaultModelBundle);
/** 30-minute steps: a day is 48 steps, so seasonal features are exercised on short series. */
const STEP = 1800;
const HORIZONS = [1, 4, 48];

function gaussian(seed: number): () => number {
  const rng = new Xoshiro128(seed);
  return () => {
    const u = (rng.nextU32() + 1) / 4294967297;
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.nextFloat());
  };
}

/** A daily cycle, a weekly bump, noise and an occasional spike: what host metrics look like. */
function series(length: number, seed = 1): Float64Array {
  const g = gaussian(seed);
  return Float64Array.from({ length }, (_, t) => {
    const day = Math.sin((2 * Math.PI * t) / 48);
    const spike = t % 97 === 13 ? 8 : 0;
    return Math.max(0, 10 + 3 * day + (t % 336 < 48 ? 2 : 0) + g() + spike);
  });
}

async function opened(): Promise<Backend> {
  const backend = createBackend('native');
  await backend.load(bundle);
  return backend;
}

function options(backend: Backend, extra: Partial<ForecasterOptions> = {}): ForecasterOptions {
  return {
    bundle,
    backend,
    targets: ['cpu'],
    covariates: ['campaign'],
    horizons: HORIZONS,
    step: STEP,
    ...extra,
  };
}

/** Runs values[from … to) and returns each step's forecasts as [point, upper] per horizon. */
async function replay(
  f: Forecaster,
  values: Float64Array,
  from: number,
  to: number,
): Promise<number[][][]> {
  const out: number[][][] = [];
  for (let t = from; t < to; t++) {
    const cov = [t % 200 < 20 ? 1 : 0];
    const [r] = await f.observe(1_700_000_000 + t * STEP, [values[t]!], cov);
    out.push((r ?? []).map((x) => [x.point, x.upper]));
  }
  return out;
}

test('no look-ahead: corrupting the future changes no forecast made before it', async () => {
  const clean = series(600);
  const dirty = Float64Array.from(clean);
  const k = 400;
  for (let t = k; t < dirty.length; t++) dirty[t] = 1000 - dirty[t]!;
  const a = await opened();
  const b = await opened();
  try {
    const fa = await replay(new Forecaster(options(a)), clean, 0, clean.length);
    const fb = await replay(new Forecaster(options(b)), dirty, 0, dirty.length);
    // Forecasts made at origins 0 … k−1 are the same, bit for bit; from k on they may differ.
    assert.deepEqual(fb.slice(0, k), fa.slice(0, k));
    assert.notDeepEqual(fb.slice(k), fa.slice(k));
  } finally {
    await a.close();
    await b.close();
  }
});

test('state saved and restored gives the same next forecasts as an uninterrupted run', async () => {
  const values = series(700, 7);
  const whole = await opened();
  const first = await opened();
  const second = await opened();
  try {
    const expected = await replay(new Forecaster(options(whole)), values, 0, values.length);
    const before = new Forecaster(options(first));
    await replay(before, values, 0, 450);
    const text = encodeForecasterState(before.getState(await first.getState()));
    // A new process: a new backend, a new forecaster, the state from text.
    const after = new Forecaster(options(second));
    await second.setState(after.setState(decodeForecasterState(text, 'state.json')));
    const resumed = await replay(after, values, 450, values.length);
    assert.deepEqual(resumed, expected.slice(450));
  } finally {
    await whole.close();
    await first.close();
    await second.close();
  }
});

test('a state that does not fit is refused with the reason', async () => {
  const backend = await opened();
  try {
    const f = new Forecaster(options(backend));
    await replay(f, series(60), 0, 60);
    const state = f.getState(await backend.getState());
    const other = new Forecaster(options(backend, { horizons: [1, 2] }));
    assert.throws(() => other.setState(state), /other horizons/);
    assert.throws(
      () => other.setState({ ...state, bundle: '0'.repeat(64) }),
      /saved for model 000000000000…/,
    );
    assert.throws(() => decodeForecasterState('{"format": "x"}', 'f.json'), StateError);
    assert.throws(() => decodeForecasterState('{', 'f.json'), /f\.json: not a forecaster state/);
  } finally {
    await backend.close();
  }
});

test('calibration: on a stationary series the bounds cover about 95 % of values', async () => {
  const g = gaussian(3);
  const values = Float64Array.from({ length: 4000 }, () => 50 + 5 * g());
  const backend = await opened();
  try {
    const f = new Forecaster(options(backend, { covariates: [], horizons: [1, 4] }));
    const covered = [0, 0];
    let scored = 0;
    const pending: number[][] = [];
    for (let t = 0; t < values.length; t++) {
      const [r] = await f.observe(t * STEP, [values[t]!]);
      pending.push(r!.map((x) => x.upper));
      if (t < 1500) continue; // scored after a warm-up, as the evaluator does
      scored++;
      [1, 4].forEach((h, k) => {
        if (values[t]! <= pending[t - h]![k]!) covered[k]!++;
      });
    }
    for (const c of covered)
      assert.ok(Math.abs(c / scored - 0.95) < 0.015, `coverage ${c / scored}`);
  } finally {
    await backend.close();
  }
});

test('warm-up: each horizon says how many scored forecasts it still needs', async () => {
  const backend = await opened();
  try {
    const f = new Forecaster(options(backend, { warmupSteps: 10 }));
    const [first] = await f.observe(0, [5], [0]);
    assert.deepEqual(
      first!.map((x) => x.warmupLeft),
      [10, 10, 10],
    );
    for (let t = 1; t <= 12; t++) await f.observe(t * STEP, [5 + (t % 3)], [0]);
    const [later] = await f.observe(13 * STEP, [5], [0]);
    // h = 1 has scored 13 forecasts, h = 4 ten, h = 48 none.
    assert.deepEqual(
      later!.map((x) => x.warmupLeft),
      [0, 0, 10],
    );
  } finally {
    await backend.close();
  }
});

test('readout: learns a linear map, and starts over (counted) when it diverges', () => {
  const g = gaussian(5);
  const r = new OnlineRidge(3, { solveEvery: 1, ridge: 1e-6 });
  const x = new Float64Array(3);
  for (let i = 0; i < 500; i++) {
    x[0] = 1;
    x[1] = g();
    x[2] = g();
    r.update(x, 2 + 3 * x[1] - x[2]);
  }
  x[1] = 0.5;
  x[2] = -1;
  assert.ok(Math.abs(r.predict(x) - (2 + 1.5 + 1)) < 1e-6);
  assert.equal(r.resets, 0);
  x[1] = 1e9; // a prediction beyond the limit means the weights cannot be trusted
  assert.equal(r.predict(x), 0);
  assert.equal(r.resets, 1);
  assert.equal(r.updates, 0);
});

test('normaliser: one outlier moves the location by at most clip scales × its weight', () => {
  const n = new RobustNormalizer({ window: 100, clip: 4 });
  for (let i = 0; i < 200; i++) n.update(10 + (i % 2 ? 1 : -1));
  const before = n.location;
  const scale = n.scale;
  n.update(1e6);
  assert.ok(n.location - before <= (4 * scale) / 100 + 1e-9);
  assert.equal(n.z(1e6), 10); // clipped
});

test('encoder: sigma-delta turns a step change into a burst on the up channel, then silence', () => {
  const plan = planEncoder({ scheme: 'sigma-delta', threshold: 0.5 }, { inputs: 4 }, 3);
  assert.deepEqual(plan, { threshold: 0.5, heard: 2, unheard: 1 });
  const enc = new SigmaDeltaEncoder(plan, { inputs: 4, substeps: 2 });
  const out = new Uint8Array(8);
  enc.encode(Float64Array.from([1.6, -0.5, 9]), out);
  // series 0: (1.6 − 0)/0.5 = 3.2 → 3 up (r = 1.5), then 0.2 → nothing;
  // series 1: −1 → 1 down (r = −0.5); series 2 has no channels.
  assert.deepEqual(Array.from(out), [3, 0, 0, 1, 0, 0, 0, 0]);
  enc.encode(Float64Array.from([1.6, -0.5, 9]), out);
  assert.deepEqual(Array.from(out), [0, 0, 0, 0, 0, 0, 0, 0]);
  assert.throws(
    () => planEncoder({ scheme: 'rate' }, { inputs: 4 }, 1),
    /encoder\.scheme: "rate" is not a scheme/,
  );
  assert.throws(
    () => planEncoder({ scheme: 'sigma-delta', threshold: -1 }, { inputs: 4 }, 1),
    /encoder\.threshold: expected a positive number/,
  );
});
