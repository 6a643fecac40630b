// The workload of scripts/valgrind-addon.sh: exercises the addon's Reservoir class (built-in
// core and the core HAL driver) the way the agent does, then lets the finalizers run.
// Plain JS on purpose (no build step beyond the addon). Run with `node --expose-gc`.
//
//   node --expose-gc scripts/valgrind-step-loop.mjs [rounds]
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const addon = createRequire(import.meta.url)(path.join(root, 'build/Release/spikecap_native.node'));
const driver = { path: path.join(root, 'build/Release/spikecap_core_driver.so') };
const rounds = Number(process.argv[2] ?? 3);
if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');

// xorshift32: deterministic, so a failure reproduces.
let seed = 0x5eed;
function rand() {
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed;
}
const randInt = (lo, hi) => lo + (rand() % (hi - lo + 1));

function model(neurons, inputs, fanout, substeps, threshold) {
  const rows = (n) => {
    const t = new Uint16Array(n * fanout);
    const perm = Uint16Array.from({ length: neurons }, (_, i) => i);
    for (let r = 0; r < n; r++) {
      for (let k = 0; k < fanout; k++) {
        const j = k + (rand() % (neurons - k));
        [perm[k], perm[j]] = [perm[j], perm[k]];
        t[r * fanout + k] = perm[k];
      }
    }
    return t;
  };
  return {
    neurons,
    inputs,
    fanout,
    substeps,
    weightShiftIn: 4,
    weightShiftRec: 2,
    traceDash: 3,
    traceShift: 6,
    threshold: Int16Array.from({ length: neurons }, () => randInt(threshold >> 1, threshold)),
    bias: Int16Array.from({ length: neurons }, () => randInt(-50, 50)),
    dashSyn: Uint8Array.from({ length: neurons }, () => randInt(0, 15)),
    dashMem: Uint8Array.from({ length: neurons }, () => randInt(0, 15)),
    inTarget: rows(inputs),
    inWeight: Int8Array.from({ length: inputs * fanout }, () => randInt(-128, 127)),
    recTarget: rows(neurons),
    recWeight: Int8Array.from({ length: neurons * fanout }, () => randInt(-128, 127)),
  };
}

function expectCode(fn, code) {
  try {
    fn();
  } catch (err) {
    assert.equal(err.code, code, err.message);
    return;
  }
  assert.fail(`expected ${code}`);
}

const collected = { count: 0 };
const registry = new FinalizationRegistry(() => collected.count++);
let created = 0;
let spikes = 0;
let samplesRun = 0;

function exercise(m, useDriver, samples, closeIt) {
  const r = useDriver ? new addon.Reservoir(m, driver) : new addon.Reservoir(m);
  registry.register(r, null);
  created++;
  const { neurons: n, inputs: i, substeps: s } = m;
  const input = new Uint8Array(samples * s * i);
  for (let k = 0; k < input.length; k++) input[k] = rand() % 3 === 0 ? rand() % 20 : 0;
  const features = new Int16Array(samples * 2 * n);
  for (let done = 0; done < samples;) {
    const chunk = Math.min(samples - done, randInt(1, 300));
    spikes += r.step(input.subarray(done * s * i), features.subarray(done * 2 * n), chunk);
    done += chunk;
  }
  samplesRun += samples;
  const state = new Uint8Array(7 * n);
  r.getState(state);
  const other = Uint8Array.from({ length: 7 * n }, () => rand() & 255);
  r.setState(other);
  r.step(input, features, 5);
  r.getState(state);
  r.reset();
  r.capabilities();
  expectCode(() => r.getState(new Uint8Array(7 * n + 1)), 'ESTATE');
  expectCode(() => r.step(input, features, samples + 1), 'EINVAL');
  if (closeIt) {
    r.close();
    r.close();
    expectCode(() => r.reset(), 'ECLOSED');
  }
  // otherwise the finalizer frees it
}

const small = model(64, 8, 16, 4, 1500);
const medium = model(300, 16, 40, 3, 4000);
for (let round = 0; round < rounds; round++) {
  for (const useDriver of [false, true]) {
    exercise(small, useDriver, 3000, round % 2 === 0);
    exercise(medium, useDriver, 1000, round % 2 === 1);
  }
  // Constructor error paths (the half-built instance is freed).
  const bad = { ...small, recTarget: small.recTarget.slice() };
  bad.recTarget[1] = bad.recTarget[0];
  expectCode(() => new addon.Reservoir(bad), 'EINVAL');
  expectCode(() => new addon.Reservoir(bad, driver), 'EINVAL');
  expectCode(() => new addon.Reservoir(small, { path: '/nonexistent/driver.so' }), 'EDLOPEN');
  expectCode(() => new addon.Reservoir({ ...small, threshold: new Int16Array(3) }), 'EINVAL');
}

// Drop everything and let the collector run the finalizers.
for (let k = 0; k < 10; k++) {
  globalThis.gc();
  await new Promise((resolve) => setImmediate(resolve));
}
console.log(
  `valgrind-step-loop: ${created} reservoirs (${rounds} rounds, built-in and driver), ` +
    `${samplesRun} samples, ${spikes} spikes, ${collected.count} collected by the GC`,
);
