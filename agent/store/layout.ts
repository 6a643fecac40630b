/**
 * Where samples live in Redis. See agent/store/DATA-MODEL.md for the picture; this file is the
 * arithmetic. Every series has, per tier, fixed-size chunk strings of fixed-width slots, so a
 * tick's position is computed, never searched, and writing a slot twice is harmless.
 */
import type { RollupTier } from '../config/index.js';
import { formatDuration } from '../shared/duration.js';

/** Bytes per slot: raw = one float32; rollups = min, max, mean, last as float32. */
export const RAW_WIDTH = 4;
export const ROLLUP_WIDTH = 16;
/** Slots per chunk string: raw chunks hold 600 ticks, rollup chunks 360 buckets. */
export const RAW_CHUNK_SLOTS = 600;
export const ROLLUP_CHUNK_SLOTS = 360;

export interface TierLayout {
  /** `raw`, or the rollup step name (`10s`, `1m`, `5m`). */
  name: string;
  /** The tier's part of a key: `raw:1s`, `rollup:10s`. */
  keySegment: string;
  stepMs: number;
  retentionMs: number;
  width: number;
  chunkSlots: number;
  /** stepMs × chunkSlots */
  chunkMs: number;
}

export interface StoreLayout {
  /** `<key_prefix>:<node>:` */
  prefix: string;
  raw: TierLayout;
  rollups: TierLayout[];
}

export function makeLayout(
  keyPrefix: string,
  node: string,
  tickMs: number,
  rawRetentionMs: number,
  tiers: readonly RollupTier[],
): StoreLayout {
  return {
    prefix: `${keyPrefix}:${node}:`,
    raw: tier('raw', tickMs, rawRetentionMs, RAW_WIDTH, RAW_CHUNK_SLOTS),
    rollups: tiers.map((t) =>
      tier(t.name, t.stepMs, t.retentionMs, ROLLUP_WIDTH, ROLLUP_CHUNK_SLOTS),
    ),
  };
}

function tier(
  name: string,
  stepMs: number,
  retentionMs: number,
  width: number,
  chunkSlots: number,
): TierLayout {
  const keySegment = name === 'raw' ? `raw:${formatDuration(stepMs)}` : `rollup:${name}`;
  return { name, keySegment, stepMs, retentionMs, width, chunkSlots, chunkMs: stepMs * chunkSlots };
}

/** Key of one chunk: `<prefix><tier key segment>:<series>:<chunk index>`. */
export function chunkKey(
  layout: StoreLayout,
  tier: TierLayout,
  series: string,
  chunk: number,
): string {
  return `${layout.prefix}${tier.keySegment}:${series}:${chunk}`;
}

/** Chunk index and byte offset of the slot holding time `ts` (ms) in `tier`. */
export function slotOf(tier: TierLayout, ts: number): { chunk: number; offset: number } {
  const slot = Math.floor(ts / tier.stepMs);
  const chunk = Math.floor(slot / tier.chunkSlots);
  return { chunk, offset: (slot - chunk * tier.chunkSlots) * tier.width };
}

/** When a chunk's key expires: its last slot's time plus the tier's retention. */
export function chunkExpiresAt(tier: TierLayout, chunk: number): number {
  return (chunk + 1) * tier.chunkMs + tier.retentionMs;
}

/** Key names that are not series chunks. */
export const metaKeys = (layout: StoreLayout) => ({
  /** The newest tick time (ms) whose write has completed; replays skip anything not newer. */
  writtenUntil: `${layout.prefix}written_until`,
  /** HASH series name → JSON SeriesMeta. */
  series: `${layout.prefix}series`,
  /** STRING JSON of the layout (tick, tiers, chunk sizes), so readers need no config. */
  layout: `${layout.prefix}layout`,
  /** HASH of the store's loss counters, e.g. shed raw ticks. */
  losses: `${layout.prefix}losses`,
});

export function layoutDescriptor(layout: StoreLayout): string {
  const d = (t: TierLayout) => ({
    name: t.name,
    step_ms: t.stepMs,
    retention_ms: t.retentionMs,
    width: t.width,
    chunk_slots: t.chunkSlots,
  });
  return JSON.stringify({ version: 1, raw: d(layout.raw), rollups: layout.rollups.map(d) });
}

export function parseLayoutDescriptor(prefix: string, text: string): StoreLayout {
  const j = JSON.parse(text) as {
    version: number;
    raw: {
      name: string;
      step_ms: number;
      retention_ms: number;
      width: number;
      chunk_slots: number;
    };
    rollups: {
      name: string;
      step_ms: number;
      retention_ms: number;
      width: number;
      chunk_slots: number;
    }[];
  };
  if (j.version !== 1)
    throw new Error(`unsupported store layout version ${j.version} at ${prefix}layout`);
  const t = (x: typeof j.raw) => tier(x.name, x.step_ms, x.retention_ms, x.width, x.chunk_slots);
  return { prefix, raw: t(j.raw), rollups: j.rollups.map(t) };
}
