/**
 * The backend selector over real backends: the virtual board on a pty as the first backend,
 * the native addon and ONNX Runtime after it. Whatever happens to the board, every call
 * returns features, and they are the bits an uninterrupted reference run computes.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { BackendSelector, createBackend } from '../../../agent/backends/index.js';
import { readBundle } from '../../../agent/model/index.js';
import { configDir } from '../../../agent/shared/paths.js';
import { bundleOf, randomInputs, randomModel } from '../../helpers/models.js';
import { startVirtualBoard, type VirtualBoard } from '../../helpers/virtual-board.js';

const boards: VirtualBoard[] = [];
after(async () => {
  await Promise.all(boards.map((b) => b.stop()));
});

const small = bundleOf(randomModel({ neurons: 40, inputs: 4, fanout: 8, substeps: 3, seed: 5 }));

/**
 * Steps `selector` and the reference through the same `samples` one-sample calls, `pauseMs`
 * apart, and checks every call's features; returns which backend computed each call.
 */
async function lockstep(
  selector: BackendSelector,
  bundle: typeof small,
  samples: number,
  pauseMs: number,
): Promise<string[]> {
  const reference = createBackend('reference');
  await reference.load(bundle);
  const { neurons, substeps, inputs } = bundle.model;
  const input = randomInputs(samples * substeps * inputs, 17);
  const want = new Int16Array(2 * neurons);
  const got = new Int16Array(2 * neurons);
  const by: string[] = [];
  try {
    for (let i = 0; i < samples; i++) {
      const x = input.subarray(i * substeps * inputs, (i + 1) * substeps * inputs);
      const spikes = await selector.step(x, got, 1);
      by.push(selector.active);
      assert.equal(spikes, await reference.step(x, want, 1), `spikes of sample ${i}`);
      assert.deepEqual(got, want, `features of sample ${i} (computed by ${selector.active})`);
      await sleep(pauseMs);
    }
    assert.deepEqual(await selector.getState(), await reference.getState(), 'the final state');
    return by;
  } finally {
    await reference.close();
  }
}

/** `by` as runs: `serial×40 native×31 serial×129`. */
const runs = (by: string[]) =>
  by
    .reduce<[string, number][]>((acc, b) => {
      const last = acc.at(-1);
      if (last && last[0] === b) last[1]++;
      else acc.push([b, 1]);
      return acc;
    }, [])
    .map(([b, n]) => `${b}×${n}`)
    .join(' ');

test('the board vanishes mid-run: the same call gets its features from native, the board takes over again after K probes, bit-exact throughout', async (t) => {
  // HELLO, the upload (BEGIN, chunk, DONE), then steps: the port vanishes after ~40 of them.
  const board = await startVirtualBoard({ vanishAfter: 45, vanishMs: 700 });
  boards.push(board);
  const selector = await BackendSelector.start(small, {
    order: ['serial', 'native'],
    settings: { serialPort: board.path },
    healthyProbes: 3,
    probeIntervalMs: 100,
  });
  try {
    assert.equal(selector.active, 'serial');
    const by = await lockstep(selector, small, 200, 10);
    const status = await selector.status();
    t.diagnostic(`computed by: ${runs(by)}; ${JSON.stringify(status.recentSwitches)}`);
    assert.ok(by.includes('native'), 'native took over while the board was gone');
    assert.equal(by.at(-1), 'serial', 'the board took over again');
    assert.equal(status.switches, 2);
    const [out, back] = status.recentSwitches;
    assert.match(out!.reason, /^serial failed: serial: .*disconnected/);
    assert.equal(back!.reason, 'serial healthy for 3 probes in a row');
  } finally {
    await selector.close();
  }
});

test('a stalled board: the call that times out is computed by the next backend within step_timeout', async (t) => {
  const board = await startVirtualBoard({ stallAfter: 30, stallMs: 1500 });
  boards.push(board);
  const selector = await BackendSelector.start(small, {
    order: ['serial', 'onnx'],
    settings: { serialPort: board.path, onnxCacheDir: false },
    healthyProbes: 2,
    probeIntervalMs: 100,
    stepTimeoutMs: 150,
  });
  try {
    const by = await lockstep(selector, small, 120, 20);
    t.diagnostic(`computed by: ${runs(by)}`);
    assert.ok(by.includes('onnx'), 'onnx computed while the board stalled');
    assert.equal(by.at(-1), 'serial');
  } finally {
    await selector.close();
  }
});

test('the native addon missing (backends.native_addon): the selector starts on onnx and says why', async () => {
  const selector = await BackendSelector.start(readBundle(`${configDir}/reservoir.spkb`), {
    order: ['native', 'onnx'],
    settings: { nativeAddon: '/nonexistent/spikecap_native.node', onnxCacheDir: false },
  });
  try {
    const s = await selector.status();
    assert.equal(s.active, 'onnx');
    assert.match(
      s.reason!,
      /native: .*cannot load the native addon \/nonexistent\/spikecap_native\.node/,
    );
    assert.equal(s.backends[0]!.status, 'unavailable');
    assert.equal(s.switches, 0);
  } finally {
    await selector.close();
  }
});

test('no backend of the order works: EUNAVAILABLE naming each and why', async () => {
  await assert.rejects(
    BackendSelector.start(small, {
      order: ['serial', 'native'],
      settings: { serialPort: '/nonexistent/tty', nativeAddon: '/nonexistent/addon.node' },
    }),
    (err: Error & { code?: string }) => {
      assert.equal(err.code, 'EUNAVAILABLE');
      assert.match(
        err.message,
        /serial: .*\/nonexistent\/tty.*; native: .*\/nonexistent\/addon\.node/,
      );
      return true;
    },
  );
});

test('a bundle whose graph cannot be built: the error names the bundle, and the selector skips onnx', async () => {
  // One threshold too many: the reference ignores it, ONNX Runtime refuses the graph's tensor.
  const odd = { ...small, model: { ...small.model, threshold: new Int16Array(41).fill(300) } };
  const selector = await BackendSelector.start(odd, {
    order: ['onnx', 'reference'],
    settings: { onnxCacheDir: false },
  });
  try {
    const s = await selector.status();
    assert.equal(s.active, 'reference');
    assert.match(
      s.backends[0]!.detail!,
      new RegExp(
        `^onnx: bundle ${small.sha256.slice(0, 12)}… \\(40 neurons, 4 inputs, fan-out 8, 3 sub-steps\\): `,
      ),
    );
    assert.equal(s.backends[0]!.status, 'down');
    const features = new Int16Array(80);
    await selector.step(new Uint8Array(12), features, 1);
    assert.equal(selector.active, 'reference');
  } finally {
    await selector.close();
  }
});
