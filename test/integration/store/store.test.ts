/**
 * The store against a real redis-server: ticks land exactly once, in order, with rollups that
 * match the raw data, through outages, crashes in the middle of a replay, and a bad spool.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { Logger } from '../../../agent/shared/log.js';
import {
  makeLayout,
  querySeries,
  Spool,
  Store,
  type StoreLayout,
} from '../../../agent/store/index.js';
import { startRedis, tempDir, type RedisServer } from '../../helpers/servers.js';

const quiet = new Logger({ level: 'error', sink: { write: () => true } });
const SERIES = ['cpu.busy_pct', 'mem.available_bytes', 'net.eth0.rx_bytes_per_s'];
// Recent enough that every chunk written is inside its retention (older ones are not written),
// a multiple of 5 minutes, and far enough back that the longest test (3,000 ticks) ends in the past.
const BASE = Math.floor((Date.now() - 55 * 60_000) / 300_000) * 300_000;
const tiers = [
  { name: '10s', stepMs: 10_000, retentionMs: 86_400_000 },
  { name: '1m', stepMs: 60_000, retentionMs: 8 * 86_400_000 },
  { name: '5m', stepMs: 300_000, retentionMs: 35 * 86_400_000 },
];

/** A deterministic value per series and tick, different for every tick. */
const valueAt = (i: number, s: number): number =>
  s === 1 ? 8e9 - i * 4096 : (i * 7 + s * 13) % 101;

function sample(i: number) {
  return {
    ts: BASE + i * 1000,
    series: SERIES,
    values: Float64Array.from(SERIES, (_, s) => valueAt(i, s)),
  };
}

let server: RedisServer;
before(async () => {
  server = await startRedis({ persist: true });
});
after(async () => {
  await server.stop();
});

interface Rig {
  store: Store;
  redis: Redis;
  layout: StoreLayout;
  spoolDir: string;
  close: () => Promise<void>;
}

let rigs = 0;
function rig(
  spoolDir: string,
  node = `n${rigs++}`,
  spoolMaxBytes = 64 << 20,
  port = server.port,
): Rig {
  const redis = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: 300,
    retryStrategy: () => 50,
  });
  redis.on('error', () => undefined);
  const layout = makeLayout('t', node, 1000, 3_600_000, tiers);
  const spool = Spool.open({
    dir: spoolDir,
    maxBytes: spoolMaxBytes,
    segmentBytes: 8192,
    shedStepMs: 10_000,
    log: quiet,
  });
  const store = new Store({ redis, layout, spool, queueTicks: 5, log: quiet });
  store.start();
  return {
    store,
    redis,
    layout,
    spoolDir,
    close: async () => {
      await store.close(1000);
      redis.disconnect();
    },
  };
}

async function waitFor(
  what: string,
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function checkExactlyOnce(r: Rig, n: number, reader: Redis): Promise<void> {
  const raw = await querySeries(
    reader,
    r.layout,
    r.layout.raw,
    SERIES,
    BASE,
    BASE + (n - 1) * 1000,
  );
  SERIES.forEach((name, s) => {
    const points = raw.get(name)!;
    assert.equal(points.length, n, `${name}: ${n} ticks stored`);
    points.forEach((p, i) => {
      assert.equal(p.ts, BASE + i * 1000);
      assert.equal(p.value, Math.fround(valueAt(i, s)), `${name} at tick ${i}`);
    });
  });
  // Every closed 10 s bucket: min, mean, max and last of its ten ticks.
  const closedBuckets = Math.floor(n / 10) - 1;
  const roll = await querySeries(
    reader,
    r.layout,
    r.layout.rollups[0]!,
    SERIES,
    BASE,
    BASE + closedBuckets * 10_000 - 1,
  );
  SERIES.forEach((name, s) => {
    const points = roll.get(name)!;
    assert.equal(points.length, closedBuckets, `${name}: ${closedBuckets} 10s rollups`);
    points.forEach((p, b) => {
      const vals = Array.from({ length: 10 }, (_, k) => Math.fround(valueAt(b * 10 + k, s)));
      const mean = vals.reduce((a, x) => a + x, 0) / 10;
      assert.equal(p.min, Math.min(...vals));
      assert.equal(p.max, Math.max(...vals));
      assert.equal(p.last, vals[9]);
      assert.ok(
        Math.abs(p.value - mean) <= Math.abs(mean) * 1e-6,
        `${name} bucket ${b}: mean ${p.value} vs ${mean}`,
      );
    });
  });
}

test('ticks and rollups read back exactly', async () => {
  const tmp = tempDir('store');
  const r = rig(tmp.dir);
  try {
    await r.redis.connect();
    const n = 650;
    for (let i = 0; i < n; i++) r.store.append(sample(i));
    await waitFor('all written', () => r.store.stats().writtenUntil === BASE + (n - 1) * 1000);
    await checkExactlyOnce(r, n, r.redis);
    const s = r.store.stats();
    assert.equal(s.written, n, 'each tick written once');
  } finally {
    await r.close();
    tmp.remove();
  }
});

test('Redis killed and restarted mid-run: every tick present exactly once', async () => {
  const tmp = tempDir('store');
  const r = rig(tmp.dir);
  const reader = new Redis({
    port: server.port,
    host: '127.0.0.1',
    lazyConnect: true,
    retryStrategy: () => 50,
  });
  reader.on('error', () => undefined);
  try {
    await r.redis.connect();
    let i = 0;
    const pace = async (count: number): Promise<void> => {
      for (const end = i + count; i < end; i++) {
        r.store.append(sample(i));
        await new Promise((res) => setTimeout(res, 5));
      }
    };
    await pace(120);
    await server.kill();
    await pace(200); // while Redis is down: into the spool
    assert.equal(r.store.stats().mode, 'spool');
    assert.ok(r.store.stats().spool.appended >= 190);
    await server.start();
    await pace(180); // replay runs while new ticks keep arriving
    const n = i;
    await waitFor(
      'caught up',
      () =>
        r.store.stats().writtenUntil === BASE + (n - 1) * 1000 && r.store.stats().mode === 'direct',
    );
    await reader.connect();
    await checkExactlyOnce(r, n, reader);
  } finally {
    reader.disconnect();
    await r.close();
    tmp.remove();
  }
});

test('a replay interrupted by a crash writes no duplicates when it resumes', async () => {
  const tmp = tempDir('store');
  const node = 'crashy';
  try {
    // Spool 400 ticks with Redis unreachable for this store (never connected).
    const first = rig(tmp.dir, node);
    for (let i = 0; i < 400; i++) first.store.append(sample(i));
    await first.close();
    // Replay part of it, then "crash": drop the store without closing anything.
    const second = rig(tmp.dir, node);
    await second.redis.connect();
    await waitFor('part replayed', () => second.store.stats().writtenUntil >= BASE + 150_000);
    second.redis.disconnect();
    await second.close(); // its loop must not keep the test process alive
    // Resume in a third process-like instance.
    const third = rig(tmp.dir, node);
    await third.redis.connect();
    for (let i = 400; i < 420; i++) third.store.append(sample(i));
    await waitFor(
      'caught up',
      () =>
        third.store.stats().writtenUntil === BASE + 419_000 &&
        third.store.stats().mode === 'direct',
    );
    await checkExactlyOnce(third, 420, third.redis);
    await third.close();
  } finally {
    tmp.remove();
  }
});

test('a corrupted spool: bad records counted, the rest replayed', async () => {
  const tmp = tempDir('store');
  const node = 'corrupt';
  try {
    const first = rig(tmp.dir, node);
    for (let i = 0; i < 100; i++) first.store.append(sample(i));
    await first.close();
    // Damage one record in the middle of the first segment and cut the last segment short.
    const files = readdirSync(tmp.dir)
      .filter((f) => f.endsWith('.spool'))
      .sort();
    const a = path.join(tmp.dir, files[0]!);
    const buf = readFileSync(a);
    buf.writeUInt8(buf.readUInt8(Math.floor(buf.length / 2)) ^ 0x5a, Math.floor(buf.length / 2));
    writeFileSync(a, buf);
    const z = path.join(tmp.dir, files[files.length - 1]!);
    writeFileSync(z, readFileSync(z).subarray(0, -3));
    const second = rig(tmp.dir, node);
    await second.redis.connect();
    await waitFor('replayed', () => second.store.stats().mode === 'direct');
    const st = second.store.stats();
    assert.ok(st.spool.badRecords >= 2, `bad records counted: ${st.spool.badRecords}`);
    const raw = await querySeries(
      second.redis,
      second.layout,
      second.layout.raw,
      ['mem.available_bytes'],
      BASE,
      BASE + 99_000,
    );
    const got = raw.get('mem.available_bytes')!.length;
    assert.ok(got >= 100 - 3 && got < 100, `the rest replayed: ${got} of 100`);
    await second.close();
  } finally {
    tmp.remove();
  }
});

test('a full spool keeps the rollups of the raw samples it sheds, and counts the loss', async () => {
  const tmp = tempDir('store');
  const node = 'full';
  try {
    // Redis unreachable for this store: 3000 ticks (~120 KiB) into a spool capped at 64 KiB.
    const first = rig(tmp.dir, node, 65536);
    const n = 3000;
    for (let i = 0; i < n; i++) first.store.append(sample(i));
    const st = first.store.stats().spool;
    assert.ok(st.shedTicks > 0, 'raw ticks were shed');
    assert.equal(st.droppedTicks, 0, 'nothing dropped entirely');
    await first.close();
    const second = rig(tmp.dir, node, 65536);
    await second.redis.connect();
    await waitFor('replayed', () => second.store.stats().mode === 'direct');
    // Every closed 10 s bucket has its exact rollup, shed or not.
    const closed = Math.floor(n / 10) - 1;
    const roll = await querySeries(
      second.redis,
      second.layout,
      second.layout.rollups[0]!,
      SERIES,
      BASE,
      BASE + closed * 10_000 - 1,
    );
    SERIES.forEach((name, s) => {
      const points = roll.get(name)!;
      assert.equal(points.length, closed, `${name}: every 10 s rollup kept`);
      points.forEach((p, b) => {
        const vals = Array.from({ length: 10 }, (_, k) => Math.fround(valueAt(b * 10 + k, s)));
        assert.equal(p.min, Math.min(...vals));
        assert.equal(p.max, Math.max(...vals));
        assert.equal(p.last, vals[9]);
      });
    });
    const raw = await querySeries(
      second.redis,
      second.layout,
      second.layout.raw,
      ['cpu.busy_pct'],
      BASE,
      BASE + (n - 1) * 1000,
    );
    const kept = raw.get('cpu.busy_pct')!.length;
    assert.equal(kept, n - st.shedTicks, 'the shed raw ticks are the ones missing');
    assert.equal(
      raw.get('cpu.busy_pct')![0]!.ts,
      BASE + st.shedTicks * 1000,
      'the oldest went first',
    );
    assert.equal(Number(await second.redis.hget('t:full:losses', 'shed_raw_ticks')), st.shedTicks);
    await second.close();
  } finally {
    tmp.remove();
  }
});

test('a Redis that hangs (slow, not down): ticks go to the spool and come back in order', async () => {
  const tmp = tempDir('store');
  const r = rig(tmp.dir);
  try {
    await r.redis.connect();
    let i = 0;
    const pace = async (count: number): Promise<void> => {
      for (const end = i + count; i < end; i++) {
        r.store.append(sample(i));
        await new Promise((res) => setTimeout(res, 10));
      }
    };
    await pace(50);
    server.pause();
    try {
      await pace(150); // 1.5 s of a server that accepts nothing and closes nothing
      assert.equal(r.store.stats().mode, 'spool', 'a write timed out, so the store spooled');
    } finally {
      server.resume();
    }
    await pace(50);
    const n = i;
    await waitFor(
      'caught up',
      () =>
        r.store.stats().writtenUntil === BASE + (n - 1) * 1000 && r.store.stats().mode === 'direct',
    );
    await checkExactlyOnce(r, n, r.redis);
  } finally {
    await r.close();
    tmp.remove();
  }
});

test('a Redis restarted empty gets the layout and series registry back with the next write', async () => {
  const volatile = await startRedis(); // no persistence: a restart loses everything
  const tmp = tempDir('store');
  const { store, redis, layout, close } = rig(tmp.dir, 'empty', 1 << 20, volatile.port);
  try {
    await redis.connect();
    for (let i = 0; i < 5; i++) store.append(sample(i));
    await waitFor('written', () => store.stats().writtenUntil === BASE + 4000);
    await volatile.kill();
    await volatile.start();
    await waitFor('reconnected', () => redis.status === 'ready');
    for (let i = 5; i < 10; i++) store.append(sample(i));
    await waitFor(
      'written again',
      async () =>
        (await redis.get('t:empty:written_until').catch(() => null)) === String(BASE + 9000),
    );
    assert.equal(await redis.hlen('t:empty:series'), SERIES.length, 'series registry rewritten');
    assert.ok(await redis.exists('t:empty:layout'), 'layout rewritten');
    const raw = await querySeries(
      redis,
      layout,
      layout.raw,
      ['mem.available_bytes'],
      BASE,
      BASE + 9000,
    );
    assert.deepEqual(
      raw.get('mem.available_bytes')!.map((p) => (p.ts - BASE) / 1000),
      [5, 6, 7, 8, 9],
      'what Redis lost is lost; everything after it is there',
    );
  } finally {
    await close();
    await volatile.stop();
    tmp.remove();
  }
});

test('every chunk key gets an expiry: series missing on a chunk’s first write, and replays past retention', async () => {
  const tmp = tempDir('store');
  const r = rig(tmp.dir, 'ttl');
  try {
    await r.redis.connect();
    // Two days old (raw and 10 s rollups already past retention), then recent ticks in
    // which the first series is missing at first, as a rate is on its first reading.
    const old = BASE - 2 * 86_400_000;
    r.store.append({ ts: old, series: SERIES, values: Float64Array.of(1, 2, 3) });
    for (let i = 0; i < 40; i++) {
      const s = sample(i);
      if (i < 3) s.values[0] = NaN;
      r.store.append(s);
    }
    await waitFor('written', () => r.store.stats().writtenUntil === BASE + 39_000);
    const keys = await r.redis.keys('t:ttl:r*');
    assert.ok(keys.length > 0);
    for (const key of keys) assert.ok((await r.redis.pttl(key)) > 0, `${key} has an expiry`);
    const oldChunk = Math.floor(old / r.layout.raw.chunkMs);
    assert.equal(
      await r.redis.exists(`t:ttl:raw:1s:cpu.busy_pct:${oldChunk}`),
      0,
      'nothing written past its retention',
    );
  } finally {
    await r.close();
    tmp.remove();
  }
});

test('a fresh tick older than what Redis holds (clock stepped back) is counted as rejected', async () => {
  const tmp = tempDir('store');
  const r = rig(tmp.dir, 'backwards');
  try {
    await r.redis.connect();
    r.store.append(sample(10));
    await waitFor('written', () => r.store.stats().writtenUntil === BASE + 10_000);
    r.store.append(sample(5));
    await waitFor('rejected', () => r.store.stats().rejectedTicks === 1);
    assert.equal(r.store.stats().written, 1);
  } finally {
    await r.close();
    tmp.remove();
  }
});
