/**
 * Writes records to Redis, one round trip each, through write.lua: raw slot, closed rollup
 * buckets and the `written_until` watermark in one atomic script. After any failure the writer
 * forgets what it knew and re-syncs from Redis before the next write, so a write whose outcome
 * is unknown (timeout) is harmless: the watermark says whether it landed.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../shared/paths.js';
import type { Redis } from 'ioredis';
import type { SeriesMeta } from '../metrics/sample.js';
import type { Logger } from '../shared/log.js';
import { getValue, putValue } from './codec.js';
import {
  chunkExpiresAt,
  layoutDescriptor,
  metaKeys,
  slotOf,
  type StoreLayout,
  type TierLayout,
} from './layout.js';
import { readSlots } from './query.js';
import type { StoreRecord, TickRecord } from './records.js';
import { RollupAggregator } from './rollup.js';

const WRITE_LUA = readFileSync(path.join(packageRoot, 'agent', 'store', 'write.lua'), 'utf8');

/** The pipeline with the script defined by defineCommand below (queued, not awaited). */
type PipelineWithScript = { spikecapWrite(...args: (string | Buffer | number)[]): unknown };

export type WriteOutcome = 'written' | 'duplicate';

export class RedisWriter {
  private synced = false;
  private aggregator: RollupAggregator;
  private registered = new Set<string>();
  /** Series arrays all of whose names are registered: the per-tick check is one lookup. */
  private complete = new WeakSet<readonly string[]>();
  private watermark = -1;
  /** Per tier: the chunk and names we last checked existence for (see write.lua). */
  private known = new Map<TierLayout, { chunk: number; names: readonly string[] }>();
  private joined = new WeakMap<readonly string[], string>();

  constructor(
    private readonly redis: Redis,
    private readonly layout: StoreLayout,
    private readonly log: Logger,
    private readonly metaOf: (id: string) => SeriesMeta | undefined = () => undefined,
  ) {
    if (!('spikecapWrite' in redis))
      redis.defineCommand('spikecapWrite', { numberOfKeys: 0, lua: WRITE_LUA });
    this.aggregator = new RollupAggregator(layout.rollups);
  }

  /** Newest record time known to be in Redis (-1: none). */
  get writtenUntil(): number {
    return this.watermark;
  }

  /** Forget everything learned from Redis; the next write re-syncs first. */
  invalidate(): void {
    this.synced = false;
  }

  /**
   * Reads the watermark, records the layout, and rebuilds the open rollup buckets from the
   * raw samples already in Redis, so rollups continue exactly across restarts.
   */
  async sync(): Promise<void> {
    const keys = metaKeys(this.layout);
    const res = await this.redis
      .pipeline()
      .get(keys.writtenUntil)
      .hkeys(keys.series)
      .get(keys.layout)
      .exec();
    const failed = res?.find(([err]) => err !== null);
    if (!res || failed) throw failed?.[0] ?? new Error('redis pipeline returned nothing');
    const wm = res[0]![1] as string | null;
    const names = res[1]![1] as string[];
    const oldLayout = res[2]![1] as string | null;
    const descriptor = layoutDescriptor(this.layout);
    if (oldLayout !== descriptor) {
      if (oldLayout !== null)
        this.log.warn('store layout changed; data written with the old one is not read back', {
          old: oldLayout,
          new: descriptor,
        });
      await this.redis.set(keys.layout, descriptor);
    }
    const previous = this.watermark;
    this.watermark = wm === null ? -1 : Number(wm);
    if (this.watermark < previous) {
      // Redis came back with less than we had written: restarted empty, or from an old dump.
      this.log.error(
        'Redis lost data this agent had written (restarted without persistence, or rolled back)',
        {
          redis_written_until: this.watermark,
          agent_written_until: previous,
        },
      );
      await this.redis.hincrby(keys.losses, 'redis_data_lost', 1);
    }
    this.registered = new Set(names);
    this.complete = new WeakSet();
    this.known.clear();
    this.aggregator = new RollupAggregator(this.layout.rollups);
    if (this.watermark >= 0 && this.layout.rollups.length > 0) await this.restoreOpenBuckets(names);
    this.synced = true;
  }

  /** Writes one record, or reports that an earlier attempt already did. */
  async write(rec: StoreRecord): Promise<WriteOutcome> {
    if (!this.synced) await this.sync();
    if (rec.ts <= this.watermark) return 'duplicate';
    const closed =
      rec.kind === 'tick' ? this.aggregator.addTick(rec) : this.aggregator.addPartial(rec);
    const args: (string | Buffer | number)[] = [this.layout.prefix, String(rec.ts), 0];
    let sections = 0;
    if (rec.kind === 'tick') {
      this.pushSection(args, this.layout.raw, rec.ts, rec.series, encodeRaw(rec));
      sections++;
    }
    for (const b of closed) {
      this.pushSection(args, b.tier, b.bucketTs, b.names, b.data);
      sections++;
    }
    args[2] = sections;
    const pipe = this.redis.pipeline();
    const fresh = this.complete.has(rec.series)
      ? []
      : rec.series.filter((s) => !this.registered.has(s));
    if (fresh.length) {
      const fields: string[] = [];
      for (const s of fresh)
        fields.push(
          s,
          JSON.stringify(this.metaOf(s) ?? { unit: '', family: s.split('.')[0] ?? '' }),
        );
      pipe.hset(metaKeys(this.layout).series, ...fields);
    }
    (pipe as unknown as PipelineWithScript).spikecapWrite(...args);
    let result: [Error | null, unknown][] | null;
    try {
      result = await pipe.exec();
    } catch (err) {
      this.invalidate();
      throw err;
    }
    const failed = result?.find(([e]) => e !== null);
    if (!result || failed) {
      this.invalidate();
      throw failed?.[0] ?? new Error('redis pipeline returned nothing');
    }
    for (const s of fresh) this.registered.add(s);
    this.complete.add(rec.series);
    this.watermark = rec.ts;
    return result[result.length - 1]![1] === 1 ? 'written' : 'duplicate';
  }

  private pushSection(
    args: (string | Buffer | number)[],
    tier: TierLayout,
    ts: number,
    names: readonly string[],
    data: Buffer,
  ): void {
    const { chunk, offset } = slotOf(tier, ts);
    const last = this.known.get(tier);
    const check = !last || last.chunk !== chunk || last.names !== names;
    if (check) this.known.set(tier, { chunk, names });
    args.push(
      tier.keySegment,
      String(chunk),
      offset,
      tier.width,
      tier.width * tier.chunkSlots,
      String(chunkExpiresAt(tier, chunk)),
      check ? '1' : '',
      this.join(names),
      data,
    );
  }

  private join(names: readonly string[]): string {
    let s = this.joined.get(names);
    if (s === undefined) {
      s = names.join('\n');
      this.joined.set(names, s);
    }
    return s;
  }

  private async restoreOpenBuckets(names: string[]): Promise<void> {
    const raw = this.layout.raw;
    const largest = this.layout.rollups[this.layout.rollups.length - 1]!;
    const from = Math.floor(this.watermark / largest.stepMs) * largest.stepMs;
    const ticks = Math.floor((this.watermark - from) / raw.stepMs) + 1;
    const values = names.map(() => new Float64Array(ticks).fill(NaN));
    const firstSlot = from / raw.stepMs;
    await readSlots(
      this.redis,
      this.layout,
      raw,
      names,
      firstSlot,
      firstSlot + ticks - 1,
      (i, slot, b, o) => {
        values[i]![slot - firstSlot] = getValue(b, o);
      },
    );
    const row = new Float64Array(names.length);
    for (let t = 0; t < ticks; t++) {
      let any = false;
      for (let i = 0; i < names.length; i++) {
        const v = values[i]![t]!;
        row[i] = v;
        if (!Number.isNaN(v)) any = true;
      }
      if (any)
        this.aggregator.addTick({
          kind: 'tick',
          ts: from + t * raw.stepMs,
          series: names,
          values: row,
        });
    }
    this.log.debug('rollups restored from raw', { from, to: this.watermark, series: names.length });
  }
}

function encodeRaw(rec: TickRecord): Buffer {
  const buf = Buffer.allocUnsafe(rec.values.length * 4);
  for (let i = 0; i < rec.values.length; i++) putValue(buf, i * 4, rec.values[i]!);
  return buf;
}
