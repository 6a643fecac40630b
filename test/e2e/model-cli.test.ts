/** `spikecap model new` and `spikecap model info`, run as the real executable. */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { readBundle } from '../../agent/model/bundle.js';
import { packageRoot } from '../../agent/shared/paths.js';
import { runCliToEnd } from '../helpers/agent.js';
import { tempDir } from '../helpers/servers.js';

let tmp: { dir: string; remove(): void };
before(() => {
  tmp = tempDir('model-cli');
});
after(() => tmp.remove());

test('model new writes a calibrated bundle and says what it made', async () => {
  const out = path.join(tmp.dir, 'small.spkb');
  const r = await runCliToEnd([
    'model',
    'new',
    '--neurons',
    '64',
    '--inputs',
    '4',
    '--fanout',
    '16',
    '--seed',
    '7',
    '--substeps',
    '2',
    '--rate',
    '0.08',
    '--out',
    out,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^wrote .*small\.spkb \(\d+ bytes, sha256 [0-9a-f]{64}\)/);
  assert.match(r.stdout, /64 neurons, 4 inputs, fan-out 16, 2 sub-steps; seed 7/);
  assert.match(r.stdout, /firing rate 0\.0\d{3} on the standard input \(target 0\.08\)/);
  const b = readBundle(out);
  assert.equal(b.model.neurons, 64);
  assert.equal(b.model.substeps, 2);
  assert.equal(b.provenance.seed, 7);
  assert.equal(b.provenance.target_rate, 0.08);
  assert.equal(b.encoder.scheme, 'sigma-delta');
});

test('model info --json describes the default bundle', async () => {
  const file = path.join(packageRoot, 'config', 'reservoir.spkb');
  const r = await runCliToEnd(['model', 'info', file, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout) as {
    bytes: number;
    sha256: string;
    model: Record<string, number>;
    ranges: Record<string, { min: number; max: number }>;
    provenance: Record<string, unknown>;
    standard_input: { rate: number; events_per_sample: number };
  };
  assert.equal(info.bytes, readFileSync(file).length);
  assert.equal(info.sha256, readBundle(file).sha256);
  assert.equal(info.model.neurons, 512);
  assert.equal(info.model.inputs, 16);
  assert.equal(info.model.fanout, 64);
  assert.deepEqual(info.ranges.bias, { min: 0, max: 0 });
  assert.ok(info.ranges.threshold!.min >= 1 && info.ranges.threshold!.max <= 32767);
  // Measured now with the reference: the same as when it was generated.
  assert.equal(info.standard_input.rate, info.provenance.rate);
  assert.equal(info.standard_input.events_per_sample, info.provenance.events_per_sample);
});

test('bad options exit 2 naming the option; a bad bundle exits 1 with its message', async () => {
  const out = path.join(tmp.dir, 'never.spkb');
  const base = ['model', 'new', '--inputs', '4', '--seed', '1', '--out', out];
  const fanout = await runCliToEnd([...base, '--neurons', '8', '--fanout', '9']);
  assert.equal(fanout.code, 2);
  assert.match(fanout.stderr, /--fanout: 9 is above --neurons \(8\)/);
  const neurons = await runCliToEnd([...base, '--neurons', 'many', '--fanout', '2']);
  assert.equal(neurons.code, 2);
  assert.match(neurons.stderr, /--neurons: expected an integer 2…8192, got "many"/);
  const missing = await runCliToEnd(['model', 'new', '--neurons', '8']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /model new needs --inputs, --fanout, --seed, --out/);
  const info = await runCliToEnd(['model', 'info']);
  assert.equal(info.code, 2);

  const bad = path.join(tmp.dir, 'bad.spkb');
  writeFileSync(
    bad,
    readFileSync(path.join(packageRoot, 'config', 'reservoir.spkb')).subarray(0, 1200),
  );
  const r = await runCliToEnd(['model', 'info', bad]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /bad\.spkb: truncated: 1200 of \d+ bytes/);
});
