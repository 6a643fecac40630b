import { readdirSync, realpathSync } from 'node:fs';
import { Family, SeriesBuilder, type FamilyContext, type Tick } from './family.js';
import { metaOf, slug } from './names.js';
import { Scanner } from './parse.js';
import { SourceFile, readText, scratch } from './source.js';

export interface Sensor {
  name: string;
  path: string;
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function trailingInt(s: string, prefix: string): number {
  return Number.parseInt(s.slice(prefix.length), 10);
}

/**
 * Temperature sensors: thermal zones (`thermal.<type>.celsius`) and hwmon `temp*_input`
 * (`thermal.<chip>.<label or tempN>.celsius`). hwmon devices that a thermal zone registers
 * for itself are skipped (same reading twice). Clashing names get the zone or hwmon number.
 */
export function scanSensors(sysfs: string): Sensor[] {
  const cand: { base: string; alt: string; path: string }[] = [];
  const zones = `${sysfs}/class/thermal`;
  for (const e of list(zones)) {
    if (!e.startsWith('thermal_zone')) continue;
    const n = trailingInt(e, 'thermal_zone');
    const type = slug(readText(`${zones}/${e}/type`) ?? e);
    cand.push({
      base: `thermal.${type}.celsius`,
      alt: `thermal.${type}_${n}.celsius`,
      path: `${zones}/${e}/temp`,
    });
  }
  const hw = `${sysfs}/class/hwmon`;
  for (const e of list(hw)) {
    if (!e.startsWith('hwmon')) continue;
    const dir = `${hw}/${e}`;
    try {
      if (realpathSync(dir).includes('/thermal_zone')) continue;
    } catch {
      continue;
    }
    const n = trailingInt(e, 'hwmon');
    const chip = slug(readText(`${dir}/name`) ?? e);
    const inputs = list(dir)
      .filter((f) => f.startsWith('temp') && f.endsWith('_input'))
      .sort((a, b) => trailingInt(a, 'temp') - trailingInt(b, 'temp'));
    for (const f of inputs) {
      const k = f.slice(0, -'_input'.length);
      const label = readText(`${dir}/${k}_label`);
      const leaf = label === undefined ? k : slug(label);
      cand.push({
        base: `thermal.${chip}.${leaf}.celsius`,
        alt: `thermal.${chip}_${n}.${leaf}.celsius`,
        path: `${dir}/${f}`,
      });
    }
  }
  const count = new Map<string, number>();
  for (const c of cand) count.set(c.base, (count.get(c.base) ?? 0) + 1);
  const used = new Set<string>();
  const out: Sensor[] = [];
  for (const c of cand) {
    let name = count.get(c.base) === 1 ? c.base : c.alt;
    for (let i = 2; used.has(name); i++)
      name = `${c.alt.slice(0, -'.celsius'.length)}_${i}.celsius`;
    used.add(name);
    out.push({ name, path: c.path });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export class ThermalFamily extends Family {
  private readonly sc = new Scanner();
  private files: SourceFile[] = [];
  private key = '';
  private scanned = false;

  constructor(
    ctx: FamilyContext,
    private readonly sysfs: string,
  ) {
    super('thermal', ctx);
  }

  collect(t: Tick): void {
    if (t.rescan || !this.scanned) this.rescan();
    const v = this.values;
    for (let i = 0; i < this.files.length; i++) {
      const f = this.files[i]!;
      const n = f.read();
      // A sensor may refuse a read while its device sleeps: NaN for the tick, not a removal.
      v[i] = n < 0 ? NaN : this.sc.reset(scratch.buf, n).int() / 1000;
    }
  }

  private rescan(): void {
    this.scanned = true;
    const sensors = scanSensors(this.sysfs);
    if (sensors.length === 0) {
      this.ctx.unavailable(
        'thermal',
        `no thermal zones or hwmon temperatures under ${this.sysfs}/class`,
      );
    } else {
      this.ctx.available('thermal');
    }
    const key = sensors.map((s) => `${s.name}\0${s.path}`).join('\n');
    if (key === this.key) return;
    this.key = key;
    for (const f of this.files) f.close();
    this.files = sensors.map((s) => new SourceFile(s.path));
    const b = new SeriesBuilder();
    const m = metaOf('thermal', 'celsius');
    for (const s of sensors) b.add(s.name, m);
    this.setSeries(b.ids, b.metas);
  }

  override close(): void {
    for (const f of this.files) f.close();
    this.files = [];
  }
}
