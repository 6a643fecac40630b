import { hostname } from 'node:os';
import path from 'node:path';
import { parseDuration } from '../shared/duration.js';
import type { SpikecapConfig } from './schema.generated.js';

export interface RollupTier {
  /** Short name used in keys and on the CLI: `10s`, `1m`, `5m`. */
  name: string;
  stepMs: number;
  retentionMs: number;
}

/** The config in the units the code uses: milliseconds, absolute paths, the node's name. */
export interface ResolvedConfig {
  nodeName: string;
  stateDir: string;
  spoolDir: string;
  tickMs: number;
  rawRetentionMs: number;
  tiers: RollupTier[];
  redisConnectTimeoutMs: number;
  redisCommandTimeoutMs: number;
  /** store.spool.segment_bytes, but at most a quarter of the cap so shedding has room to work. */
  spoolSegmentBytes: number;
}

const DAY_MS = 86_400_000;

/** Parses durations and checks the rules a schema cannot express; problems are appended with paths. */
export function resolveConfig(
  c: SpikecapConfig,
  baseDir: string,
  problems: string[],
): ResolvedConfig {
  const ms = (at: string, text: string): number => {
    try {
      return parseDuration(text);
    } catch (err) {
      problems.push(`${at}: ${(err as Error).message}`);
      return NaN;
    }
  };
  const tickMs = ms('sampler.interval', c.sampler.interval);
  if (tickMs > 0 && (tickMs < 100 || 60_000 % tickMs !== 0)) {
    problems.push(
      `sampler.interval: expected at least 100ms and a divisor of 1m, got "${c.sampler.interval}"`,
    );
  }
  if (tickMs === 0) problems.push(`sampler.interval: must be greater than zero`);
  const rawRetentionMs = ms('store.raw_retention', c.store.raw_retention);

  const tiers: RollupTier[] = [];
  c.store.rollups.forEach((t, i) => {
    const at = `store.rollups[${i}]`;
    const stepMs = ms(`${at}.step`, t.step);
    const retentionMs = ms(`${at}.retention`, t.retention);
    if (stepMs > 0 && tickMs > 0 && stepMs % tickMs !== 0) {
      problems.push(
        `${at}.step: expected a multiple of sampler.interval (${c.sampler.interval}), got "${t.step}"`,
      );
    }
    if (stepMs > 0 && DAY_MS % stepMs !== 0)
      problems.push(`${at}.step: expected a divisor of 1d, got "${t.step}"`);
    if (retentionMs < stepMs)
      problems.push(
        `${at}.retention: expected at least the step (${t.step}), got "${t.retention}"`,
      );
    // Each tier's buckets must be whole buckets of the tier before: the aggregator and the
    // spool's shed summaries rely on it.
    const prev = tiers[tiers.length - 1];
    if (prev && (stepMs <= prev.stepMs || stepMs % prev.stepMs !== 0)) {
      problems.push(
        `${at}.step: expected a multiple of the previous tier's step (${prev.name}), larger than it, got "${t.step}"`,
      );
    }
    tiers.push({ name: t.step, stepMs, retentionMs });
  });
  const maxStep = Math.max(0, ...tiers.map((t) => t.stepMs));
  if (rawRetentionMs < 2 * maxStep) {
    problems.push(
      `store.raw_retention: expected at least twice the largest rollup step (${(2 * maxStep) / 1000}s), got "${c.store.raw_retention}"`,
    );
  }
  const stateDir = path.resolve(baseDir, c.state_dir);
  return {
    nodeName: c.node.name || hostname().split('.')[0] || 'node',
    stateDir,
    spoolDir: c.store.spool.dir
      ? path.resolve(baseDir, c.store.spool.dir)
      : path.join(stateDir, 'spool'),
    tickMs,
    rawRetentionMs,
    tiers,
    redisConnectTimeoutMs: ms('redis.connect_timeout', c.redis.connect_timeout),
    redisCommandTimeoutMs: ms('redis.command_timeout', c.redis.command_timeout),
    spoolSegmentBytes: Math.max(
      4096,
      Math.min(c.store.spool.segment_bytes, Math.floor(c.store.spool.max_bytes / 4)),
    ),
  };
}
