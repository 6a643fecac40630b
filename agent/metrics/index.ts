import { performance } from 'node:perf_hooks';
import { RateLimitedLog, type Logger } from '../shared/log.js';
import { CgroupFamily } from './cgroup.js';
import { CpuFamily } from './cpu.js';
import { DiskFamily } from './disk.js';
import type { Family, FamilyContext, Tick } from './family.js';
import { LoadFamily } from './load.js';
import { MemoryFamily } from './memory.js';
import { NetFamily } from './net.js';
import type { SamplerOptions } from './options.js';
import { PsiFamily } from './psi.js';
import type { Sample, SeriesId, SeriesMeta } from './sample.js';
import { FdBudget, defaultFdBudget } from './source.js';
import { ThermalFamily } from './thermal.js';

export type { Sample, SeriesId, SeriesMeta } from './sample.js';
export { defaultSamplerOptions, type SamplerOptions } from './options.js';

/** Directory rescans (new interfaces, disks, cgroups, sensors, top-N ranking) every this many ticks. */
export const RESCAN_EVERY = 10;
/** Meta of series no longer produced is kept for this many of them, oldest dropped first. */
const RETIRED_META_CAP = 10_000;

const FAMILY_ORDER = ['cpu', 'mem', 'load', 'psi', 'net', 'disk', 'cgroup', 'thermal'] as const;
type FamilyName = (typeof FAMILY_ORDER)[number];

/**
 * Samples every enabled metric family once per `collect`. Files are kept open and re-read
 * with positional reads; directories are rescanned every RESCAN_EVERY ticks. A missing
 * source is reported once (warn) in `unavailable` and skipped.
 */
export class Sampler {
  private opts: SamplerOptions;
  private log: Logger;
  private errors: RateLimitedLog;
  private readonly budget: FdBudget;
  private readonly families = new Map<FamilyName, Family>();
  private readonly missing = new Map<string, string>();
  private readonly metas = new Map<SeriesId, SeriesMeta>();
  private readonly ctx: FamilyContext;
  private tickNo = 0;
  private forceRescan = true;
  private series: readonly SeriesId[] = [];
  /** Per-family `series` arrays behind `this.series`, to notice a change by identity. */
  private parts: (readonly SeriesId[])[] = [];
  private closed = false;

  constructor(opts: SamplerOptions) {
    this.opts = opts;
    this.log = opts.log;
    this.errors = new RateLimitedLog(opts.log, 3, 600_000);
    this.budget = new FdBudget(defaultFdBudget());
    const currentLog = (): Logger => this.log;
    this.ctx = {
      get log() {
        return currentLog();
      },
      budget: this.budget,
      unavailable: (key, reason) => this.markUnavailable(key, reason),
      available: (key) => this.markAvailable(key),
      declare: (id, meta) => this.declare(id, meta),
    };
    this.build();
  }

  /** Families/sources reported missing, with the reason. */
  get unavailable(): ReadonlyMap<string, string> {
    return this.missing;
  }

  /** One reading of every enabled family. */
  collect(ts: number, monoMs: number = performance.now()): Sample {
    if (this.closed) throw new Error('Sampler is closed');
    const t: Tick = {
      mono: monoMs,
      n: this.tickNo,
      rescan: this.forceRescan || this.tickNo % RESCAN_EVERY === 0,
    };
    this.forceRescan = false;
    this.tickNo++;
    for (const f of this.families.values()) {
      try {
        f.collect(t);
      } catch (err) {
        // A bug in one family must not stop the others; its values read NaN this tick.
        f.values.fill(NaN);
        this.errors.warn('metric family failed', { family: f.name, err });
      }
    }
    let changed = this.parts.length !== this.families.size;
    let total = 0;
    let i = 0;
    for (const f of this.families.values()) {
      if (!changed && this.parts[i] !== f.series) changed = true;
      total += f.series.length;
      i++;
    }
    if (changed) this.relayout(total);
    const values = new Float64Array(total);
    let off = 0;
    for (const f of this.families.values()) {
      const n = f.series.length;
      values.set(n === f.values.length ? f.values : f.values.subarray(0, n), off);
      off += n;
    }
    return { ts, series: this.series, values };
  }

  meta(id: SeriesId): SeriesMeta | undefined {
    return this.metas.get(id);
  }

  /** Applies new options; families whose options did not change keep their state (and rates). */
  reconfigure(opts: SamplerOptions): void {
    const old = this.opts;
    this.opts = opts;
    this.log = opts.log;
    this.errors = new RateLimitedLog(opts.log, 3, 600_000);
    this.forceRescan = true;
    if (old.procfs !== opts.procfs || old.sysfs !== opts.sysfs || old.cgroupfs !== opts.cgroupfs) {
      this.closeFamilies();
      this.missing.clear();
      this.build();
      return;
    }
    const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
    const sections: Record<FamilyName, keyof SamplerOptions> = {
      cpu: 'cpu',
      mem: 'memory',
      load: 'load',
      psi: 'psi',
      net: 'net',
      disk: 'disk',
      cgroup: 'cgroup',
      thermal: 'thermal',
    };
    for (const name of FAMILY_ORDER) {
      const key = sections[name];
      if (same(old[key], opts[key])) continue;
      const f = this.families.get(name);
      const enabled = (opts[key] as { enabled: boolean }).enabled;
      if (f === undefined || !enabled) continue;
      if (f instanceof CpuFamily) f.setPerCore(opts.cpu.per_core);
      else if (f instanceof NetFamily) f.configure(opts.net);
      else if (f instanceof DiskFamily) f.configure(opts.disk);
      else if (f instanceof CgroupFamily) f.configure(opts.cgroup);
    }
    this.build();
  }

  close(): void {
    this.closeFamilies();
    this.closed = true;
  }

  /** Creates enabled families that do not exist yet and closes disabled ones, in a fixed order. */
  private build(): void {
    const o = this.opts;
    const enabled: Record<FamilyName, boolean> = {
      cpu: o.cpu.enabled,
      mem: o.memory.enabled,
      load: o.load.enabled,
      psi: o.psi.enabled,
      net: o.net.enabled,
      disk: o.disk.enabled,
      cgroup: o.cgroup.enabled,
      thermal: o.thermal.enabled,
    };
    const next = new Map<FamilyName, Family>();
    for (const name of FAMILY_ORDER) {
      const existing = this.families.get(name);
      if (!enabled[name]) {
        if (existing !== undefined) {
          existing.close();
          this.clearMissing(name);
        }
        continue;
      }
      next.set(name, existing ?? this.create(name));
    }
    this.families.clear();
    for (const [k, v] of next) this.families.set(k, v);
  }

  private create(name: FamilyName): Family {
    const o = this.opts;
    const ctx = this.ctx;
    switch (name) {
      case 'cpu':
        return new CpuFamily(ctx, o.procfs, o.cpu.per_core);
      case 'mem':
        return new MemoryFamily(ctx, o.procfs);
      case 'load':
        return new LoadFamily(ctx, o.procfs);
      case 'psi':
        return new PsiFamily(ctx, o.procfs);
      case 'net':
        return new NetFamily(ctx, o.procfs, o.sysfs, o.net);
      case 'disk':
        return new DiskFamily(ctx, o.procfs, o.sysfs, o.disk);
      case 'cgroup':
        return new CgroupFamily(ctx, o, o.cgroup);
      case 'thermal':
        return new ThermalFamily(ctx, o.sysfs);
    }
  }

  private closeFamilies(): void {
    for (const f of this.families.values()) f.close();
    this.families.clear();
  }

  private relayout(total: number): void {
    const all: SeriesId[] = new Array<SeriesId>(total);
    const parts: (readonly SeriesId[])[] = [];
    let off = 0;
    for (const f of this.families.values()) {
      parts.push(f.series);
      for (const id of f.series) all[off++] = id;
    }
    this.parts = parts;
    this.series = Object.freeze(all);
    this.trimMeta();
  }

  private declare(id: SeriesId, meta: SeriesMeta): void {
    // Re-inserting moves a series to the young end, so trimming drops long-gone ones first.
    this.metas.delete(id);
    this.metas.set(id, meta);
  }

  private trimMeta(): void {
    let excess = this.metas.size - this.series.length - RETIRED_META_CAP;
    if (excess <= 0) return;
    const current = new Set(this.series);
    for (const id of this.metas.keys()) {
      if (excess <= 0) break;
      if (current.has(id)) continue;
      this.metas.delete(id);
      excess--;
    }
  }

  private markUnavailable(key: string, reason: string): void {
    if (this.missing.get(key) === reason) return;
    const first = !this.missing.has(key);
    this.missing.set(key, reason);
    if (first) this.log.warn('metric source unavailable, skipped', { source: key, reason });
  }

  private markAvailable(key: string): void {
    if (!this.missing.delete(key)) return;
    this.log.info('metric source available again', { source: key });
  }

  private clearMissing(family: FamilyName): void {
    const prefix = family === 'mem' ? 'mem' : family;
    for (const k of [...this.missing.keys()])
      if (k === prefix || k.startsWith(`${prefix}.`)) this.missing.delete(k);
  }
}
