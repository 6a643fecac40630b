import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { describe, it } from 'node:test';
import { RESCAN_EVERY, Sampler, type Sample } from '../../../agent/metrics/index.js';
import {
  advanceFixtureCounters,
  captureLogger,
  fixtureSamplerOptions,
  fixtureUnitCores,
  fixtureUnitPath,
  makeCgroupFixtureTree,
} from '../../helpers/fixtures.js';

/** tmpfs when there is one: the tree has thousands of small files. */
async function scratchDir(): Promise<string> {
  return mkdtemp(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'spikecap-cg-'));
}

function value(s: Sample, name: string): number {
  const i = s.series.indexOf(name);
  assert.ok(i >= 0, `series ${name} missing`);
  return s.values[i]!;
}

void describe('synthetic cgroup tree', () => {
  void it('advances counters in place and the sampler rates them', async () => {
    const dir = await scratchDir();
    const { log } = captureLogger();
    try {
      const tree = await makeCgroupFixtureTree(dir, 120);
      const o = fixtureSamplerOptions(tree, log, 'auto');
      o.cgroup.top_n = 100;
      const sampler = new Sampler(o);
      sampler.collect(0, 0);
      await advanceFixtureCounters(tree);
      let s = sampler.collect(1000, 1000);
      assert.equal(s.series.filter((id) => id.startsWith('cgroup.')).length, 100 * 11);
      assert.deepEqual([...sampler.unavailable], []);
      // First ranking, by lifetime use: the fixture's later units have used more.
      assert.ok(!s.series.includes(`cgroup.${fixtureUnitPath(19)}.cpu_cores`));
      assert.equal(value(s, `cgroup.${fixtureUnitPath(96)}.cpu_cores`), fixtureUnitCores(96, 1000));
      assert.equal(value(s, `cgroup.${fixtureUnitPath(96)}.io_write_bytes_per_s`), 65536);
      assert.equal(value(s, `cgroup.${fixtureUnitPath(20)}.mem_max_bytes`), Infinity);
      assert.equal(value(s, 'net.eth0.rx_bytes_per_s'), 125000);
      assert.equal(value(s, 'disk.sda.busy_pct'), 10);
      assert.deepEqual(
        s.series.filter((_, i) => Number.isNaN(s.values[i])),
        [],
      );
      // After a rescan window, by use per tick (unit i: i % 97 + 1 ms): the 20 lowest go.
      for (let tick = 2; tick <= RESCAN_EVERY; tick++) {
        await advanceFixtureCounters(tree);
        s = sampler.collect(tick * 1000, tick * 1000);
      }
      sampler.close();
      const dropped = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 97, 98, 99, 100, 101, 102, 103, 104, 105, 106];
      for (let i = 0; i < tree.units; i++) {
        const has = s.series.includes(`cgroup.${fixtureUnitPath(i)}.cpu_cores`);
        assert.equal(has, !dropped.includes(i), `unit ${i}`);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  void it('10,000 series from 1500 units (µs per collect in the diagnostics)', async (t) => {
    const dir = await scratchDir();
    const { log } = captureLogger();
    try {
      const tree = await makeCgroupFixtureTree(dir, 1500);
      const o = fixtureSamplerOptions(tree, log, 'auto');
      o.cgroup.top_n = 905;
      const sampler = new Sampler(o);
      let mono = 0;
      sampler.collect(0, mono);
      await advanceFixtureCounters(tree);
      let s = sampler.collect(0, (mono += 1000));
      assert.ok(s.series.length >= 10_000, `${s.series.length} series`);
      const times: number[] = [];
      for (let i = 0; i < 30; i++) {
        const t0 = performance.now();
        s = sampler.collect(0, (mono += 1000));
        times.push((performance.now() - t0) * 1000);
      }
      sampler.close();
      times.sort((a, b) => a - b);
      t.diagnostic(
        `${s.series.length} series, ${times.length} collects: p50 ${times[15]!.toFixed(0)} µs, max ${times.at(-1)!.toFixed(0)} µs`,
      );
      assert.equal(s.values.length, s.series.length);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
