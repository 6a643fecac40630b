import { Family, SeriesBuilder, type FamilyContext, type Tick } from './family.js';
import { metaOf } from './names.js';
import { Scanner, bytes } from './parse.js';
import { SourceFile, scratch } from './source.js';

/** /proc/meminfo keys the family reads, in the slots of `MemInfo.kb`. */
export const MEMINFO_KEYS = [
  'MemTotal',
  'MemFree',
  'MemAvailable',
  'Buffers',
  'Cached',
  'Dirty',
  'SwapTotal',
  'SwapFree',
] as const;
const [TOTAL, FREE, AVAIL, BUFFERS, CACHED, DIRTY, SWAP_TOTAL, SWAP_FREE] = [
  0, 1, 2, 3, 4, 5, 6, 7,
];

const KEYS = MEMINFO_KEYS.map((k) => bytes(k + ':'));

/** Values in kB (as the kernel prints them), NaN for a key the kernel lacks. */
export function parseMeminfo(sc: Scanner, kb: Float64Array): void {
  kb.fill(NaN);
  let found = 0;
  while (!sc.eof() && found < KEYS.length) {
    const c = sc.buf[sc.pos];
    for (let k = 0; k < KEYS.length; k++) {
      const key = KEYS[k]!;
      if (key[0] === c && Number.isNaN(kb[k]!) && sc.startsWith(key)) {
        sc.pos += key.length;
        kb[k] = sc.uint();
        found++;
        break;
      }
    }
    sc.nextLine();
  }
}

/** Series in output order: name and how it is derived from the kB slots. */
const SERIES: readonly [string, (kb: Float64Array) => number][] = [
  ['mem.total_bytes', (kb) => kb[TOTAL]!],
  ['mem.available_bytes', (kb) => kb[AVAIL]!],
  ['mem.used_bytes', (kb) => kb[TOTAL]! - kb[AVAIL]!],
  ['mem.free_bytes', (kb) => kb[FREE]!],
  ['mem.cached_bytes', (kb) => kb[CACHED]!],
  ['mem.buffers_bytes', (kb) => kb[BUFFERS]!],
  ['mem.dirty_bytes', (kb) => kb[DIRTY]!],
  ['mem.swap_total_bytes', (kb) => kb[SWAP_TOTAL]!],
  ['mem.swap_free_bytes', (kb) => kb[SWAP_FREE]!],
  ['mem.swap_used_bytes', (kb) => kb[SWAP_TOTAL]! - kb[SWAP_FREE]!],
];

export class MemoryFamily extends Family {
  private readonly file: SourceFile;
  private readonly sc = new Scanner();
  private readonly kb = new Float64Array(MEMINFO_KEYS.length);

  constructor(ctx: FamilyContext, procfs: string) {
    super('mem', ctx);
    this.file = new SourceFile(`${procfs}/meminfo`);
    const b = new SeriesBuilder();
    const m = metaOf('mem', 'bytes');
    for (const [name] of SERIES) b.add(name, m);
    this.setSeries(b.ids, b.metas);
  }

  collect(_t: Tick): void {
    const n = this.file.read();
    if (n < 0) {
      this.ctx.unavailable('mem', `${this.file.path}: ${this.file.err}`);
      this.values.fill(NaN);
      return;
    }
    this.ctx.available('mem');
    parseMeminfo(this.sc.reset(scratch.buf, n), this.kb);
    // MemAvailable exists since Linux 3.14; without it used/available stay NaN.
    if (Number.isNaN(this.kb[AVAIL]!))
      this.ctx.unavailable('mem.available', 'no MemAvailable in meminfo');
    for (let i = 0; i < SERIES.length; i++) this.values[i] = SERIES[i]![1](this.kb) * 1024;
  }

  override close(): void {
    this.file.close();
  }
}
