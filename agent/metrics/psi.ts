import { stalledPct } from './counter.js';
import { Family, SeriesBuilder, type FamilyContext, type Tick } from './family.js';
import { metaOf } from './names.js';
import { Scanner, parsePressure } from './parse.js';
import { SourceFile, scratch } from './source.js';

export const PSI_RESOURCES = ['cpu', 'memory', 'io'] as const;

interface Resource {
  name: string;
  file: SourceFile;
  hasFull: boolean;
  /** Offset of this resource's first series in `values`. */
  base: number;
  prevSome: number;
  prevFull: number;
  prevMono: number;
}

/** Why a pressure file cannot be read, in words an operator can act on. */
export function psiReason(err: string): string {
  if (err === 'ENOENT') return 'kernel without PSI (CONFIG_PSI) or no /proc/pressure';
  if (err === 'EOPNOTSUPP' || err === 'ENOTSUP') return 'PSI disabled at boot (psi=0)';
  return err;
}

export class PsiFamily extends Family {
  private readonly sc = new Scanner();
  private readonly parsed = new Float64Array(4);
  private resources: Resource[] = [];

  constructor(
    ctx: FamilyContext,
    private readonly procfs: string,
  ) {
    super('psi', ctx);
    this.probe();
  }

  /** Decides the series from what the kernel offers; reported once if nothing is there. */
  private probe(): void {
    const b = new SeriesBuilder();
    const pct = metaOf('psi', 'pct');
    const found: Resource[] = [];
    let err = '';
    for (const name of PSI_RESOURCES) {
      const file = new SourceFile(`${this.procfs}/pressure/${name}`);
      const n = file.read();
      if (n < 0) {
        err = file.err;
        continue;
      }
      parsePressure(this.sc.reset(scratch.buf, n), this.parsed);
      const hasFull = !Number.isNaN(this.parsed[3]!);
      const base = b.ids.length;
      b.add(`psi.${name}.some_avg10`, pct);
      if (hasFull) b.add(`psi.${name}.full_avg10`, pct);
      b.add(`psi.${name}.some_stalled_pct`, pct);
      if (hasFull) b.add(`psi.${name}.full_stalled_pct`, pct);
      found.push({ name, file, hasFull, base, prevSome: NaN, prevFull: NaN, prevMono: NaN });
    }
    if (found.length === 0) this.ctx.unavailable('psi', psiReason(err));
    else this.ctx.available('psi');
    this.resources = found;
    this.setSeries(b.ids, b.metas);
  }

  collect(t: Tick): void {
    const v = this.values;
    const p = this.parsed;
    for (const r of this.resources) {
      const n = r.file.read();
      if (n < 0) {
        p.fill(NaN);
      } else {
        parsePressure(this.sc.reset(scratch.buf, n), p);
      }
      const elapsed = t.mono - r.prevMono;
      let i = r.base;
      v[i++] = p[0]!;
      if (r.hasFull) v[i++] = p[2]!;
      v[i++] = stalledPct(r.prevSome, p[1]!, elapsed);
      if (r.hasFull) v[i++] = stalledPct(r.prevFull, p[3]!, elapsed);
      r.prevSome = p[1]!;
      r.prevFull = p[3]!;
      r.prevMono = t.mono;
    }
  }

  override close(): void {
    for (const r of this.resources) r.file.close();
  }
}
