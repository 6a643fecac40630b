/** `spikecap backend list|selftest|bench`, and the agent refusing a bad bundle, as an operator runs them. */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { encodeBundle } from '../../agent/model/index.js';
import { runCliToEnd, writeAgentConfig } from '../helpers/agent.js';
import { randomModel } from '../helpers/models.js';
import { tempDir } from '../helpers/servers.js';

let tmp: { dir: string; remove(): void };
let small: string;
before(() => {
  tmp = tempDir('backend-cli');
  small = path.join(tmp.dir, 'small.spkb');
  writeFileSync(
    small,
    encodeBundle({
      model: randomModel({ neurons: 64, inputs: 4, fanout: 16, substeps: 4, seed: 3 }),
      encoder: { scheme: 'sigma-delta' },
      provenance: {},
    }),
  );
});
after(() => tmp.remove());

test('backend list says what runs here, as text and JSON', async () => {
  const r = await runCliToEnd(['backend', 'list', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const { backends } = JSON.parse(r.stdout) as {
    backends: { name: string; available: boolean; reason?: string }[];
  };
  assert.deepEqual(
    backends.map((b) => [b.name, b.available]),
    [
      ['native', true],
      ['native-driver', true],
      ['reference', true],
      ['onnx', true],
      ['serial', false], // no port configured
    ],
  );
  const missing = await runCliToEnd(['backend', 'list', '--driver', '/nonexistent/driver.so']);
  assert.equal(missing.code, 0);
  assert.match(missing.stdout, /native-driver\s+unavailable/);
  assert.match(missing.stdout, /why: .*\/nonexistent\/driver\.so/);
});

test('backend list shows the backend the agent would use, the order, and why the others are not', async () => {
  const cfg = path.join(tmp.dir, 'no-addon.yaml');
  writeFileSync(cfg, 'backends: { native_addon: /nonexistent/spikecap_native.node }\n');
  const r = await runCliToEnd(['backend', 'list', '--config', cfg, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const { selection } = JSON.parse(r.stdout) as {
    selection: {
      active: string;
      reason: string;
      order: string[];
      backends: { name: string; active: boolean; status: string; detail?: string }[];
    };
  };
  assert.equal(selection.active, 'onnx');
  assert.deepEqual(selection.order, ['native', 'onnx']);
  assert.deepEqual(
    selection.backends.map((b) => [b.name, b.status, b.active]),
    [
      ['native', 'unavailable', false],
      ['onnx', 'ok', true],
    ],
  );
  assert.match(
    selection.reason,
    /cannot load the native addon \/nonexistent\/spikecap_native\.node/,
  );
  const text = await runCliToEnd(['backend', 'list', '--config', cfg]);
  assert.match(text.stdout, /^active: onnx \(native: /);
  assert.match(text.stdout, /^order: {2}native, onnx; 0 switches$/m);
});

test('backend selftest: the three in-process backends are bit-exact (JSON has the documented keys)', async () => {
  const r = await runCliToEnd([
    'backend',
    'selftest',
    '--backends',
    'native,native-driver,reference',
    '--model',
    small,
    '--steps',
    '500',
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.equal(j.bit_exact, true);
  assert.equal(j.steps, 500);
  assert.deepEqual(j.backends, ['native', 'native-driver', 'reference']);
  assert.equal(j.mismatches, 0);
  assert.equal(j.first_mismatch, null);
  const text = await runCliToEnd([
    'backend',
    'selftest',
    '--backends',
    'native,reference',
    '--model',
    small,
    '--steps',
    '50',
  ]);
  assert.equal(text.code, 0);
  assert.match(text.stdout, /bit-exact: yes/);
});

test('backend selftest and bench refuse bad usage with exit 2', async () => {
  const one = await runCliToEnd(['backend', 'selftest', '--backends', 'native', '--model', small]);
  assert.equal(one.code, 2);
  assert.match(one.stderr, /at least two backends/);
  const unknown = await runCliToEnd(['backend', 'bench', '--backends', 'tpu', '--model', small]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown backend "tpu"/);
});

test('backend bench reports µs per sample, events per second and firing rate per backend', async () => {
  const r = await runCliToEnd([
    'backend',
    'bench',
    '--model',
    small,
    '--backends',
    'native,reference',
    '--samples',
    '200',
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const { results } = JSON.parse(r.stdout) as {
    results: {
      backend: string;
      us_per_step_median: number;
      us_per_step_p99: number;
      synaptic_events_per_s: number;
      firing_rate: number;
      samples: number;
    }[];
  };
  assert.deepEqual(
    results.map((x) => x.backend),
    ['native', 'reference'],
  );
  for (const x of results) {
    assert.equal(x.samples, 200);
    assert.ok(x.us_per_step_median > 0 && x.us_per_step_p99 >= x.us_per_step_median);
    assert.ok(x.synaptic_events_per_s > 0);
    assert.equal(x.firing_rate, results[0]!.firing_rate, 'same model, same input, same rate');
  }
});

test('a corrupted bundle is refused by selftest (exit 1) and by the agent at start (exit 2), naming the check', async () => {
  const bad = path.join(tmp.dir, 'bad.spkb');
  const bytes = readFileSync(small);
  bytes.writeUInt8(bytes.readUInt8(200) ^ 0x10, 200);
  writeFileSync(bad, bytes);
  const r = await runCliToEnd([
    'backend',
    'selftest',
    '--backends',
    'native,reference',
    '--model',
    bad,
  ]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /bad\.spkb: SHA-256 mismatch/);

  const cfg = writeAgentConfig(
    tmp.dir,
    'redis://127.0.0.1:1/0',
    `model:\n  bundle: ${bad}\n`,
    'badmodel',
  );
  const run = await runCliToEnd(['run', '--config', cfg]);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /model bundle invalid, not starting/);
  assert.match(run.stderr, /model\.bundle: .*bad\.spkb: SHA-256 mismatch/);
});

test('config check reports a model bundle that does not load', async () => {
  const cfg = writeAgentConfig(
    tmp.dir,
    'redis://127.0.0.1:1/0',
    `model:\n  bundle: ${path.join(tmp.dir, 'nothere.spkb')}\n`,
    'nomodel',
  );
  const r = await runCliToEnd(['config', 'check', cfg]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /model\.bundle: .*nothere\.spkb/);
});
