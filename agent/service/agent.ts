/**
 * The daemon's composition root: config → sampler → store, on the ticker's clock, with the
 * lifecycle an operator expects: SIGTERM/SIGINT flush and exit 0 within 5 s, SIGHUP reloads.
 */
import type { Redis } from 'ioredis';
import { loadConfig, restartKeysChanged, ConfigError, type LoadedConfig } from '../config/index.js';
import { Sampler, type SamplerOptions } from '../metrics/index.js';
import { BundleError, readBundle, type ModelBundle } from '../model/index.js';
import type { Logger } from '../shared/log.js';
import { connectRedis, makeLayout, redactUrl, Spool, Store } from '../store/index.js';
import { SdNotifier } from './sdnotify.js';
import { Ticker } from './ticker.js';

export interface AgentOptions {
  configFile: string | undefined;
  log: Logger;
}

/** Shutdown must finish within 5 s (systemd's and the budget); keep a margin. */
const SHUTDOWN_BUDGET_MS = 4500;
const STATS_EVERY_MS = 60_000;

export class Agent {
  private loaded: LoadedConfig;
  /** The config the process started with: restart-only keys keep these values until a restart. */
  private readonly started: LoadedConfig;
  private readonly log: Logger;
  private redis!: Redis;
  private store!: Store;
  private sampler!: Sampler;
  private ticker!: Ticker;
  private statsTimer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;
  private sampleErrors = 0;
  private readonly systemd: SdNotifier;
  private ready = false;
  private lastGoodTick = 0;
  private notifyTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly opts: AgentOptions,
    loaded: LoadedConfig,
    /** The reservoir model the forecaster will run (checked at start). */
    private readonly bundle: ModelBundle,
  ) {
    this.loaded = loaded;
    this.started = loaded;
    this.log = opts.log;
    this.systemd = new SdNotifier(opts.log.child({ component: 'systemd' }));
  }

  start(): void {
    const { config, resolved } = this.loaded;
    this.log.configure(config.log.level, config.log.format);
    this.log.info('spikecap starting', {
      config: this.loaded.file ?? '(defaults)',
      node: resolved.nodeName,
      redis: redactUrl(config.redis.url),
      interval_ms: resolved.tickMs,
      spool: resolved.spoolDir,
      model: resolved.modelBundle,
      model_sha256: this.bundle.sha256,
      neurons: this.bundle.model.neurons,
    });
    this.redis = connectRedis(config.redis, {
      connectTimeoutMs: resolved.redisConnectTimeoutMs,
      commandTimeoutMs: resolved.redisCommandTimeoutMs,
    });
    const layout = makeLayout(
      config.redis.key_prefix,
      resolved.nodeName,
      resolved.tickMs,
      resolved.rawRetentionMs,
      resolved.tiers,
    );
    const spool = Spool.open({
      dir: resolved.spoolDir,
      maxBytes: config.store.spool.max_bytes,
      segmentBytes: resolved.spoolSegmentBytes,
      shedStepMs: resolved.tiers[0]?.stepMs ?? resolved.tickMs,
      log: this.log.child({ component: 'spool' }),
    });
    this.sampler = new Sampler(this.samplerOptions());
    this.store = new Store({
      redis: this.redis,
      layout,
      spool,
      queueTicks: config.store.queue_ticks,
      log: this.log.child({ component: 'store' }),
      metaOf: (id) => this.sampler.meta(id),
    });
    this.store.start();
    this.redis
      .connect()
      .catch((err: Error) =>
        this.log.warn('redis not reachable yet; samples go to the spool meanwhile', { err }),
      );

    this.ticker = new Ticker(resolved.tickMs);
    this.ticker.on('tick', (ts) => this.onTick(ts));
    this.ticker.start();
    this.statsTimer = setInterval(() => this.logStats(), STATS_EVERY_MS);
    this.statsTimer.unref();
    // Keep-alives only while ticks keep coming: a wedged loop lets systemd's watchdog act.
    const every = Math.min(this.systemd.watchdogEveryMs ?? 10_000, 10_000);
    this.notifyTimer = setInterval(() => this.notifySystemd(), every);
    this.notifyTimer.unref();
  }

  private notifySystemd(): void {
    if (!this.ready) return;
    const healthy = Date.now() - this.lastGoodTick <= 3 * this.started.resolved.tickMs + 1000;
    const fields: Record<string, string> = { STATUS: this.statusLine() };
    if (healthy && this.systemd.watchdogEveryMs !== undefined) fields.WATCHDOG = '1';
    this.systemd.notify(fields);
  }

  private statusLine(): string {
    const s = this.store.stats();
    const t = this.ticker.stats();
    const where =
      s.mode === 'direct'
        ? 'writing to Redis'
        : `Redis ${s.redis}, spooling (${s.spool.bytes} bytes)`;
    return `${t.ticks} ticks, ${t.missed} missed; ${where}`;
  }

  private onTick(ts: number): void {
    try {
      this.store.append(this.sampler.collect(ts));
      this.lastGoodTick = Date.now();
      if (!this.ready) {
        this.ready = true;
        this.systemd.notify({ READY: '1', STATUS: this.statusLine() });
      }
    } catch (err) {
      // A sampler bug must not stop the clock; it is counted and logged.
      this.sampleErrors++;
      this.log.error('sampling failed for this tick', { ts, err });
    }
  }

  private samplerOptions(): SamplerOptions {
    const { config } = this.loaded;
    const { interval: _interval, ...families } = config.sampler;
    return { ...families, log: this.log.child({ component: 'metrics' }) };
  }

  /** Re-reads the config; a bad one is reported and the running one kept. */
  reload(): void {
    this.systemd.notify({ RELOADING: '1' });
    try {
      this.applyReload();
    } finally {
      this.systemd.notify({ READY: '1', STATUS: this.statusLine() });
    }
  }

  private applyReload(): void {
    let next: LoadedConfig;
    try {
      next = loadConfig(this.opts.configFile === undefined ? {} : { file: this.opts.configFile });
    } catch (err) {
      const problems = err instanceof ConfigError ? err.problems : [(err as Error).message];
      this.log.error('config reload failed; keeping the running config', { problems });
      return;
    }
    const needRestart = restartKeysChanged(this.started.config, next.config);
    this.loaded = { ...next, config: { ...next.config } };
    this.log.configure(next.config.log.level, next.config.log.format);
    this.sampler.reconfigure(this.samplerOptions());
    this.log.info('config reloaded', needRestart.length ? { restart_needed_for: needRestart } : {});
    if (needRestart.length)
      this.log.warn('some changed keys take effect only after a restart', { keys: needRestart });
  }

  /** Stops sampling, flushes to Redis or the spool, closes. Resolves within the budget. */
  stop(signal: string): Promise<void> {
    this.stopping ??= (async () => {
      const t0 = Date.now();
      this.log.info('stopping', { signal });
      this.systemd.notify({ STOPPING: '1', STATUS: `stopping on ${signal}` });
      this.ticker.stop();
      clearInterval(this.statsTimer);
      clearInterval(this.notifyTimer);
      await this.store.close(SHUTDOWN_BUDGET_MS - 1000);
      this.sampler.close();
      await Promise.race([
        this.redis.quit().catch(() => undefined),
        new Promise((r) => setTimeout(r, 500)),
      ]);
      this.redis.disconnect();
      this.log.info('stopped', { ms: Date.now() - t0, ...this.counters() });
    })();
    return this.stopping;
  }

  /** The counters an operator reads in the `stats` and `stopped` log lines. */
  private counters(): Record<string, unknown> {
    const s = this.store.stats();
    const t = this.ticker.stats();
    return {
      ticks: t.ticks,
      missed_ticks: t.missed,
      clock_backwards: t.clockBackwards,
      written: s.written,
      spooled: s.spool.appended,
      replayed: s.replayed,
      spool_bytes: s.spool.bytes,
      shed_ticks: s.spool.shedTicks,
      dropped_ticks: s.spool.droppedTicks,
      bad_spool_records: s.spool.badRecords,
      rejected_ticks: s.rejectedTicks,
      spool_failed_ticks: s.spoolFailedTicks,
      sample_errors: this.sampleErrors,
      mode: s.mode,
      redis: s.redis,
      tick_lag_ms: t.lagMs,
      write_ms: s.writeLatencyMs,
    };
  }

  private logStats(): void {
    this.log.info('stats', this.counters());
  }
}

/** `spikecap run`: load config (exit 2 on problems, before anything starts), run until signalled. */
export async function runAgent(opts: AgentOptions): Promise<number> {
  let loaded: LoadedConfig;
  try {
    loaded = loadConfig(opts.configFile === undefined ? {} : { file: opts.configFile });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`spikecap: config invalid, not starting\n${err.message}\n`);
      return 2;
    }
    throw err;
  }
  // The model bundle is checked before anything starts: a corrupted or foreign file is a
  // configuration mistake, reported now rather than at the first forecast.
  let bundle: ModelBundle;
  try {
    bundle = readBundle(loaded.resolved.modelBundle);
  } catch (err) {
    if (err instanceof BundleError) {
      process.stderr.write(
        `spikecap: model bundle invalid, not starting\nmodel.bundle: ${err.message}\n`,
      );
      return 2;
    }
    throw err;
  }
  const agent = new Agent(opts, loaded, bundle);
  agent.start();
  return new Promise<number>((resolve) => {
    const onStop = (signal: NodeJS.Signals): void => {
      const hard = setTimeout(() => {
        opts.log.error('shutdown took too long; exiting anyway', { signal });
        resolve(1);
      }, SHUTDOWN_BUDGET_MS + 400);
      hard.unref();
      agent.stop(signal).then(
        () => {
          clearTimeout(hard);
          resolve(0);
        },
        (err: unknown) => {
          opts.log.error('error while stopping', { err });
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', onStop);
    process.once('SIGINT', onStop);
    process.on('SIGHUP', () => agent.reload());
  });
}
