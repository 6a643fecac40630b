import { existsSync, readdirSync, statSync } from 'node:fs';
import { counterDelta, stalledPct } from './counter.js';
import { Family, SeriesBuilder, type FamilyContext, type Tick } from './family.js';
import { GlobSet, globToRegExp, hasMagic } from './glob.js';
import { cleanName, metaOf } from './names.js';
import { Scanner, parseCpuStatUsage, parseIoStat, parseLimit, parsePressure } from './parse.js';
import { resolveCgroupRoot } from './cgroupfs.js';
import { SourceFile, scratch } from './source.js';

/**
 * Cgroup paths (relative to `root`, `/`-separated) matched by the include globs and not by
 * the exclude globs. Literal leading segments are not listed, and fixed-depth patterns only
 * descend into directories whose name matches the segment at that depth.
 */
export function matchCgroups(root: string, include: readonly string[], exclude: GlobSet): string[] {
  const found = new Set<string>();
  for (const pattern of include) {
    const segs = pattern.split('/').filter((s) => s !== '' && s !== '.');
    let i = 0;
    while (i < segs.length && !hasMagic(segs[i]!)) i++;
    const start = segs.slice(0, i).join('/');
    const rest = segs.slice(i);
    if (rest.length === 0) {
      if (isDir(start === '' ? root : `${root}/${start}`)) found.add(start);
      continue;
    }
    const full = globToRegExp(segs.join('/'));
    if (rest.some((s) => s.includes('**'))) {
      walk(root, start, Infinity, null, full, found);
    } else {
      walk(root, start, rest.length, rest.map(globToRegExp), full, found);
    }
  }
  const out: string[] = [];
  for (const p of found) if (!exclude.match(p)) out.push(p);
  return out.sort();
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function walk(
  root: string,
  rel: string,
  depthLeft: number,
  segRes: RegExp[] | null,
  full: RegExp,
  found: Set<string>,
  depth = 0,
): void {
  let entries;
  try {
    entries = readdirSync(rel === '' ? root : `${root}/${rel}`, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    if (segRes !== null && !segRes[depth]!.test(e.name)) continue;
    const child = rel === '' ? e.name : `${rel}/${e.name}`;
    if (full.test(child)) found.add(child);
    if (depthLeft > 1) walk(root, child, depthLeft - 1, segRes, full, found, depth + 1);
  }
}

const PSI = ['cpu', 'memory', 'io'] as const;
/** Raw slots: usage_usec, PSI some/full totals for cpu, memory, io, io rbytes, wbytes. */
const R_USAGE = 0;
const R_PSI = 1;
const R_IO = 7;
const RAW = 9;

interface Unit {
  path: string;
  dir: string;
  label: string;
  ino: number;
  hasMem: boolean;
  hasPsi: boolean;
  hasIo: boolean;
  selected: boolean;
  vanished: boolean;
  cpu: SourceFile;
  mem: SourceFile | null;
  memMaxFile: SourceFile | null;
  psi: SourceFile[];
  io: SourceFile | null;
  memMax: number;
  cur: Float64Array;
  prev: Float64Array;
  prevMono: number;
  /** Latest per-tick usage reading, reused by the ranking. */
  lastUsage: number;
  lastUsageMono: number;
  rankUsage: number;
  rankMono: number;
  rankKey: number;
  out: Float64Array;
  base: number;
}

export interface CgroupFilter {
  include: readonly string[];
  exclude: readonly string[];
  top_n: number;
}

/**
 * cgroup v2 units. A rescan (every few ticks) walks the tree, then ranks every unit by CPU
 * use over the rescan window (memory.current breaks ties, read only for the tied units) and
 * keeps the top N: only those are read every tick, through descriptors kept open, so cost
 * follows N rather than the number of cgroups. The set changes only at rescans, keeping
 * `series` stable between them.
 */
export class CgroupFamily extends Family {
  private readonly sc = new Scanner();
  private readonly tmp = new Float64Array(4);
  private root: string | null = null;
  private readonly units = new Map<string, Unit>();
  private selected: Unit[] = [];
  private include: readonly string[];
  private exclude: GlobSet;
  private topN: number;
  private dirty = true;
  private forceRescan = true;

  constructor(
    ctx: FamilyContext,
    private readonly roots: { cgroupfs: string; procfs: string; sysfs: string },
    f: CgroupFilter,
  ) {
    super('cgroup', ctx);
    this.include = f.include;
    this.exclude = new GlobSet(f.exclude);
    this.topN = f.top_n;
    this.resolve();
  }

  configure(f: CgroupFilter): void {
    this.include = f.include;
    this.exclude = new GlobSet(f.exclude);
    this.topN = f.top_n;
    this.forceRescan = true;
  }

  private resolve(): void {
    const r = resolveCgroupRoot(this.roots.cgroupfs, this.roots.procfs, this.roots.sysfs);
    if ('error' in r) {
      this.ctx.unavailable('cgroup', r.error);
      this.root = null;
    } else if (!existsSync(`${r.path}/cgroup.controllers`)) {
      this.ctx.unavailable('cgroup', `${r.path} is not a cgroup v2 hierarchy`);
      this.root = null;
    } else {
      this.ctx.available('cgroup');
      this.root = r.path;
    }
  }

  collect(t: Tick): void {
    if (this.root === null) {
      // Look again at rescans: a hierarchy mounted after start is picked up.
      if (t.rescan) this.resolve();
      if (this.root === null) return;
      this.forceRescan = true;
    }
    if (t.rescan || this.forceRescan) {
      this.forceRescan = false;
      this.rescan(this.root);
      this.rank(t);
    }
    // Layout first: the reads below must cover the units selected just now.
    if (this.dirty) this.rebuild();
    for (const u of this.selected) this.readUnit(u, t);
    const v = this.values;
    for (const u of this.selected) v.set(u.out, u.base);
  }

  private newUnit(path: string, ino: number): Unit {
    const dir = path === '' ? this.root! : `${this.root!}/${path}`;
    const u: Unit = {
      path,
      dir,
      label: cleanName(path === '' ? '/' : path),
      ino,
      hasMem: false,
      hasPsi: false,
      hasIo: false,
      selected: false,
      vanished: false,
      cpu: new SourceFile(`${dir}/cpu.stat`, this.ctx.budget),
      mem: null,
      memMaxFile: null,
      psi: [],
      io: null,
      memMax: NaN,
      cur: new Float64Array(RAW),
      prev: new Float64Array(RAW),
      prevMono: NaN,
      lastUsage: NaN,
      lastUsageMono: NaN,
      rankUsage: NaN,
      rankMono: NaN,
      rankKey: 0,
      out: new Float64Array(0),
      base: -1,
    };
    this.probeFiles(u);
    return u;
  }

  /** Which controllers' files this unit has (a hybrid hierarchy often has no memory or io). */
  private probeFiles(u: Unit): void {
    const budget = this.ctx.budget;
    u.hasMem = existsSync(`${u.dir}/memory.current`);
    u.hasIo = existsSync(`${u.dir}/io.stat`);
    u.hasPsi = existsSync(`${u.dir}/cpu.pressure`);
    u.mem = u.hasMem ? new SourceFile(`${u.dir}/memory.current`, budget) : null;
    u.memMaxFile = u.hasMem ? new SourceFile(`${u.dir}/memory.max`, budget) : null;
    u.io = u.hasIo ? new SourceFile(`${u.dir}/io.stat`, budget) : null;
    u.psi = u.hasPsi ? PSI.map((r) => new SourceFile(`${u.dir}/${r}.pressure`, budget)) : [];
    u.out = new Float64Array(1 + (u.hasMem ? 2 : 0) + (u.hasPsi ? 6 : 0) + (u.hasIo ? 2 : 0));
    u.out.fill(NaN);
  }

  private closeFiles(u: Unit): void {
    u.cpu.close();
    u.mem?.close();
    u.memMaxFile?.close();
    u.io?.close();
    for (const f of u.psi) f.close();
  }

  private rescan(root: string): void {
    const paths = matchCgroups(root, this.include, this.exclude);
    const live = new Set<string>();
    for (const path of paths) {
      let ino: number;
      try {
        ino = statSync(path === '' ? root : `${root}/${path}`).ino;
      } catch {
        continue;
      }
      live.add(path);
      const old = this.units.get(path);
      if (old !== undefined && old.ino === ino && !old.vanished) continue;
      // New, or recreated (another inode): fresh counters; keep its place if it had one.
      const u = this.newUnit(path, ino);
      if (old !== undefined) {
        this.closeFiles(old);
        u.selected = old.selected;
        if (old.selected) this.dirty = true;
      }
      this.units.set(path, u);
    }
    for (const [path, u] of this.units) {
      if (live.has(path)) continue;
      this.closeFiles(u);
      this.units.delete(path);
      if (u.selected) {
        this.dirty = true;
        this.ctx.log.info('cgroup vanished', { cgroup: path });
      }
    }
    let noMem = 0;
    let noIo = 0;
    let noPsi = 0;
    for (const u of this.units.values()) {
      if (!u.hasMem) noMem++;
      if (!u.hasIo) noIo++;
      if (!u.hasPsi) noPsi++;
    }
    this.report('cgroup.memory', noMem, 'memory controller not enabled (no memory.current)');
    this.report('cgroup.io', noIo, 'io controller not enabled (no io.stat)');
    this.report('cgroup.psi', noPsi, 'no per-cgroup pressure files (PSI off or cgroup.pressure=0)');
  }

  private report(key: string, missing: number, reason: string): void {
    if (missing > 0)
      this.ctx.unavailable(key, `${reason} in ${missing} of ${this.units.size} cgroups`);
    else this.ctx.available(key);
  }

  private readOnce(f: SourceFile, parse: (sc: Scanner) => number): number {
    const n = f.read();
    return n < 0 ? NaN : parse(this.sc.reset(scratch.buf, n));
  }

  /** Picks the top N by CPU use over the rescan window; see the class comment. */
  private rank(t: Tick): void {
    const all: Unit[] = [];
    let known = false;
    for (const u of this.units.values()) {
      let usage: number;
      let at: number;
      if (u.selected && u.lastUsageMono > u.rankMono) {
        usage = u.lastUsage;
        at = u.lastUsageMono;
      } else {
        // cpu.stat stays open for every matched unit (within the fd budget): ranking is then
        // one pread per unit; the other files are opened only for the top N.
        usage = this.readOnce(u.cpu, parseCpuStatUsage);
        at = t.mono;
      }
      const rate = counterDelta(u.rankUsage, usage) / (at - u.rankMono);
      u.rankUsage = usage;
      u.rankMono = at;
      u.rankKey = rate;
      if (rate >= 0) known = true;
      all.push(u);
    }
    // First ranking: no window yet, so lifetime usage stands in for the rate.
    for (const u of all) {
      const k = known ? u.rankKey : u.rankUsage;
      u.rankKey = k >= 0 ? k : 0;
    }
    const byKey = (a: Unit, b: Unit): number =>
      b.rankKey - a.rankKey ||
      Number(b.selected) - Number(a.selected) ||
      (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
    all.sort(byKey);
    const n = Math.min(this.topN, all.length);
    if (n > 0 && n < all.length && all[n]!.rankKey === all[n - 1]!.rankKey) this.breakTie(all, n);
    const next = new Set(all.slice(0, n));
    for (const u of all) {
      const sel = next.has(u);
      if (sel === u.selected) continue;
      u.selected = sel;
      this.dirty = true;
      if (sel) {
        u.prevMono = NaN;
      } else {
        u.io?.close();
        u.memMaxFile?.close();
        for (const f of u.psi) f.close();
      }
    }
    // Limits change rarely (systemctl set-property): read at rescans, not every tick.
    for (const u of next)
      if (u.memMaxFile !== null) u.memMax = this.readOnce(u.memMaxFile, parseLimit);
  }

  /** Units tied with the N-th on CPU are ordered by memory.current, read only for them. */
  private breakTie(all: Unit[], n: number): void {
    const key = all[n - 1]!.rankKey;
    let s = n - 1;
    while (s > 0 && all[s - 1]!.rankKey === key) s--;
    let e = n;
    while (e < all.length && all[e]!.rankKey === key) e++;
    const group = all.slice(s, e);
    const mem = new Map<Unit, number>();
    for (const u of group) {
      let m = -1;
      // Left open (within the fd budget): on an idle host most units tie at zero every rescan.
      if (u.mem !== null) m = this.readOnce(u.mem, (sc) => sc.uint());
      mem.set(u, m >= 0 ? m : -1);
    }
    group.sort(
      (a, b) =>
        mem.get(b)! - mem.get(a)! ||
        Number(b.selected) - Number(a.selected) ||
        (a.path < b.path ? -1 : a.path > b.path ? 1 : 0),
    );
    for (let i = 0; i < group.length; i++) all[s + i] = group[i]!;
  }

  private readUnit(u: Unit, t: Tick): void {
    if (u.vanished) return;
    const out = u.out;
    const cur = u.cur;
    const n = u.cpu.read();
    if (n < 0) {
      u.vanished = true;
      out.fill(NaN);
      this.ctx.log.info('cgroup vanished', { cgroup: u.path, err: u.cpu.err });
      return;
    }
    const sc = this.sc;
    cur[R_USAGE] = parseCpuStatUsage(sc.reset(scratch.buf, n));
    const elapsed = t.mono - u.prevMono;
    const dt = elapsed > 0 ? elapsed : NaN;
    const prev = u.prev;
    let i = 0;
    out[i++] = counterDelta(prev[R_USAGE]!, cur[R_USAGE]) / (dt * 1000);
    if (u.mem !== null) {
      const m = u.mem.read();
      out[i++] = m < 0 ? NaN : sc.reset(scratch.buf, m).uint();
      out[i++] = u.memMax;
    }
    if (u.hasPsi) {
      const p = this.tmp;
      for (let r = 0; r < 3; r++) {
        const m = u.psi[r]!.read();
        if (m < 0) p.fill(NaN);
        else parsePressure(sc.reset(scratch.buf, m), p);
        const slot = R_PSI + r * 2;
        cur[slot] = p[1]!;
        cur[slot + 1] = p[3]!;
        out[i++] = stalledPct(prev[slot]!, cur[slot], dt);
        out[i++] = stalledPct(prev[slot + 1]!, cur[slot + 1]!, dt);
      }
    }
    if (u.io !== null) {
      const m = u.io.read();
      if (m < 0) {
        cur[R_IO] = NaN;
        cur[R_IO + 1] = NaN;
      } else {
        parseIoStat(sc.reset(scratch.buf, m), this.tmp);
        cur[R_IO] = this.tmp[0]!;
        cur[R_IO + 1] = this.tmp[1]!;
      }
      const k = 1000 / dt;
      out[i++] = counterDelta(prev[R_IO]!, cur[R_IO]) * k;
      out[i++] = counterDelta(prev[R_IO + 1]!, cur[R_IO + 1]!) * k;
    }
    u.prev = cur;
    u.cur = prev;
    u.prevMono = t.mono;
    u.lastUsage = cur[R_USAGE]!;
    u.lastUsageMono = t.mono;
  }

  private rebuild(): void {
    this.dirty = false;
    const sel = [...this.units.values()].filter((u) => u.selected);
    sel.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const b = new SeriesBuilder();
    const m = (unit: string) => metaOf('cgroup', unit);
    for (const u of sel) {
      const p = `cgroup.${u.label}.`;
      u.base = b.ids.length;
      b.add(`${p}cpu_cores`, m('cores'));
      if (u.hasMem) {
        b.add(`${p}mem_current_bytes`, m('bytes'));
        b.add(`${p}mem_max_bytes`, m('bytes'));
      }
      if (u.hasPsi) {
        for (const r of PSI) {
          b.add(`${p}psi.${r}.some_stalled_pct`, m('pct'));
          b.add(`${p}psi.${r}.full_stalled_pct`, m('pct'));
        }
      }
      if (u.hasIo) {
        b.add(`${p}io_read_bytes_per_s`, m('bytes_per_s'));
        b.add(`${p}io_write_bytes_per_s`, m('bytes_per_s'));
      }
    }
    this.selected = sel;
    this.setSeries(b.ids, b.metas);
  }

  override close(): void {
    for (const u of this.units.values()) this.closeFiles(u);
    this.units.clear();
    this.selected = [];
  }
}
