import { closeSync, openSync, readFileSync, readSync } from 'node:fs';

/**
 * One scratch buffer shared by every reader: a tick parses each file right after reading it,
 * so nothing needs its own copy, and the hot path allocates nothing.
 */
export const scratch = { buf: Buffer.allocUnsafe(64 * 1024) };

function grow(): void {
  scratch.buf = Buffer.allocUnsafe(scratch.buf.length * 2);
}

/**
 * Caps the descriptors kept open across ticks (thousands of cgroup files could otherwise
 * starve the rest of the process). Files beyond the budget are opened per read.
 */
export class FdBudget {
  private used = 0;
  constructor(readonly limit: number) {}
  acquire(): boolean {
    if (this.used >= this.limit) return false;
    this.used++;
    return true;
  }
  release(): void {
    if (this.used > 0) this.used--;
  }
}

/**
 * Half this process's soft RLIMIT_NOFILE, at most 16384 (Node raises the soft limit to the
 * hard one at start). Read from the real /proc, whatever procfs root is configured: the
 * limit is this process's, not the sampled tree's.
 */
export function defaultFdBudget(limitsFile = '/proc/self/limits'): number {
  let limit = 1024;
  try {
    const text = readFileSync(limitsFile, 'latin1');
    const at = text.indexOf('Max open files');
    if (at >= 0) {
      const n = Number.parseInt(text.slice(at + 14).trim(), 10);
      if (Number.isFinite(n) && n > 0) limit = n;
    }
  } catch {
    // keep the conservative default
  }
  return Math.max(64, Math.min(16384, Math.floor(limit / 2)));
}

export type ReadMode = 'single' | 'records';

/**
 * A file re-read every tick with positional reads into `scratch.buf`.
 *
 * `single`: kernel files produced in one piece (single_open seq files, sysfs and cgroup
 * attributes) come whole in one read. `records`: seq files that emit one record per device
 * (/proc/net/dev, /proc/diskstats) may return short reads, so read until EOF.
 */
export class SourceFile {
  private fd = -1;
  private holdsBudget = false;
  /** errno code of the last failed read (`ENOENT`, `ENODEV`, `EOPNOTSUPP`...). */
  err = '';

  constructor(
    readonly path: string,
    private readonly budget: FdBudget | null = null,
    private readonly mode: ReadMode = 'single',
  ) {}

  /** Reads the whole file into `scratch.buf`; the byte count, or -1 with `err` set. */
  read(): number {
    try {
      if (this.fd < 0) {
        this.fd = openSync(this.path, 'r');
        this.holdsBudget = this.budget === null ? true : this.budget.acquire();
      }
      const n = this.mode === 'single' ? this.readSingle(this.fd) : this.readRecords(this.fd);
      if (!this.holdsBudget) this.closeFd();
      return n;
    } catch (e) {
      this.err = (e as NodeJS.ErrnoException).code ?? 'EIO';
      this.closeFd();
      return -1;
    }
  }

  private readSingle(fd: number): number {
    for (;;) {
      const buf = scratch.buf;
      const n = readSync(fd, buf, 0, buf.length, 0);
      if (n < buf.length) return n;
      grow();
    }
  }

  private readRecords(fd: number): number {
    let off = 0;
    for (;;) {
      if (off === scratch.buf.length) {
        const old = scratch.buf;
        grow();
        old.copy(scratch.buf, 0, 0, off);
      }
      const n = readSync(fd, scratch.buf, off, scratch.buf.length - off, off);
      if (n === 0) return off;
      off += n;
    }
  }

  private closeFd(): void {
    if (this.fd >= 0) {
      try {
        closeSync(this.fd);
      } catch {
        // already gone
      }
      if (this.holdsBudget && this.budget !== null) this.budget.release();
      this.fd = -1;
      this.holdsBudget = false;
    }
  }

  close(): void {
    this.closeFd();
  }
}

/** Reads a small file once (directory scans, rarely-changing attributes); undefined on error. */
export function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return undefined;
  }
}
