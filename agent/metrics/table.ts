import { Family, SeriesBuilder, type FamilyContext, type Tick } from './family.js';
import { metaOf } from './names.js';
import { GlobSet } from './glob.js';
import { Scanner } from './parse.js';
import { SourceFile, scratch } from './source.js';

/** One interface or block device seen in a per-device table file. */
export interface Row {
  name: string;
  /** Series-name form of `name`. */
  label: string;
  included: boolean;
  /** Kernel identity (ifindex, device number): a change means the device was recreated. */
  ident: number;
  /** Tick number it was last present. */
  seen: number;
  vanished: boolean;
  cur: Float64Array;
  prev: Float64Array;
  prevMono: number;
  out: Float64Array;
  base: number;
}

export interface TableSpec {
  family: string;
  /** Key under which a missing source is reported. */
  key: string;
  file: string;
  headerLines: number;
  /** Raw counters kept per row. */
  rawFields: number;
  /** Series leaf names and units, in output order. */
  leaves: readonly (readonly [string, string])[];
}

/**
 * Shared logic of /proc/net/dev and /proc/diskstats: one line per device, read every tick;
 * new names are classified when first seen, vanished ones reported once and dropped at the
 * next rescan.
 */
export abstract class TableFamily extends Family {
  protected readonly rows = new Map<string, Row>();
  protected include: GlobSet;
  protected exclude: GlobSet;
  private readonly file: SourceFile;
  private readonly sc = new Scanner();
  private included: Row[] = [];
  private dirty = true;
  private reclassify = false;

  constructor(
    ctx: FamilyContext,
    protected readonly spec: TableSpec,
    include: readonly string[],
    exclude: readonly string[],
  ) {
    super(spec.family, ctx);
    this.file = new SourceFile(spec.file, null, 'records');
    this.include = new GlobSet(include);
    this.exclude = new GlobSet(exclude);
  }

  /** New globs or flags: every known row is classified again on the next tick. */
  protected setFilters(include: readonly string[], exclude: readonly string[]): void {
    this.include = new GlobSet(include);
    this.exclude = new GlobSet(exclude);
    this.reclassify = true;
  }

  /** Whether a device passes the globs and the family's own rule (virtual, partition). */
  protected abstract wanted(name: string): boolean;
  /** Parses the rest of the line after the name into `row.cur`; returns the line's identity or NaN. */
  protected abstract parseLine(sc: Scanner, row: Row): number;
  /** Identity from sysfs at classification and rescans (NaN when the line carries it). */
  protected abstract sysIdent(name: string): number;
  /** Turns `prev`/`cur` into `out` over `elapsedMs` (NaN on a first reading). */
  protected abstract compute(row: Row, elapsedMs: number): void;
  /** Moves the cursor past the name and returns it (the cursor then sits on the first number). */
  protected abstract parseName(sc: Scanner): string;
  protected abstract labelOf(name: string): string;

  collect(t: Tick): void {
    const n = this.file.read();
    if (n < 0) {
      this.ctx.unavailable(this.spec.key, `${this.file.path}: ${this.file.err}`);
      this.values.fill(NaN);
      return;
    }
    this.ctx.available(this.spec.key);
    if (this.reclassify) this.applyFilters();
    const sc = this.sc.reset(scratch.buf, n);
    for (let h = 0; h < this.spec.headerLines; h++) sc.nextLine();
    while (!sc.eof()) {
      const name = this.parseName(sc);
      if (name === '') {
        sc.nextLine();
        continue;
      }
      let row = this.rows.get(name);
      if (row === undefined) row = this.addRow(name);
      row.seen = t.n;
      if (row.included) this.readRow(sc, row, t);
      sc.nextLine();
    }
    for (const row of this.included) {
      if (row.seen === t.n) continue;
      if (!row.vanished) {
        row.vanished = true;
        row.out.fill(NaN);
        this.ctx.log.info(`${this.spec.family} device vanished`, { device: row.name });
      }
    }
    if (t.rescan) this.rescan(t);
    if (this.dirty) this.rebuild();
    const v = this.values;
    for (const row of this.included) v.set(row.out, row.base);
  }

  private readRow(sc: Scanner, row: Row, t: Tick): void {
    const ident = this.parseLine(sc, row);
    if (!Number.isNaN(ident) && ident !== row.ident) {
      row.ident = ident;
      row.prevMono = NaN;
    }
    if (row.vanished) {
      // Back after a gap: a new baseline, since the counters may have restarted.
      row.vanished = false;
      row.prevMono = NaN;
    }
    const elapsed = t.mono - row.prevMono;
    // Gauges are valid on the first reading; rates come out NaN from a NaN interval.
    this.compute(row, elapsed > 0 ? elapsed : NaN);
    const tmp = row.prev;
    row.prev = row.cur;
    row.cur = tmp;
    row.prevMono = t.mono;
  }

  private addRow(name: string): Row {
    const raw = this.spec.rawFields;
    const row: Row = {
      name,
      label: this.labelOf(name),
      included: this.wanted(name),
      ident: NaN,
      seen: -1,
      vanished: false,
      cur: new Float64Array(raw),
      prev: new Float64Array(raw),
      prevMono: NaN,
      out: new Float64Array(this.spec.leaves.length).fill(NaN),
      base: -1,
    };
    if (row.included) {
      row.ident = this.sysIdent(name);
      this.dirty = true;
    }
    this.rows.set(name, row);
    return row;
  }

  private applyFilters(): void {
    this.reclassify = false;
    for (const row of this.rows.values()) {
      const inc = this.wanted(row.name);
      if (inc === row.included) continue;
      row.included = inc;
      row.prevMono = NaN;
      if (inc) row.ident = this.sysIdent(row.name);
      this.dirty = true;
    }
  }

  private rescan(t: Tick): void {
    for (const [name, row] of this.rows) {
      if (row.seen !== t.n) {
        this.rows.delete(name);
        if (row.included) this.dirty = true;
        continue;
      }
      if (!row.included) continue;
      const ident = this.sysIdent(name);
      if (!Number.isNaN(ident) && !Number.isNaN(row.ident) && ident !== row.ident) {
        // Recreated since the last rescan: this tick's rate may straddle two devices; the
        // reading just taken is the new device's and serves as the next baseline.
        row.out.fill(NaN);
      }
      if (!Number.isNaN(ident)) row.ident = ident;
    }
  }

  private rebuild(): void {
    this.dirty = false;
    // Vanished rows keep their place (NaN) until the rescan that drops them.
    for (const row of this.rows.values()) row.base = -1;
    const inc = [...this.rows.values()].filter((r) => r.included);
    inc.sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
    const b = new SeriesBuilder();
    const leaves = this.spec.leaves;
    for (const row of inc) {
      row.base = b.ids.length;
      for (const [leaf, unit] of leaves) {
        b.add(`${this.spec.family}.${row.label}.${leaf}`, metaOf(this.spec.family, unit));
      }
    }
    this.included = inc;
    this.setSeries(b.ids, b.metas);
  }

  override close(): void {
    this.file.close();
  }
}
