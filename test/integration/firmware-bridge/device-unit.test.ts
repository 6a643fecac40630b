/**
 * The device side's own C tests (firmware-bridge/device/test/test_device.c: COBS, CRC-32 and
 * SHA-256 vectors, the protocol engine over an in-memory port), built warnings-clean and run
 * by its Makefile, so CI runs them with everything else.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { deviceDir } from '../../../firmware-bridge/host/index.js';

test('the device C unit tests pass (make test)', () => {
  const r = spawnSync('make', ['-s', '-C', deviceDir, 'test'], { encoding: 'utf8' });
  assert.equal(r.status, 0, `make test failed:\n${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /[1-9][0-9]* passed, 0 failed/);
});
