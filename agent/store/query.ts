/** Reading series back from Redis, for the CLI and (later) the forecaster. */
import type { Redis } from 'ioredis';
import type { SeriesMeta } from '../metrics/sample.js';
import { getValue } from './codec.js';
import {
  chunkKey,
  metaKeys,
  parseLayoutDescriptor,
  slotOf,
  type StoreLayout,
  type TierLayout,
} from './layout.js';

export interface SeriesPoint {
  ts: number;
  /** Raw tier: the value. Rollup tiers: the mean. */
  value: number;
  min?: number;
  max?: number;
  last?: number;
}

/** The layout the agent recorded in Redis; readers use it rather than their own config. */
export async function readLayout(redis: Redis, prefix: string): Promise<StoreLayout> {
  const text = await redis.get(`${prefix}layout`);
  if (text === null)
    throw new Error(
      `no spikecap data under "${prefix}" in this Redis (key ${prefix}layout is missing): is the agent running with the same redis.key_prefix and node name?`,
    );
  return parseLayoutDescriptor(prefix, text);
}

export async function listSeries(
  redis: Redis,
  layout: StoreLayout,
): Promise<Map<string, SeriesMeta>> {
  const all = await redis.hgetall(metaKeys(layout).series);
  const out = new Map<string, SeriesMeta>();
  for (const name of Object.keys(all).sort()) out.set(name, JSON.parse(all[name]!) as SeriesMeta);
  return out;
}

export function findTier(layout: StoreLayout, name: string): TierLayout {
  if (name === 'raw') return layout.raw;
  const t = layout.rollups.find((r) => r.name === name);
  if (!t)
    throw new TypeError(
      `--tier: expected one of raw, ${layout.rollups.map((r) => r.name).join(', ')}, got "${name}"`,
    );
  return t;
}

/**
 * Reads slots `first`..`last` (inclusive slot numbers) of each series in `tier`: one GETRANGE
 * per series and chunk, all in one pipeline. `visit` sees every slot Redis returned bytes for,
 * with the buffer and byte offset to decode it from (missing slots decode as NaN).
 */
export async function readSlots(
  redis: Redis,
  layout: StoreLayout,
  tier: TierLayout,
  names: readonly string[],
  first: number,
  last: number,
  visit: (series: number, slot: number, buf: Buffer, offset: number) => void,
): Promise<void> {
  const pipe = redis.pipeline();
  const pieces: { series: number; firstSlot: number; count: number }[] = [];
  names.forEach((name, series) => {
    for (let s = first; s <= last;) {
      const { chunk, offset } = slotOf(tier, s * tier.stepMs);
      const count = Math.min(last - s + 1, tier.chunkSlots - offset / tier.width);
      pipe.getrangeBuffer(
        chunkKey(layout, tier, name, chunk),
        offset,
        offset + count * tier.width - 1,
      );
      pieces.push({ series, firstSlot: s, count });
      s += count;
    }
  });
  const res = (await pipe.exec()) ?? [];
  res.forEach(([err, buf], k) => {
    if (err) throw err;
    const p = pieces[k]!;
    const b = buf as Buffer;
    for (let j = 0; j < p.count && (j + 1) * tier.width <= b.length; j++)
      visit(p.series, p.firstSlot + j, b, j * tier.width);
  });
}

/**
 * Points of each series in [from, to] (ms, inclusive) at the tier's step; missing slots are
 * left out.
 */
export async function querySeries(
  redis: Redis,
  layout: StoreLayout,
  tier: TierLayout,
  names: readonly string[],
  from: number,
  to: number,
): Promise<Map<string, SeriesPoint[]>> {
  // Nothing older than the retention exists: don't ask for millions of expired chunks.
  const first = Math.ceil(Math.max(from, to - tier.retentionMs - tier.chunkMs) / tier.stepMs);
  const last = Math.floor(to / tier.stepMs);
  const points = names.map((): SeriesPoint[] => []);
  await readSlots(redis, layout, tier, names, first, last, (series, slot, b, o) => {
    const ts = slot * tier.stepMs;
    if (tier.width === 4) {
      const value = getValue(b, o);
      if (!Number.isNaN(value)) points[series]!.push({ ts, value });
    } else {
      const value = getValue(b, o + 8);
      if (!Number.isNaN(value))
        points[series]!.push({
          ts,
          value,
          min: getValue(b, o),
          max: getValue(b, o + 4),
          last: getValue(b, o + 12),
        });
    }
  });
  return new Map(names.map((n, i) => [n, points[i]!]));
}

/** Newest written tick time (ms), or undefined when nothing was written yet. */
export async function writtenUntil(redis: Redis, layout: StoreLayout): Promise<number | undefined> {
  const v = await redis.get(metaKeys(layout).writtenUntil);
  return v === null ? undefined : Number(v);
}

/**
 * Glob over whole series names for the CLI: `*` matches any run of characters, `?` one. Unlike
 * the sampler's path globs (metrics/glob.ts), `*` crosses `/`, because series names embed
 * cgroup paths and `cgroup.*` should match them all.
 */
export function seriesGlob(glob: string): RegExp {
  const re = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`);
}
