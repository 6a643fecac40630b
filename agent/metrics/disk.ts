import { existsSync } from 'node:fs';
import { counterDelta } from './counter.js';
import type { FamilyContext } from './family.js';
import { cleanName } from './names.js';
import type { Scanner } from './parse.js';
import { TableFamily, type Row } from './table.js';

export const DISK_LEAVES = [
  ['reads_per_s', 'per_s'],
  ['writes_per_s', 'per_s'],
  ['read_bytes_per_s', 'bytes_per_s'],
  ['write_bytes_per_s', 'bytes_per_s'],
  ['busy_pct', 'pct'],
  ['in_flight', 'count'],
] as const;

/** /proc/diskstats counts sectors of 512 bytes whatever the device's block size. */
const SECTOR = 512;

/**
 * One /proc/diskstats line after the name: reads completed, sectors read, writes completed,
 * sectors written, I/Os in flight, io_ticks (ms busy) into out[0..5].
 */
export function parseDiskstatsCounters(sc: Scanner, out: Float64Array): void {
  for (let f = 0; f < 10; f++) {
    const v = sc.uint();
    if (f === 0) out[0] = v;
    else if (f === 2) out[1] = v;
    else if (f === 4) out[2] = v;
    else if (f === 6) out[3] = v;
    else if (f === 8) out[4] = v;
    else if (f === 9) out[5] = v;
  }
}

export interface DiskFilter {
  include: readonly string[];
  exclude: readonly string[];
  include_partitions: boolean;
}

export class DiskFamily extends TableFamily {
  private includePartitions: boolean;
  private lineIdent = NaN;

  constructor(
    ctx: FamilyContext,
    procfs: string,
    private readonly sysfs: string,
    f: DiskFilter,
  ) {
    super(
      ctx,
      {
        family: 'disk',
        key: 'disk',
        file: `${procfs}/diskstats`,
        headerLines: 0,
        rawFields: 6,
        leaves: DISK_LEAVES,
      },
      f.include,
      f.exclude,
    );
    this.includePartitions = f.include_partitions;
  }

  configure(f: DiskFilter): void {
    this.includePartitions = f.include_partitions;
    this.setFilters(f.include, f.exclude);
  }

  /** Whole disks are listed in /sys/block; partitions only below their disk. */
  isPartition(name: string): boolean {
    return !existsSync(`${this.sysfs}/block/${name.replaceAll('/', '!')}`);
  }

  protected wanted(name: string): boolean {
    if (!this.include.match(name) || this.exclude.match(name)) return false;
    return this.includePartitions || !this.isPartition(name);
  }

  protected parseName(sc: Scanner): string {
    const major = sc.uint();
    const minor = sc.uint();
    // The device number tells a recreated device (a loop re-attached, a dm table reloaded).
    this.lineIdent = major * 1048576 + minor;
    return sc.word();
  }

  protected labelOf(name: string): string {
    return cleanName(name.replaceAll('/', '!'));
  }

  protected sysIdent(_name: string): number {
    return NaN;
  }

  protected parseLine(sc: Scanner, row: Row): number {
    parseDiskstatsCounters(sc, row.cur);
    return this.lineIdent;
  }

  protected compute(row: Row, elapsedMs: number): void {
    const { prev, cur, out } = row;
    const k = 1000 / elapsedMs;
    out[0] = counterDelta(prev[0]!, cur[0]!) * k;
    out[2] = counterDelta(prev[1]!, cur[1]!) * SECTOR * k;
    out[1] = counterDelta(prev[2]!, cur[2]!) * k;
    out[3] = counterDelta(prev[3]!, cur[3]!) * SECTOR * k;
    // io_ticks is printed as 32-bit ms and wraps every 49.7 days; it cannot outrun the clock.
    const busy = counterDelta(prev[5]!, cur[5]!, elapsedMs * 1.5 + 100);
    out[4] = busy >= elapsedMs ? 100 : (busy * 100) / elapsedMs;
    out[5] = cur[4]!;
  }
}
