/**
 * The agent as a child process against a private Redis: bad config, SIGTERM, SIGHUP, and the
 * two outages that must lose nothing: Redis down for 30 s, and the agent killed with -9 while
 * Redis is down.
 */
import assert from 'node:assert/strict';
import { existsSync, writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { makeLayout, querySeries } from '../../agent/store/index.js';
import { runCli, runCliToEnd, writeAgentConfig, killAll } from '../helpers/agent.js';
import { startRedis, tempDir, type RedisServer } from '../helpers/servers.js';

const layoutOf = (node: string) =>
  makeLayout('spikecap', node, 1000, 3_600_000, [
    { name: '10s', stepMs: 10_000, retentionMs: 86_400_000 },
    { name: '1m', stepMs: 60_000, retentionMs: 8 * 86_400_000 },
    { name: '5m', stepMs: 300_000, retentionMs: 35 * 86_400_000 },
  ]);

let redis: RedisServer;
before(async () => {
  redis = await startRedis({ persist: true });
});
after(async () => {
  killAll();
  await redis.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function client(): Promise<Redis> {
  const c = new Redis({ port: redis.port, host: '127.0.0.1', lazyConnect: true });
  await c.connect();
  return c;
}

/** Tick times of mem.available_bytes stored in raw between from and to. */
async function storedTicks(c: Redis, node: string, from: number, to: number): Promise<number[]> {
  const layout = layoutOf(node);
  const data = await querySeries(c, layout, layout.raw, ['mem.available_bytes'], from, to);
  return data.get('mem.available_bytes')!.map((p) => p.ts);
}

function assertContiguous(ts: number[], what: string): void {
  for (let i = 1; i < ts.length; i++)
    assert.equal(
      ts[i]! - ts[i - 1]!,
      1000,
      `${what}: gap or duplicate after ${new Date(ts[i - 1]!).toISOString()}`,
    );
}

test('a bad config: exit 2 with every problem and its path, nothing started', async () => {
  const tmp = tempDir('e2e');
  try {
    const file = path.join(tmp.dir, 'bad.yaml');
    writeFileSync(
      file,
      `state_dir: ${JSON.stringify(path.join(tmp.dir, 'state'))}\nredis: { url: "localhost:6379" }\nsampler: { interval: 3s, cpu: { enabld: true } }\n`,
    );
    const r = await runCliToEnd(['run', '--config', file]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /redis\.url: expected redis:\/\/, rediss:\/\/ or unix:\/\/ URL, got "localhost:6379"/,
    );
    assert.match(r.stderr, /sampler\.cpu\.enabld: unknown key \(did you mean "enabled"\?\)/);
    assert.equal(
      existsSync(path.join(tmp.dir, 'state')),
      false,
      'no spool created: sampling never started',
    );
    const check = await runCliToEnd(['config', 'check', file]);
    assert.equal(check.code, 2);
    assert.match(check.stderr, /redis\.url: expected/);
  } finally {
    tmp.remove();
  }
});

test('SIGHUP reloads and names restart-only keys; SIGTERM flushes and exits 0 within 5 s', async () => {
  const tmp = tempDir('e2e');
  try {
    const file = writeAgentConfig(tmp.dir, redis.url);
    const agent = runCli(['run', '--config', file]);
    await agent.waitForLog('spikecap starting');
    await sleep(2500);
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace('level: debug', 'level: info') +
        'sampler: { interval: 2s }\n',
    );
    agent.child.kill('SIGHUP');
    const reloaded = await agent.waitForLog('config reloaded');
    assert.deepEqual(reloaded.restart_needed_for, ['sampler.interval']);
    const t0 = Date.now();
    agent.child.kill('SIGTERM');
    const { code } = await agent.exited;
    assert.equal(code, 0);
    assert.ok(Date.now() - t0 < 5000, `exited in ${Date.now() - t0} ms`);
    const stopped = await agent.waitForLog('stopped');
    assert.ok((stopped.written as number) >= 2, 'ticks were written');
  } finally {
    tmp.remove();
  }
});

test(
  'Redis killed for 30 s and restarted mid-run: every tick present exactly once',
  { timeout: 120_000 },
  async () => {
    const tmp = tempDir('e2e');
    const c = await client();
    c.on('error', () => undefined);
    try {
      const file = writeAgentConfig(tmp.dir, redis.url, '', 'outage');
      const agent = runCli(['run', '--config', file]);
      await agent.waitForLog('spikecap starting');
      await sleep(4000);
      await redis.kill();
      await sleep(30_000);
      await redis.start();
      await agent.waitForLog('spool replayed; writing directly again', 30_000);
      await sleep(3000);
      agent.child.kill('SIGTERM');
      assert.equal((await agent.exited).code, 0);
      const stopped = await agent.waitForLog('stopped');
      const ticks = await storedTicks(c, 'outage', Date.now() - 600_000, Date.now());
      assert.ok(ticks.length >= 36, `ticks stored: ${ticks.length}`);
      assertContiguous(ticks, 'raw mem.available_bytes');
      assert.equal(
        stopped.written,
        stopped.ticks,
        `every sampled tick written once: ${JSON.stringify(stopped)}`,
      );
      assert.equal(ticks.length, stopped.ticks);
    } finally {
      c.disconnect();
      tmp.remove();
    }
  },
);

test(
  'agent killed with -9 during a Redis outage: the spooled samples are replayed on restart',
  { timeout: 60_000 },
  async () => {
    const tmp = tempDir('e2e');
    try {
      // Point the agent at a port where nothing listens: everything goes to the spool.
      const file = writeAgentConfig(tmp.dir, `redis://127.0.0.1:${redis.port}/3`, '', 'crash');
      await redis.kill();
      const first = runCli(['run', '--config', file]);
      await first.waitForLog('spikecap starting');
      await sleep(6000);
      first.child.kill('SIGKILL');
      await first.exited;
      await sleep(3000); // a visible gap in time between the two runs
      await redis.start();
      const c = await client();
      await c.select(3);
      assert.equal(
        await c.exists('spikecap:crash:written_until'),
        0,
        'nothing reached Redis before the crash',
      );
      const second = runCli(['run', '--config', file]);
      await second.waitForLog('spool replayed; writing directly again', 20_000);
      await sleep(1500);
      second.child.kill('SIGTERM');
      assert.equal((await second.exited).code, 0);
      const ticks = await storedTicks(c, 'crash', Date.now() - 600_000, Date.now());
      c.disconnect();
      // The first run's ~6 ticks (at most the one in flight lost), a gap, then the second run's.
      const gap = ticks.findIndex((t, i) => i > 0 && t - ticks[i - 1]! > 1000);
      assert.ok(
        gap > 0,
        `a gap between the two runs: ${ticks.map((t) => new Date(t).toISOString().slice(11, 19)).join(' ')}`,
      );
      const firstRun = ticks.slice(0, gap);
      assertContiguous(firstRun, 'first run');
      assert.ok(firstRun.length >= 5, `first run's spooled ticks replayed: ${firstRun.length}`);
    } finally {
      tmp.remove();
    }
  },
);
