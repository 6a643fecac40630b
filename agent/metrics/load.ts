import { Family, SeriesBuilder, type FamilyContext, type Tick } from './family.js';
import { metaOf } from './names.js';
import { Scanner } from './parse.js';
import { SourceFile, scratch } from './source.js';

/**
 * /proc/loadavg: `0.10 0.17 0.09 1/139 6053` → avg1, avg5, avg15, runnable, total tasks
 * into out[0..4].
 */
export function parseLoadavg(sc: Scanner, out: Float64Array): void {
  out[0] = sc.decimal();
  out[1] = sc.decimal();
  out[2] = sc.decimal();
  out[3] = sc.uint();
  out[4] = sc.skipPast(0x2f) ? sc.uint() : NaN;
}

export class LoadFamily extends Family {
  private readonly file: SourceFile;
  private readonly sc = new Scanner();

  constructor(ctx: FamilyContext, procfs: string) {
    super('load', ctx);
    this.file = new SourceFile(`${procfs}/loadavg`);
    const b = new SeriesBuilder();
    const load = metaOf('load', 'load');
    const tasks = metaOf('load', 'tasks');
    b.add('load.avg1', load);
    b.add('load.avg5', load);
    b.add('load.avg15', load);
    b.add('load.runnable_tasks', tasks);
    b.add('load.total_tasks', tasks);
    this.setSeries(b.ids, b.metas);
  }

  collect(_t: Tick): void {
    const n = this.file.read();
    if (n < 0) {
      this.ctx.unavailable('load', `${this.file.path}: ${this.file.err}`);
      this.values.fill(NaN);
      return;
    }
    this.ctx.available('load');
    parseLoadavg(this.sc.reset(scratch.buf, n), this.values);
  }

  override close(): void {
    this.file.close();
  }
}
