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
 * Points of each series in [from, to] (ms, inclusive) at the tier's step; missing slots are
 * left out. One pipeline, one GETRANGE per series and chunk.
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
  const pipe = redis.pipeline();
  const pieces: { name: string; firstSlot: number; count: number }[] = [];
  for (const name of names) {
    let s = first;
    while (s <= last) {
      const { chunk, offset } = slotOf(tier, s * tier.stepMs);
      const count = Math.min(last - s + 1, tier.chunkSlots - offset / tier.width);
      pipe.getrangeBuffer(
        chunkKey(layout, tier, name, chunk),
        offset,
        offset + count * tier.width - 1,
      );
      pieces.push({ name, firstSlot: s, count });
      s += count;
    }
  }
  const res = (await pipe.exec()) ?? [];
  const out = new Map<string, SeriesPoint[]>(names.map((n) => [n, []]));
  res.forEach(([err, buf], k) => {
    if (err) throw err;
    const p = pieces[k]!;
    const b = buf as Buffer;
    const points = out.get(p.name)!;
    for (let j = 0; j < p.count && (j + 1) * tier.width <= b.length; j++) {
      const o = j * tier.width;
      const ts = (p.firstSlot + j) * tier.stepMs;
      if (tier.width === 4) {
        const value = getValue(b, o);
        if (!Number.isNaN(value)) points.push({ ts, value });
      } else {
        const value = getValue(b, o + 8);
        if (!Number.isNaN(value))
          points.push({
            ts,
            value,
            min: getValue(b, o),
            max: getValue(b, o + 4),
            last: getValue(b, o + 12),
          });
      }
    }
  });
  return out;
}

/** Newest written tick time (ms), or undefined when nothing was written yet. */
export async function writtenUntil(redis: Redis, layout: StoreLayout): Promise<number | undefined> {
  const v = await redis.get(metaKeys(layout).writtenUntil);
  return v === null ? undefined : Number(v);
}

/** Shell-style glob over series names: `*` matches any run of characters, `?` one. */
export function globToRegExp(glob: string): RegExp {
  const re = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`);
}
