/** `spikecap model export-onnx`, run as the real executable; the file it writes, run by ONNX Runtime. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type * as Ort from 'onnxruntime-node';
import { graphProblem, IO } from '../../agent/backends/onnx/index.js';
import {
  ReferenceReservoir,
  readBundle,
  StandardInput,
  stateBytes,
} from '../../agent/model/index.js';
import { packageRoot } from '../../agent/shared/paths.js';
import { runCliToEnd } from '../helpers/agent.js';
import { tempDir } from '../helpers/servers.js';

const ort = createRequire(import.meta.url)('onnxruntime-node') as typeof Ort;
const bundleFile = path.join(packageRoot, 'config', 'reservoir.spkb');
let tmp: { dir: string; remove(): void };
before(() => {
  tmp = tempDir('export-onnx');
});
after(() => tmp.remove());

test('export-onnx writes the graph the backend runs, and says what it wrote', async () => {
  const out = path.join(tmp.dir, 'reservoir.onnx');
  const r = await runCliToEnd(['model', 'export-onnx', bundleFile, out]);
  assert.equal(r.code, 0, r.stderr);
  const bytes = readFileSync(out);
  const sha = createHash('sha256').update(bytes).digest('hex');
  assert.match(
    r.stdout,
    new RegExp(`^wrote .*reservoir\\.onnx \\(${bytes.length} bytes, sha256 ${sha}\\)`),
  );
  assert.match(r.stdout, /512 neurons, 16 inputs, fan-out 64, 4 sub-steps/);
  assert.match(
    r.stdout,
    /ONNX opset 17, IR version 8; float32 arithmetic \(accumulator bound \d+ ≤ 2\^24\)/,
  );
  assert.match(r.stdout, /inputs {3}input uint8 \[samples, 4, 16\], isyn vmem trace int16 \[512\]/);

  // The file is the graph of this bundle, and ONNX Runtime runs it: 100 samples of the
  // standard input from reset, as the reference computes them.
  const bundle = readBundle(bundleFile);
  assert.equal(
    graphProblem(bytes, bundle.sha256, { arithmetic: 'float32', recurrent: 'scatter' }),
    undefined,
  );
  const m = bundle.model;
  const input = new Uint8Array(100 * m.substeps * m.inputs);
  new StandardInput(m).next(input, 100);
  const want = new Int16Array(100 * 2 * m.neurons);
  new ReferenceReservoir(m).step(input, want, 100);
  const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  try {
    const N = m.neurons;
    const zero = new Uint8Array(stateBytes(N));
    const out = await session.run({
      [IO.input]: new ort.Tensor('uint8', input, [100, m.substeps, m.inputs]),
      [IO.isyn]: new ort.Tensor('int16', new Int16Array(N), [N]),
      [IO.vmem]: new ort.Tensor('int16', new Int16Array(N), [N]),
      [IO.trace]: new ort.Tensor('int16', new Int16Array(N), [N]),
      [IO.spiked]: new ort.Tensor('uint8', zero.subarray(0, N), [N]),
    });
    assert.deepEqual(out[IO.features]!.data, want);
  } finally {
    await session.release();
  }
});

test('export-onnx --float64 --json', async () => {
  const out = path.join(tmp.dir, 'reservoir64.onnx');
  const r = await runCliToEnd(['model', 'export-onnx', bundleFile, out, '--float64', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as Record<string, unknown>;
  const bytes = readFileSync(out);
  assert.equal(j.file, out);
  assert.equal(j.bytes, bytes.length);
  assert.equal(j.sha256, createHash('sha256').update(bytes).digest('hex'));
  assert.deepEqual(j.bundle, { file: bundleFile, sha256: readBundle(bundleFile).sha256 });
  assert.equal(j.opset, 17);
  assert.equal(j.ir_version, 8);
  assert.equal(j.arithmetic, 'float64');
  assert.equal(j.recurrent, 'scatter');
  assert.equal(typeof j.accumulator_bound, 'number');
  assert.equal((j.model as Record<string, number>).neurons, 512);
});

test('export-onnx: usage mistakes exit 2, a bad bundle or output exits 1 naming the file', async () => {
  const usage = await runCliToEnd(['model', 'export-onnx', bundleFile]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /model export-onnx takes FILE and OUT/);

  const missing = await runCliToEnd([
    'model',
    'export-onnx',
    path.join(tmp.dir, 'nope.spkb'),
    path.join(tmp.dir, 'x.onnx'),
  ]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /nope\.spkb: .*cannot read: ENOENT/);

  const bad = path.join(tmp.dir, 'bad.spkb');
  writeFileSync(bad, readFileSync(bundleFile).subarray(0, 1200));
  const truncated = await runCliToEnd(['model', 'export-onnx', bad, path.join(tmp.dir, 'x.onnx')]);
  assert.equal(truncated.code, 1);
  assert.match(truncated.stderr, /bad\.spkb: truncated: 1200 of \d+ bytes/);

  const nowhere = path.join(tmp.dir, 'no', 'such', 'dir', 'x.onnx');
  const unwritable = await runCliToEnd(['model', 'export-onnx', bundleFile, nowhere]);
  assert.equal(unwritable.code, 1);
  assert.match(unwritable.stderr, /x\.onnx: cannot write: ENOENT/);
});
