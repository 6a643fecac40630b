/**
 * The on-disk spool: where ticks wait while Redis is away. Append-only segment files of
 * checksummed records; segments are replayed oldest first and deleted once written. A record
 * is written with one write(2), so a `kill -9` loses nothing that append() returned from.
 *
 * Record: "SC" | type u8 | flags u8 | payload length u32 | CRC-32 u32 | payload   (little-endian)
 * The CRC (zlib's CRC-32) covers type, flags, length and payload. A reader that meets a bad
 * header, length or CRC counts one bad record and resynchronises on the next "SC" magic.
 * See agent/store/DATA-MODEL.md for the payloads.
 */
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import type { Logger } from '../shared/log.js';
import type { PartialRecord, StoreRecord, TickRecord } from './records.js';
import { summarise } from './rollup.js';

const MAGIC0 = 0x53; // 'S'
const MAGIC1 = 0x43; // 'C'
const HEADER = 12;
const T_DICT = 1;
const T_TICK = 2;
const T_PARTIAL = 3;
const MAX_PAYLOAD = 64 * 1024 * 1024;

export interface SpoolOptions {
  dir: string;
  maxBytes: number;
  segmentBytes: number;
  /** Bucket step of the summaries kept when raw ticks are shed (the smallest rollup step). */
  shedStepMs: number;
  log: Logger;
}

export interface SpoolStats {
  bytes: number;
  segments: number;
  /** Records appended since start. */
  appended: number;
  /** Records that failed their checks on reading (skipped, counted). */
  badRecords: number;
  /** Raw ticks replaced by rollup summaries because the spool was full. */
  shedTicks: number;
  /** Ticks lost entirely (their summaries too) because the spool was full of summaries. */
  droppedTicks: number;
}

interface Segment {
  seq: number;
  file: string;
  bytes: number;
  /** Holds only rollup summaries: nothing left to shed. */
  summarised?: boolean;
  /** Its bad records were already counted (a segment may be read more than once). */
  counted?: boolean;
}

export class Spool {
  private readonly closed: Segment[] = [];
  private active: (Segment & { fd: number; dicts: Map<readonly string[], number> }) | undefined;
  private nextSeq = 1;
  /** The segment being replayed: never rewritten or dropped under the reader. */
  private pinned: string | undefined;
  private readonly counters = { appended: 0, badRecords: 0, shedTicks: 0, droppedTicks: 0 };

  private constructor(private readonly opts: SpoolOptions) {}

  /** Opens the spool directory, creating it; existing segments are kept for replay. */
  static open(opts: SpoolOptions): Spool {
    mkdirSync(opts.dir, { recursive: true, mode: 0o750 });
    const spool = new Spool(opts);
    for (const name of readdirSync(opts.dir).sort()) {
      const m = /^seg-(\d{12})\.spool$/.exec(name);
      if (m) {
        const file = path.join(opts.dir, name);
        const bytes = statSync(file).size;
        if (bytes === 0) unlinkSync(file);
        else spool.closed.push({ seq: Number(m[1]), file, bytes });
      } else if (name.endsWith('.tmp')) {
        unlinkSync(path.join(opts.dir, name)); // an interrupted compaction; the original is intact
      }
    }
    spool.nextSeq = (spool.closed[spool.closed.length - 1]?.seq ?? 0) + 1;
    return spool;
  }

  get isEmpty(): boolean {
    return this.closed.length === 0 && (this.active === undefined || this.active.bytes === 0);
  }

  get bytes(): number {
    return this.closed.reduce((n, s) => n + s.bytes, 0) + (this.active?.bytes ?? 0);
  }

  stats(): SpoolStats {
    return {
      bytes: this.bytes,
      segments: this.closed.length + (this.active ? 1 : 0),
      ...this.counters,
    };
  }

  /** Appends one record durably (against process death, not power loss). */
  append(rec: StoreRecord): void {
    let seg = this.active;
    if (!seg || seg.bytes >= this.opts.segmentBytes) {
      this.rotate();
      seg = this.openActive();
    }
    // One write(2) for the record and the dictionary it may need: both land or neither.
    const buf = encodeRecord(seg.dicts, rec);
    writeSync(seg.fd, buf);
    seg.bytes += buf.length;
    this.counters.appended++;
    if (this.bytes > this.opts.maxBytes) this.shed();
  }

  /**
   * The oldest segment to replay, closing the active one if it is all there is.
   * undefined when the spool is empty.
   */
  oldestSegment(): string | undefined {
    if (this.closed.length === 0) this.rotate();
    return this.closed[0]?.file;
  }

  /**
   * Every readable record of a segment, in order, for replay; bad ones are counted (once per
   * segment) and skipped. The segment is pinned against shedding until it is removed.
   */
  readSegment(file: string): StoreRecord[] {
    this.pinned = file;
    return this.read(file);
  }

  private read(file: string): StoreRecord[] {
    const { records, bad } = decodeSegment(readFileSync(file));
    const seg = this.closed.find((x) => x.file === file);
    if (bad > 0 && !seg?.counted) {
      this.counters.badRecords += bad;
      this.opts.log.warn('spool segment has bad records; skipped them and kept the rest', {
        file,
        bad,
        good: records.length,
      });
    }
    if (seg) seg.counted = true;
    return records;
  }

  /** Deletes a segment whose records are all in Redis. */
  removeSegment(file: string): void {
    this.forgetSegment(file);
    try {
      unlinkSync(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  /** Stops tracking a segment (gone or unreadable) without touching the file. */
  forgetSegment(file: string): void {
    const i = this.closed.findIndex((s) => s.file === file);
    if (i >= 0) this.closed.splice(i, 1);
    if (this.pinned === file) this.pinned = undefined;
  }

  close(): void {
    this.rotate();
  }

  private openActive(): NonNullable<Spool['active']> {
    const seq = this.nextSeq++;
    const file = path.join(this.opts.dir, `seg-${String(seq).padStart(12, '0')}.spool`);
    const fd = openSync(file, 'a', 0o640);
    this.active = { seq, file, bytes: 0, fd, dicts: new Map() };
    return this.active;
  }

  private rotate(): void {
    const seg = this.active;
    if (!seg) return;
    closeSync(seg.fd);
    this.active = undefined;
    if (seg.bytes === 0) unlinkSync(seg.file);
    else this.closed.push({ seq: seg.seq, file: seg.file, bytes: seg.bytes });
  }

  /**
   * Over the cap: replace the oldest raw ticks by their rollup summaries; once only summaries
   * are left, drop the oldest. Every loss is counted and logged at error level.
   */
  private shed(): void {
    const log = this.opts.log;
    if (this.closed.length === 0) this.rotate();
    for (const seg of [...this.closed]) {
      if (this.bytes <= this.opts.maxBytes) return;
      if (seg.summarised || seg.file === this.pinned) continue;
      const records = this.read(seg.file);
      const ticks = records.filter((r): r is TickRecord => r.kind === 'tick');
      if (ticks.length === 0) {
        seg.summarised = true;
        continue;
      }
      const kept: StoreRecord[] = [];
      // Keep record order: summaries of a run of ticks go where the run was.
      let run: TickRecord[] = [];
      const flush = (): void => {
        kept.push(...summarise(run, this.opts.shedStepMs));
        run = [];
      };
      for (const r of records) {
        if (r.kind === 'tick') run.push(r);
        else {
          flush();
          kept.push(r);
        }
      }
      flush();
      const before = seg.bytes;
      const summary = encodeSegment(kept);
      if (summary.length >= before) {
        // Too few ticks per rollup bucket for a summary to be smaller (a long interval, or
        // no rollup tiers): summarising would grow the spool, so the segment goes whole.
        this.drop(seg, records);
        continue;
      }
      replaceFile(seg.file, summary);
      seg.bytes = summary.length;
      seg.summarised = true;
      this.counters.shedTicks += ticks.length;
      log.error('spool full: shed raw samples, kept their rollups', {
        file: seg.file,
        ticks: ticks.length,
        from: ticks[0]!.ts,
        to: ticks[ticks.length - 1]!.ts,
        freed_bytes: before - seg.bytes,
        spool_bytes: this.bytes,
        max_bytes: this.opts.maxBytes,
      });
    }
    for (const seg of [...this.closed]) {
      if (this.bytes <= this.opts.maxBytes) return;
      if (seg.file !== this.pinned) this.drop(seg, this.read(seg.file));
    }
  }

  private drop(seg: Segment, records: StoreRecord[]): void {
    const lost = records.reduce((n, r) => n + (r.kind === 'tick' ? 1 : r.ticks), 0);
    this.counters.droppedTicks += lost;
    this.removeSegment(seg.file);
    this.opts.log.error('spool full: dropped the oldest segment', {
      file: seg.file,
      ticks: lost,
      from: records[0]?.ts,
      to: records[records.length - 1]?.ts,
    });
  }
}

function encodeSegment(records: StoreRecord[]): Buffer {
  const dicts = new Map<readonly string[], number>();
  return Buffer.concat(records.map((r) => encodeRecord(dicts, r)));
}

/** A record's frame, preceded by its dictionary's frame the first time `dicts` sees it. */
function encodeRecord(dicts: Map<readonly string[], number>, r: StoreRecord): Buffer {
  let id = dicts.get(r.series);
  const body = (dict: number): Buffer =>
    r.kind === 'tick'
      ? frame(T_TICK, encodeTick(dict, r))
      : frame(T_PARTIAL, encodePartial(dict, r));
  if (id !== undefined) return body(id);
  id = dicts.size + 1;
  dicts.set(r.series, id);
  return Buffer.concat([frame(T_DICT, encodeDict(id, r.series)), body(id)]);
}

/** Write-then-rename: a crash leaves the old file or the new one, never half of either. */
function replaceFile(file: string, buf: Buffer): void {
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w', 0o640);
  writeSync(fd, buf);
  closeSync(fd);
  renameSync(tmp, file);
}

function frame(type: number, payload: Buffer): Buffer {
  const rec = Buffer.allocUnsafe(HEADER + payload.length);
  rec[0] = MAGIC0;
  rec[1] = MAGIC1;
  rec[2] = type;
  rec[3] = 0;
  rec.writeUInt32LE(payload.length, 4);
  payload.copy(rec, HEADER);
  rec.writeUInt32LE(recordCrc(rec, payload.length), 8);
  return rec;
}

function recordCrc(rec: Buffer, len: number): number {
  return crc32(rec.subarray(HEADER, HEADER + len), crc32(rec.subarray(2, 8)));
}

// Dictionary: id u32 | count u32 | names joined by "\n" (UTF-8)
function encodeDict(id: number, names: readonly string[]): Buffer {
  const text = Buffer.from(names.join('\n'), 'utf8');
  const b = Buffer.allocUnsafe(8 + text.length);
  b.writeUInt32LE(id, 0);
  b.writeUInt32LE(names.length, 4);
  text.copy(b, 8);
  return b;
}

// Tick: dict u32 | count u32 | ts f64 | values f32 × count  (float32, as Redis stores them)
function encodeTick(dict: number, t: TickRecord): Buffer {
  const n = t.values.length;
  const b = Buffer.allocUnsafe(16 + 4 * n);
  b.writeUInt32LE(dict, 0);
  b.writeUInt32LE(n, 4);
  b.writeDoubleLE(t.ts, 8);
  for (let i = 0; i < n; i++) b.writeFloatLE(t.values[i]!, 16 + 4 * i);
  return b;
}

// Partial: dict u32 | count u32 | step ms u32 | ticks u32 | bucket ts f64 | ts f64 |
//          per series: n u32, min f32, max f32, last f32, sum f64
function encodePartial(dict: number, p: PartialRecord): Buffer {
  const n = p.series.length;
  const b = Buffer.allocUnsafe(32 + 24 * n);
  b.writeUInt32LE(dict, 0);
  b.writeUInt32LE(n, 4);
  b.writeUInt32LE(p.stepMs, 8);
  b.writeUInt32LE(p.ticks, 12);
  b.writeDoubleLE(p.bucketTs, 16);
  b.writeDoubleLE(p.ts, 24);
  for (let i = 0; i < n; i++) {
    const o = 32 + 24 * i;
    b.writeUInt32LE(p.count[i]!, o);
    b.writeFloatLE(p.min[i]!, o + 4);
    b.writeFloatLE(p.max[i]!, o + 8);
    b.writeFloatLE(p.last[i]!, o + 12);
    b.writeDoubleLE(p.sum[i]!, o + 16);
  }
  return b;
}

/** Decodes a segment; exported for tests. Never throws on bad bytes: counts them. */
export function decodeSegment(buf: Buffer): { records: StoreRecord[]; bad: number } {
  const records: StoreRecord[] = [];
  const dicts = new Map<number, string[]>();
  let bad = 0;
  let pos = 0;
  let inGarbage = false;
  const skip = (): void => {
    if (!inGarbage) bad++;
    inGarbage = true;
    pos++;
  };
  while (pos + HEADER <= buf.length) {
    if (buf[pos] !== MAGIC0 || buf[pos + 1] !== MAGIC1) {
      skip();
      continue;
    }
    const type = buf[pos + 2]!;
    const len = buf.readUInt32LE(pos + 4);
    if (
      len > MAX_PAYLOAD ||
      pos + HEADER + len > buf.length ||
      (type !== T_DICT && type !== T_TICK && type !== T_PARTIAL)
    ) {
      skip();
      continue;
    }
    const rec = buf.subarray(pos, pos + HEADER + len);
    if (rec.readUInt32LE(8) !== recordCrc(rec, len)) {
      skip();
      continue;
    }
    inGarbage = false;
    const payload = rec.subarray(HEADER);
    pos += HEADER + len;
    const decoded = decodePayload(type, payload, dicts);
    if (decoded === 'bad') bad++;
    else if (decoded) records.push(decoded);
  }
  if (pos < buf.length && !inGarbage) bad++; // a truncated final record
  return { records, bad };
}

function decodePayload(
  type: number,
  p: Buffer,
  dicts: Map<number, string[]>,
): StoreRecord | 'bad' | undefined {
  if (p.length < 8) return 'bad';
  const id = p.readUInt32LE(0);
  const n = p.readUInt32LE(4);
  if (type === T_DICT) {
    const names = n === 0 ? [] : p.subarray(8).toString('utf8').split('\n');
    if (names.length !== n) return 'bad';
    dicts.set(id, names);
    return undefined;
  }
  const series = dicts.get(id);
  if (!series || series.length !== n) return 'bad'; // its dictionary was lost
  if (type === T_TICK) {
    if (p.length !== 16 + 4 * n) return 'bad';
    const values = new Float64Array(n);
    for (let i = 0; i < n; i++) values[i] = p.readFloatLE(16 + 4 * i);
    return { kind: 'tick', ts: p.readDoubleLE(8), series, values };
  }
  if (p.length !== 32 + 24 * n) return 'bad';
  const rec: PartialRecord = {
    kind: 'partial',
    stepMs: p.readUInt32LE(8),
    ticks: p.readUInt32LE(12),
    bucketTs: p.readDoubleLE(16),
    ts: p.readDoubleLE(24),
    series,
    count: new Uint32Array(n),
    min: new Float64Array(n),
    max: new Float64Array(n),
    sum: new Float64Array(n),
    last: new Float64Array(n),
  };
  for (let i = 0; i < n; i++) {
    const o = 32 + 24 * i;
    rec.count[i] = p.readUInt32LE(o);
    rec.min[i] = p.readFloatLE(o + 4);
    rec.max[i] = p.readFloatLE(o + 8);
    rec.last[i] = p.readFloatLE(o + 12);
    rec.sum[i] = p.readDoubleLE(o + 16);
  }
  return rec;
}
