import { hostname } from 'node:os';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseDuration } from '../shared/duration.js';
import { packageRoot } from '../shared/paths.js';
import { redactUrl } from '../shared/redact.js';
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
  /** model.bundle as an absolute path (the shipped config/reservoir.spkb when empty). */
  modelBundle: string;
  /** backends.driver as an absolute path; undefined: the C core built as a driver. */
  driverPath: string | undefined;
  driverArgs: string;
  /** backends.serial_port; undefined: no board configured. */
  serialPort: string | undefined;
  serialBaud: number;
  /** backends.order, or the default order for this config. */
  backendOrder: string[];
  healthyProbes: number;
  probeIntervalMs: number;
  stepTimeoutMs: number;
  /** backends.native_addon as an absolute path; undefined: the addon npm built. */
  nativeAddon: string | undefined;
  onnxThreads: number;
}

/** The model bundle shipped with spikecap. */
export const defaultModelBundle = path.join(packageRoot, 'config', 'reservoir.spkb');

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
  if (rawRetentionMs < tickMs)
    problems.push(
      `store.raw_retention: expected at least sampler.interval, got "${c.store.raw_retention}"`,
    );
  checkRedis(c, baseDir, problems);
  const connectMs = ms('redis.connect_timeout', c.redis.connect_timeout);
  const commandMs = ms('redis.command_timeout', c.redis.command_timeout);
  if (connectMs === 0) problems.push('redis.connect_timeout: must be greater than zero');
  // 0 would disable the timeout, and a hung Redis would stall the spool's drain for good.
  if (commandMs === 0) problems.push('redis.command_timeout: must be greater than zero');

  const stateDir = path.resolve(baseDir, c.state_dir);
  if (c.backends.order.includes('serial') && !c.backends.serial_port)
    problems.push('backends.order: "serial" needs backends.serial_port (the board\'s device path)');
  const stepTimeoutMs = ms('backends.step_timeout', c.backends.step_timeout);
  if (stepTimeoutMs >= tickMs)
    problems.push(
      `backends.step_timeout: ${c.backends.step_timeout} leaves no time in a ${c.sampler.interval} tick for the next backend; make it shorter than sampler.interval`,
    );
  return {
    nodeName: c.node.name || hostname().split('.')[0] || 'node',
    stateDir,
    spoolDir: c.store.spool.dir
      ? path.resolve(baseDir, c.store.spool.dir)
      : path.join(stateDir, 'spool'),
    tickMs,
    rawRetentionMs,
    tiers,
    redisConnectTimeoutMs: connectMs,
    redisCommandTimeoutMs: commandMs,
    spoolSegmentBytes: Math.max(
      4096,
      Math.min(c.store.spool.segment_bytes, Math.floor(c.store.spool.max_bytes / 4)),
    ),
    modelBundle: c.model.bundle ? path.resolve(baseDir, c.model.bundle) : defaultModelBundle,
    driverPath: c.backends.driver ? path.resolve(baseDir, c.backends.driver) : undefined,
    driverArgs: c.backends.driver_args,
    serialPort: c.backends.serial_port || undefined,
    serialBaud: c.backends.serial_baud,
    backendOrder:
      c.backends.order.length > 0
        ? [...c.backends.order]
        : [...(c.backends.serial_port ? ['serial'] : []), 'native', 'onnx'],
    healthyProbes: c.backends.healthy_probes,
    probeIntervalMs: ms('backends.probe_interval', c.backends.probe_interval),
    stepTimeoutMs,
    nativeAddon: c.backends.native_addon
      ? path.resolve(baseDir, c.backends.native_addon)
      : undefined,
    onnxThreads: c.backends.onnx_threads,
  };
}

/** What `new URL` and the connection would reject later, reported now with its path. */
function checkRedis(c: SpikecapConfig, baseDir: string, problems: string[]): void {
  let url: URL;
  try {
    url = new URL(c.redis.url);
  } catch {
    problems.push(`redis.url: not a valid URL: "${redactUrl(c.redis.url)}"`);
    return;
  }
  if (url.protocol === 'unix:') {
    if (!url.pathname || url.pathname === '/')
      problems.push(
        'redis.url: unix:// URL needs a socket path, e.g. unix:///run/redis/redis.sock',
      );
    const db = url.searchParams.get('db');
    if (db !== null && !isDbIndex(db))
      problems.push(`redis.url: expected ?db=0 to 15, got "${db}"`);
  } else {
    const db = url.pathname.replace(/^\//, '');
    if (db !== '' && !isDbIndex(db))
      problems.push(`redis.url: expected a database index 0 to 15 after the host, got "/${db}"`);
  }
  if (c.redis.tls && url.protocol !== 'rediss:')
    problems.push('redis.tls: set, but redis.url is not a rediss:// URL');
  for (const k of ['ca', 'cert', 'key'] as const) {
    const f = c.redis.tls?.[k];
    if (f !== undefined && !existsSync(path.resolve(baseDir, f)))
      problems.push(`redis.tls.${k}: file not found: ${path.resolve(baseDir, f)}`);
  }
}

function isDbIndex(text: string): boolean {
  return /^[0-9]+$/.test(text) && Number(text) <= 15;
}
