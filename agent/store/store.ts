/**
 * The store: every Sample goes to Redis in time order, exactly once, or waits.
 *
 *   direct mode   samples queue in memory (at most `queueTicks`) behind the one write in flight
 *   spool mode    samples are appended to the on-disk spool; a drain loop replays the spool
 *                 oldest first whenever Redis is ready, then returns to direct mode
 *
 * Direct → spool when Redis is not ready, a write fails or times out, or the queue is full.
 * The queue and the write in flight move to the spool first, so order is kept; a write whose
 * outcome was unknown is replayed and skipped by the watermark if it had landed.
 */
import type { Redis } from 'ioredis';
import type { Sample, SeriesMeta } from '../metrics/sample.js';
import type { Logger } from '../shared/log.js';
import { RateLimitedLog } from '../shared/log.js';
import { metaKeys, type StoreLayout } from './layout.js';
import type { StoreRecord, TickRecord } from './records.js';
import type { Spool, SpoolStats } from './spool.js';
import { RedisWriter } from './writer.js';

export interface StoreOptions {
  redis: Redis;
  layout: StoreLayout;
  spool: Spool;
  queueTicks: number;
  log: Logger;
  metaOf?: (id: string) => SeriesMeta | undefined;
}

export interface StoreStats {
  mode: 'direct' | 'spool';
  redis: string;
  queued: number;
  written: number;
  duplicates: number;
  replayed: number;
  writeFailures: number;
  rejectedTicks: number;
  spoolFailedTicks: number;
  /** Redis round-trip time of tick writes, ms, over the last 1024 writes. */
  writeLatencyMs: { p50: number; p99: number; max: number; n: number };
  writtenUntil: number;
  spool: SpoolStats;
}

export class Store {
  private mode: 'direct' | 'spool';
  private queue: TickRecord[] = [];
  private readonly writer: RedisWriter;
  private readonly spool: Spool;
  private readonly log: Logger;
  private readonly warnLimited: RateLimitedLog;
  private readonly errorLimited: RateLimitedLog;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private busy = false;
  private generation = 0;
  private reportedDropped = 0;
  private readonly latencies = new Float64Array(1024);
  private latencyCount = 0;
  private readonly counters = {
    written: 0,
    duplicates: 0,
    replayed: 0,
    writeFailures: 0,
    /** Fresh ticks refused because Redis already had newer data (a loss). */
    rejectedTicks: 0,
    /** Ticks lost because the spool could not be written (disk full, read-only, I/O error). */
    spoolFailedTicks: 0,
  };

  constructor(private readonly opts: StoreOptions) {
    this.spool = opts.spool;
    this.log = opts.log;
    this.warnLimited = new RateLimitedLog(opts.log, 3, 60_000);
    this.errorLimited = new RateLimitedLog(opts.log, 3, 60_000, 'error');
    this.writer = new RedisWriter(opts.redis, opts.layout, opts.log, opts.metaOf);
    this.mode = this.spool.isEmpty ? 'direct' : 'spool';
    opts.redis.on('ready', () => {
      // A (re)connected Redis may be a restarted, empty one: re-learn the watermark, the
      // registered series and the layout before the next write.
      this.writer.invalidate();
      this.poke();
    });
    opts.redis.on('error', (err: Error) => this.warnLimited.warn('redis error', { err }));
  }

  /** Starts the write loop (and the replay of a spool left by an earlier run). */
  start(): void {
    if (this.mode === 'spool')
      this.log.info('spool has samples from an earlier run; replaying when Redis is ready', {
        spool_bytes: this.spool.bytes,
      });
    this.loop ??= this.run();
  }

  /** Takes one tick; never blocks, never throws for Redis's sake. */
  append(sample: Sample): void {
    const rec: TickRecord = {
      kind: 'tick',
      ts: sample.ts,
      series: sample.series,
      values: sample.values,
    };
    if (this.mode === 'direct' && this.opts.redis.status !== 'ready')
      this.toSpool('redis not ready');
    if (this.mode === 'spool') {
      this.toDisk(rec);
    } else {
      this.queue.push(rec);
      if (this.queue.length > this.opts.queueTicks)
        this.toSpool(`memory queue over ${this.opts.queueTicks} ticks`);
    }
    this.poke();
  }

  stats(): StoreStats {
    const n = Math.min(this.latencyCount, this.latencies.length);
    const sorted = Array.from(this.latencies.subarray(0, n)).sort((a, b) => a - b);
    const q = (p: number): number => (n === 0 ? NaN : sorted[Math.min(n - 1, Math.floor(p * n))]!);
    return {
      mode: this.mode,
      redis: this.opts.redis.status,
      queued: this.queue.length,
      ...this.counters,
      writeLatencyMs: { p50: q(0.5), p99: q(0.99), max: n ? sorted[n - 1]! : NaN, n },
      writtenUntil: this.writer.writtenUntil,
      spool: this.spool.stats(),
    };
  }

  /**
   * Stops taking writes: waits up to `timeoutMs` for the queue to reach Redis, then moves
   * whatever is left to the spool. Nothing queued is lost.
   */
  async close(timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (
      this.mode === 'direct' &&
      (this.queue.length > 0 || this.busy) &&
      Date.now() < deadline
    ) {
      await new Promise((r) => setTimeout(r, 10));
    }
    this.stopping = true;
    if (this.queue.length > 0) this.toSpool('shutting down');
    this.poke();
    await Promise.race([
      this.loop,
      new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now()))),
    ]);
    this.spool.close();
  }

  private toSpool(reason: string): void {
    if (this.mode === 'spool') return;
    this.generation++;
    for (const rec of this.queue) this.toDisk(rec);
    const moved = this.queue.length;
    this.queue = [];
    this.mode = 'spool';
    this.log.warn('samples now go to the spool until Redis catches up', { reason, moved });
  }

  /** Appends to the spool; a disk that refuses (full, read-only, failing) costs the tick, counted. */
  private toDisk(rec: StoreRecord): void {
    try {
      this.spool.append(rec);
    } catch (err) {
      this.counters.spoolFailedTicks += rec.kind === 'tick' ? 1 : rec.ticks;
      this.errorLimited.warn('cannot write to the spool; tick lost', { ts: rec.ts, err });
    }
  }

  private poke(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  private async run(): Promise<void> {
    let backoff = 100;
    while (!this.stopping) {
      try {
        if (this.mode === 'direct') {
          const rec = this.queue[0];
          if (!rec) {
            await this.sleep(1000);
            continue;
          }
          const gen = this.generation;
          if ((await this.writeTimed(rec)) === 'duplicate') {
            // A fresh tick that Redis already has a newer one than: the clock stepped back,
            // or another agent writes under this node's name. Either way this tick is lost.
            this.counters.rejectedTicks++;
            this.errorLimited.warn('tick rejected: Redis already holds newer data for this node', {
              ts: rec.ts,
              written_until: this.writer.writtenUntil,
              hint: 'clock stepped back, or another agent uses the same node.name',
            });
          }
          if (gen === this.generation) this.queue.shift();
        } else if (this.opts.redis.status !== 'ready') {
          await this.sleep(1000);
        } else {
          await this.drainOneSegment();
        }
        backoff = 100;
      } catch (err) {
        this.counters.writeFailures++;
        this.warnLimited.warn('write to redis failed; will retry from the spool', { err });
        if (this.mode === 'direct') this.toSpool((err as Error).message);
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, 2000);
      }
    }
  }

  private async writeTimed(rec: StoreRecord): Promise<'written' | 'duplicate'> {
    this.busy = true;
    const t0 = performance.now();
    try {
      const outcome = await this.writer.write(rec);
      this.latencies[this.latencyCount++ % this.latencies.length] = performance.now() - t0;
      if (outcome === 'written') this.counters.written++;
      else this.counters.duplicates++;
      return outcome;
    } finally {
      this.busy = false;
    }
  }

  private async drainOneSegment(): Promise<void> {
    const file = this.spool.oldestSegment();
    if (!file) {
      this.mode = 'direct';
      this.log.info('spool replayed; writing directly again', {
        written_until: this.writer.writtenUntil,
      });
      return;
    }
    let records: StoreRecord[];
    try {
      records = this.spool.readSegment(file);
    } catch (err) {
      // Unreadable (deleted under us, I/O error): give it up, loudly, rather than stall here.
      this.errorLimited.warn('spool segment unreadable; skipping it', { file, err });
      this.spool.forgetSegment(file);
      return;
    }
    let shed = 0;
    for (const rec of records) {
      if ((await this.writeTimed(rec)) !== 'written') continue;
      this.counters.replayed++;
      if (rec.kind === 'partial') shed += rec.ticks;
    }
    this.spool.removeSegment(file);
    await this.recordLosses(shed);
  }

  /**
   * Losses from a full spool, kept in Redis (`P:losses`) for whoever reads the data later:
   * raw ticks replaced by their rollups, and ticks dropped entirely.
   */
  private async recordLosses(shed: number): Promise<void> {
    const dropped = this.spool.stats().droppedTicks - this.reportedDropped;
    if (shed === 0 && dropped === 0) return;
    const key = metaKeys(this.opts.layout).losses;
    const pipe = this.opts.redis.pipeline();
    if (shed > 0) pipe.hincrby(key, 'shed_raw_ticks', shed);
    if (dropped > 0) pipe.hincrby(key, 'dropped_ticks', dropped);
    await pipe.exec();
    this.reportedDropped += dropped;
  }
}
