import { Family, SeriesBuilder, type FamilyContext, type Tick } from './family.js';
import { metaOf } from './names.js';
import { Scanner, bytes } from './parse.js';
import { SourceFile, scratch } from './source.js';

/** /proc/stat time fields in kernel order; guest and guest_nice are already inside user and nice. */
export const CPU_FIELDS = [
  'user',
  'nice',
  'system',
  'idle',
  'iowait',
  'irq',
  'softirq',
  'steal',
] as const;
const NF = CPU_FIELDS.length;
const IDLE = 3;
const IOWAIT = 4;
/** Series per row: busy, then one per field. */
const PER_ROW = NF + 1;

/** Parsed `cpu` lines: row 0 is the total (`id` -1), the rest are cores in file order. */
export class CpuRows {
  count = 0;
  ids = new Int32Array(8);
  vals = new Float64Array(8 * NF);

  ensure(rows: number): void {
    if (rows <= this.ids.length) return;
    const ids = new Int32Array(rows * 2);
    ids.set(this.ids);
    const vals = new Float64Array(rows * 2 * NF);
    vals.set(this.vals);
    this.ids = ids;
    this.vals = vals;
  }
}

const K_CPU = bytes('cpu');

/** Parses the `cpu` and `cpuN` lines at the top of /proc/stat (USER_HZ ticks). */
export function parseProcStat(sc: Scanner, rows: CpuRows): void {
  rows.count = 0;
  while (!sc.eof() && sc.startsWith(K_CPU)) {
    sc.pos += 3;
    const id = sc.buf[sc.pos] === 0x20 ? -1 : sc.uint();
    const r = rows.count;
    rows.ensure(r + 1);
    rows.ids[r] = Number.isNaN(id) ? -2 : id;
    const base = r * NF;
    for (let f = 0; f < NF; f++) {
      const v = sc.uint();
      // Old kernels lack the later fields (steal since 2.6.11).
      rows.vals[base + f] = Number.isNaN(v) ? 0 : v;
    }
    rows.count++;
    sc.nextLine();
  }
}

export class CpuFamily extends Family {
  private readonly file: SourceFile;
  private readonly sc = new Scanner();
  private cur = new CpuRows();
  private prev = new CpuRows();
  private hasPrev = false;
  /** Core ids behind the current series, to notice CPU hotplug. */
  private seriesIds = new Int32Array(0);

  constructor(
    ctx: FamilyContext,
    procfs: string,
    private perCore: boolean,
  ) {
    super('cpu', ctx);
    this.file = new SourceFile(`${procfs}/stat`);
  }

  setPerCore(perCore: boolean): void {
    if (perCore === this.perCore) return;
    this.perCore = perCore;
    this.seriesIds = new Int32Array(0);
    this.series = [];
  }

  collect(_t: Tick): void {
    const n = this.file.read();
    if (n < 0) {
      this.ctx.unavailable('cpu', `${this.file.path}: ${this.file.err}`);
      this.values.fill(NaN);
      this.hasPrev = false;
      return;
    }
    this.ctx.available('cpu');
    parseProcStat(this.sc.reset(scratch.buf, n), this.cur);
    const cur = this.cur;
    const rowsOut = this.perCore ? cur.count : Math.min(1, cur.count);
    if (!this.sameRows(rowsOut)) this.rebuild(rowsOut);

    const prev = this.prev;
    const v = this.values;
    for (let r = 0; r < rowsOut; r++) {
      const out = r * PER_ROW;
      const pr = this.hasPrev ? this.prevRowOf(cur.ids[r]!, r) : -1;
      if (pr < 0) {
        v.fill(NaN, out, out + PER_ROW);
        continue;
      }
      const cb = r * NF;
      const pb = pr * NF;
      let total = 0;
      for (let f = 0; f < NF; f++) {
        // iowait (and on some kernels idle) can step backwards a little: clamp, never a reset.
        const d = cur.vals[cb + f]! - prev.vals[pb + f]!;
        total += d > 0 ? d : 0;
      }
      if (!(total > 0)) {
        v.fill(NaN, out, out + PER_ROW);
        continue;
      }
      const scale = 100 / total;
      let idle = 0;
      for (let f = 0; f < NF; f++) {
        const d = cur.vals[cb + f]! - prev.vals[pb + f]!;
        const dd = d > 0 ? d : 0;
        if (f === IDLE || f === IOWAIT) idle += dd;
        v[out + 1 + f] = dd * scale;
      }
      v[out] = (total - idle) * scale;
    }
    this.prev = cur;
    this.cur = prev;
    this.hasPrev = true;
  }

  /** Row of core `id` in the previous reading (rows usually line up, so try `hint` first). */
  private prevRowOf(id: number, hint: number): number {
    const p = this.prev;
    if (hint < p.count && p.ids[hint] === id) return hint;
    for (let r = 0; r < p.count; r++) if (p.ids[r] === id) return r;
    return -1;
  }

  private sameRows(rows: number): boolean {
    if (this.seriesIds.length !== rows) return false;
    for (let r = 0; r < rows; r++) if (this.seriesIds[r] !== this.cur.ids[r]) return false;
    return true;
  }

  private rebuild(rows: number): void {
    const b = new SeriesBuilder();
    const pct = metaOf('cpu', 'pct');
    for (let r = 0; r < rows; r++) {
      const id = this.cur.ids[r]!;
      const prefix = id === -1 ? 'cpu.' : `cpu.core${id}.`;
      b.add(`${prefix}busy_pct`, pct);
      for (const f of CPU_FIELDS) b.add(`${prefix}${f}_pct`, pct);
    }
    this.seriesIds = this.cur.ids.slice(0, rows);
    this.setSeries(b.ids, b.metas);
  }

  override close(): void {
    this.file.close();
  }
}
