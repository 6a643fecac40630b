/**
 * Where the virtual board (firmware-bridge/device, built by its Makefile) lives, and building it
 * when it is missing or older than its sources. Used by `spikecap board emulate` and the tests.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../agent/shared/paths.js';

/** The device sources' directory (its Makefile builds the virtual board). */
export const deviceDir = path.join(packageRoot, 'firmware-bridge', 'device');

/** The virtual board executable `make -C firmware-bridge/device` builds. */
export const virtualBoardPath = path.join(packageRoot, 'build', 'device', 'virtual-board');

/** The newest modification time (ms) of the C sources, headers and Makefiles it is built from. */
function newestSource(): number {
  let newest = 0;
  const walk = (dir: string): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(c|h)$|^Makefile$/.test(e.name)) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  walk(deviceDir);
  walk(path.join(packageRoot, 'native', 'core'));
  return newest;
}

/**
 * Returns the path of the virtual board, first running `make -s -C firmware-bridge/device` when
 * the executable is missing or older than any of its sources. Throws an Error with make's output
 * when the build fails (no compiler, no sources in an installed package).
 */
export function ensureVirtualBoard(): string {
  let built = 0;
  try {
    built = statSync(virtualBoardPath).mtimeMs;
  } catch {
    built = 0;
  }
  if (built > 0 && built >= newestSource()) return virtualBoardPath;
  const r = spawnSync('make', ['-s', '-C', deviceDir], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : `exit status ${r.status}`;
    const output = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
    throw new Error(
      `cannot build the virtual board (make -C ${deviceDir}): ${why}${output ? `\n${output}` : ''}`,
    );
  }
  try {
    statSync(virtualBoardPath);
  } catch {
    throw new Error(`make -C ${deviceDir} succeeded but did not produce ${virtualBoardPath}`);
  }
  return virtualBoardPath;
}
