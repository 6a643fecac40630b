/**
 * Failover of issue #5: how long the call takes whose serial step fails, from its start to the
 * features the next backend computed, with the default model (512 neurons) and the selector's
 * defaults (step_timeout 500 ms, checkpoints every 64 samples). Two faults of the virtual
 * board: the port vanishing (the step fails at once) and a stall (the step times out).
 * Also: ONNX Runtime session creation for the default model, without and with the graph cache.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BackendSelector, createBackend } from '../../agent/backends/index.js';
import { readBundle, standardInput } from '../../agent/model/index.js';
import { startVirtualBoard, type VirtualBoardFlags } from '../helpers/virtual-board.js';

const TICK_MS = 1000;

async function failoverMs(flags: VirtualBoardFlags): Promise<number> {
  const bundle = readBundle(path.resolve('config/reservoir.spkb'));
  const { neurons, substeps, inputs } = bundle.model;
  const per = substeps * inputs;
  const input = standardInput(bundle.model, 400);
  const board = await startVirtualBoard(flags);
  const selector = await BackendSelector.start(bundle, {
    order: ['serial', 'native'],
    settings: { serialPort: board.path },
  });
  try {
    const features = new Int16Array(2 * neurons);
    for (let i = 0; i < 400; i++) {
      const t0 = performance.now();
      await selector.step(input.subarray(i * per, (i + 1) * per), features, 1);
      const ms = performance.now() - t0;
      if (selector.active !== 'serial') return ms;
    }
    throw new Error('the board never failed');
  } finally {
    await selector.close();
    await board.stop();
  }
}

async function sessionMs(cacheDir: string | false): Promise<number> {
  const bundle = readBundle(path.resolve('config/reservoir.spkb'));
  const b = createBackend('onnx', { onnxCacheDir: cacheDir });
  try {
    const t0 = performance.now();
    await b.load(bundle);
    return performance.now() - t0;
  } finally {
    await b.close();
  }
}

export async function benchFailover(): Promise<void> {
  console.log('\n## Failover: serial → native, default model (512 neurons)\n');
  console.log('| fault | the failing call, start to features | inside a 1 s tick |');
  console.log('|---|---|---|');
  for (const [name, flags] of [
    ['port vanishes (--vanish-after)', { vanishAfter: 150, vanishMs: 1000 }],
    ['board stalls (--stall-after), step_timeout 500 ms', { stallAfter: 150, stallMs: 2000 }],
  ] as const) {
    const ms = await failoverMs(flags);
    console.log(`| ${name} | ${ms.toFixed(1)} ms | ${ms < TICK_MS ? 'yes' : 'NO'} |`);
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'spikecap-onnx-cache-'));
  try {
    const cold = await sessionMs(dir);
    const warm = await sessionMs(dir);
    const none = await sessionMs(false);
    console.log(
      `\nONNX session for the default model: ${cold.toFixed(0)} ms building the graph (cache empty), ` +
        `${warm.toFixed(0)} ms from the cache, ${none.toFixed(0)} ms with the cache off (goal ≤ 1 s)`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
