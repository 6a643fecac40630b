/** The addon's step loop under valgrind memcheck: no leak and no invalid access in our code. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { packageRoot } from '../../agent/shared/paths.js';

test('scripts/valgrind-addon.sh finds no memory error or leak in the addon, the core or the driver', () => {
  const r = spawnSync('bash', [path.join(packageRoot, 'scripts', 'valgrind-addon.sh'), '2'], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout + r.stderr, /0 error\(s\) in spikecap native code/);
});
