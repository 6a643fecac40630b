import { existsSync } from 'node:fs';
import { counterDelta } from './counter.js';
import type { FamilyContext } from './family.js';
import { cleanName } from './names.js';
import type { Scanner } from './parse.js';
import { readText } from './source.js';
import { TableFamily, type Row } from './table.js';

/** Leaves per interface; the raw slots are rx bytes, packets, errs, drop, then the same for tx. */
export const NET_LEAVES = [
  ['rx_bytes_per_s', 'bytes_per_s'],
  ['rx_packets_per_s', 'per_s'],
  ['rx_errors_per_s', 'per_s'],
  ['rx_drops_per_s', 'per_s'],
  ['tx_bytes_per_s', 'bytes_per_s'],
  ['tx_packets_per_s', 'per_s'],
  ['tx_errors_per_s', 'per_s'],
  ['tx_drops_per_s', 'per_s'],
] as const;

/**
 * One /proc/net/dev line after the `name:`: 8 rx then 8 tx counters. Keeps rx/tx bytes,
 * packets, errs, drop in out[0..7].
 */
export function parseNetDevCounters(sc: Scanner, out: Float64Array): void {
  for (let f = 0; f < 16; f++) {
    const v = sc.uint();
    if (f < 4) out[f] = v;
    else if (f >= 8 && f < 12) out[f - 4] = v;
  }
}

export interface NetFilter {
  include: readonly string[];
  exclude: readonly string[];
  include_virtual: boolean;
}

export class NetFamily extends TableFamily {
  private includeVirtual: boolean;

  constructor(
    ctx: FamilyContext,
    procfs: string,
    private readonly sysfs: string,
    f: NetFilter,
  ) {
    super(
      ctx,
      {
        family: 'net',
        key: 'net',
        file: `${procfs}/net/dev`,
        headerLines: 2,
        rawFields: 8,
        leaves: NET_LEAVES,
      },
      f.include,
      f.exclude,
    );
    this.includeVirtual = f.include_virtual;
  }

  configure(f: NetFilter): void {
    this.includeVirtual = f.include_virtual;
    this.setFilters(f.include, f.exclude);
  }

  /** Physical interfaces have a `device` link in sysfs; lo, veth, bridges, tunnels do not. */
  isVirtual(name: string): boolean {
    return !existsSync(`${this.sysfs}/class/net/${name}/device`);
  }

  protected wanted(name: string): boolean {
    if (!this.include.match(name) || this.exclude.match(name)) return false;
    return this.includeVirtual || !this.isVirtual(name);
  }

  protected parseName(sc: Scanner): string {
    const name = sc.word(0x3a);
    sc.skipPast(0x3a);
    return name;
  }

  protected labelOf(name: string): string {
    return cleanName(name);
  }

  protected sysIdent(name: string): number {
    const s = readText(`${this.sysfs}/class/net/${name}/ifindex`);
    return s === undefined ? NaN : Number.parseInt(s, 10);
  }

  protected parseLine(sc: Scanner, row: Row): number {
    parseNetDevCounters(sc, row.cur);
    return NaN;
  }

  protected compute(row: Row, elapsedMs: number): void {
    const k = 1000 / elapsedMs;
    for (let f = 0; f < 8; f++) row.out[f] = counterDelta(row.prev[f]!, row.cur[f]!) * k;
  }
}
