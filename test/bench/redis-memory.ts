/**
 * Redis memory of the data model: one full chunk per tier written through the real write
 * script, measured with MEMORY USAGE, then multiplied out over the retention windows.
 */
import { Redis } from 'ioredis';
import { Logger } from '../../agent/shared/log.js';
import { makeLayout } from '../../agent/store/index.js';
import { chunkKey } from '../../agent/store/layout.js';
import { RedisWriter } from '../../agent/store/writer.js';
import { startRedis } from '../helpers/servers.js';

export async function measureRedisMemory(): Promise<void> {
  const server = await startRedis();
  const redis = new Redis(server.port);
  try {
    const layout = makeLayout('spikecap', 'bench', 1000, 3_600_000, [
      { name: '10s', stepMs: 10_000, retentionMs: 86_400_000 },
      { name: '1m', stepMs: 60_000, retentionMs: 8 * 86_400_000 },
      { name: '5m', stepMs: 300_000, retentionMs: 35 * 86_400_000 },
    ]);
    const writer = new RedisWriter(redis, layout, new Logger({ level: 'error' }));
    const names = ['bench.series'];
    // Enough ticks to fill one chunk of every tier: 5m × 360 = 30 h at 1 s. Write them in
    // batches of synthetic time (the script does not care about the wall clock).
    // Ticks from the start of a 5-minute chunk (30 h) until a minute ago, so every tier has a
    // complete chunk still inside its retention (chunks past it are not written).
    const c5 = 300_000 * 360;
    const end = Date.now() - 60_000;
    const start = Math.floor((end - c5 - 3_600_000) / c5) * c5;
    const ticks = Math.floor((end - start) / 1000);
    for (let i = 0; i < ticks; i++) {
      await writer.write({
        kind: 'tick',
        ts: start + i * 1000,
        series: names,
        values: Float64Array.of(Math.sin(i / 100) * 50 + 50),
      });
    }
    console.log(
      '\n## 3. Redis memory of the data model (redis-server ' +
        ((await redis.info('server')).match(/redis_version:(\S+)/)?.[1] ?? '?') +
        ')\n',
    );
    console.log(
      '| tier | chunk span | bytes per full chunk (MEMORY USAGE) | chunks kept | bytes per series |',
    );
    console.log('|---|---|---|---|---|');
    let perSeries = 0;
    for (const tier of [layout.raw, ...layout.rollups]) {
      // The newest complete chunk of the tier.
      const key = chunkKey(layout, tier, names[0]!, Math.floor(end / tier.chunkMs) - 1);
      const bytes = Number(await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
      // A chunk lives until its last slot is older than the retention: retention/span + 1 chunks.
      const kept = Math.ceil(tier.retentionMs / tier.chunkMs) + 1;
      perSeries += bytes * kept;
      console.log(
        `| ${tier.keySegment} | ${tier.chunkMs / 60_000} min | ${bytes} | ${kept} | ${bytes * kept} |`,
      );
    }
    const hashEntry = 120;
    console.log(
      `\nper series: ${(perSeries / 1024).toFixed(0)} KiB; a node with 500 series: ${(((perSeries + hashEntry) * 500) / 1048576).toFixed(0)} MiB of Redis memory at full retention`,
    );
  } finally {
    redis.disconnect();
    await server.stop();
  }
}
