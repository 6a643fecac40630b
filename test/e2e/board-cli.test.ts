/**
 * `spikecap board info|upload|stats|reset` and `backend selftest` with the `serial` backend,
 * against the virtual board on a real pseudo-terminal, as an operator runs them.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { defaultModelBundle } from '../../agent/config/resolve.js';
import { readBundle } from '../../agent/model/index.js';
import { imageSha256, modelImage } from '../../firmware-bridge/host/index.js';
import { runCliToEnd } from '../helpers/agent.js';
import { startVirtualBoard, type VirtualBoard } from '../helpers/virtual-board.js';

let board: VirtualBoard;
before(async () => {
  board = await startVirtualBoard();
});
after(() => board.stop());

test('board upload, info, stats and reset over the pty', async () => {
  const up = await runCliToEnd([
    'board',
    'upload',
    '--port',
    board.path,
    defaultModelBundle,
    '--json',
  ]);
  assert.equal(up.code, 0, up.stderr);
  const sha = imageSha256(modelImage(readBundle(defaultModelBundle)));
  assert.equal((JSON.parse(up.stdout) as { model_sha256: string }).model_sha256, sha);

  const info = await runCliToEnd(['board', 'info', '--port', board.path, '--json']);
  assert.equal(info.code, 0, info.stderr);
  const h = JSON.parse(info.stdout) as { modelLoaded: boolean; modelSha256: string };
  assert.deepEqual([h.modelLoaded, h.modelSha256], [true, sha]);
  const text = await runCliToEnd(['board', 'info', '--port', board.path]);
  assert.match(text.stdout, /firmware: +spikecap-virtual-board/);

  const stats = await runCliToEnd(['board', 'stats', '--port', board.path, '--json']);
  assert.equal(stats.code, 0, stats.stderr);
  const s = JSON.parse(stats.stdout) as { device: { rxFrames: number } };
  assert.ok(s.device.rxFrames > 0, stats.stdout);

  const reset = await runCliToEnd(['board', 'reset', '--port', board.path]);
  assert.equal(reset.code, 0, reset.stderr);
  assert.match(reset.stdout, /state set to zero/);
});

test('backend selftest runs the serial backend bit-exact against native', async () => {
  const r = await runCliToEnd([
    'backend',
    'selftest',
    '--backends',
    'native,serial',
    '--port',
    board.path,
    '--steps',
    '300',
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { bit_exact: boolean; backends: string[] };
  assert.deepEqual([j.bit_exact, j.backends], [true, ['native', 'serial']]);
});

test('board commands: a missing port and a bad bundle are clear errors', async () => {
  const none = await runCliToEnd(['board', 'info', '--port', '/nonexistent/tty']);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /\/nonexistent\/tty/);
  const bad = await runCliToEnd(['board', 'upload', '--port', board.path, '/nonexistent.spkb']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /nonexistent\.spkb: cannot read/);
});
