/** File helpers shared by the parts that write files other processes read. */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';

/**
 * Writes `bytes` to `file` through a temporary file in the same directory and a rename, so a
 * reader sees the old file or the new one. `durable`: also flush the file and the directory
 * (the cache skips this: a file torn by a power cut fails its check and is rebuilt).
 */
export function writeFileAtomic(file: string, bytes: Uint8Array, durable = false): void {
  const dir = path.dirname(file);
  const tmp = path.join(
    dir,
    `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  );
  const fd = openSync(tmp, 'wx', 0o644);
  try {
    try {
      writeSync(fd, bytes);
      if (durable) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  if (!durable) return;
  try {
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    /* best effort: not every file system can flush a directory */
  }
}
