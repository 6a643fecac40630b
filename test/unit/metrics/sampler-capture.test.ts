import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { Sampler, type Sample } from '../../../agent/metrics/index.js';
import {
  captureLogger,
  fixtureSamplerOptions,
  overlayFixture,
  procfsFixture,
  stageFixture,
  type StagedTree,
} from '../../helpers/fixtures.js';

/** The live capture from this project's build machine: two readings ~1.1 s apart. */
function fields(tree: string, file: string, key: string, col = 0): number[] {
  const text = readFileSync(procfsFixture(tree, file), 'latin1');
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[col] === key) return f.map(Number);
  }
  throw new Error(`${file}: no ${key}`);
}

function value(s: Sample, name: string): number {
  const i = s.series.indexOf(name);
  assert.ok(i >= 0, `series ${name} missing`);
  return s.values[i]!;
}

void describe('sampler on the live capture (hybrid cgroup, no thermal)', () => {
  let tree: StagedTree;
  let first: Sample;
  let second: Sample;
  let sampler: Sampler;
  const logged = captureLogger();

  before(async () => {
    tree = await stageFixture('live-a');
    // cgroupfs 'auto': mountinfo's /sys/fs/cgroup/unified maps into the fixture's sys/.
    sampler = new Sampler(fixtureSamplerOptions(tree, logged.log, 'auto'));
    first = sampler.collect(1_000, 5_000);
    await overlayFixture(tree, 'live-b');
    second = sampler.collect(2_000, 6_000);
  });

  after(async () => {
    sampler.close();
    await rm(tree.root, { recursive: true, force: true });
  });

  void it('keeps the series array instance while the set is unchanged', () => {
    assert.equal(first.series, second.series);
    assert.equal(second.values.length, second.series.length);
    assert.equal(second.ts, 2_000);
  });

  void it('cpu.busy_pct is the non-idle, non-iowait share of the tick', () => {
    assert.ok(Number.isNaN(value(first, 'cpu.busy_pct')));
    const a = fields('live-a', 'proc/stat', 'cpu').slice(1, 9);
    const b = fields('live-b', 'proc/stat', 'cpu').slice(1, 9);
    const d = b.map((v, i) => v - a[i]!);
    const total = d.reduce((x, y) => x + y, 0);
    const busy = (100 * (total - d[3]! - d[4]!)) / total;
    assert.ok(Math.abs(value(second, 'cpu.busy_pct') - busy) < 1e-9);
    assert.ok(Math.abs(value(second, 'cpu.user_pct') - (100 * d[0]!) / total) < 1e-9);
    assert.ok(busy > 10, 'the capture was taken under load');
    for (const core of ['core0', 'core1']) {
      const v = value(second, `cpu.${core}.busy_pct`);
      assert.ok(v >= 0 && v <= 100);
    }
  });

  void it('mem.available_bytes is MemAvailable in bytes', () => {
    assert.equal(
      value(first, 'mem.available_bytes'),
      fields('live-a', 'proc/meminfo', 'MemAvailable:')[1]! * 1024,
    );
    assert.equal(
      value(second, 'mem.available_bytes'),
      fields('live-b', 'proc/meminfo', 'MemAvailable:')[1]! * 1024,
    );
    assert.equal(
      value(second, 'mem.used_bytes'),
      value(second, 'mem.total_bytes') - value(second, 'mem.available_bytes'),
    );
  });

  void it('excludes loopback and virtual interfaces (no device link), loop and zram disks', () => {
    const nets = new Set(
      second.series.filter((s) => s.startsWith('net.')).map((s) => s.split('.')[1]),
    );
    assert.deepEqual([...nets], ['eth0']);
    const disks = new Set(
      second.series.filter((s) => s.startsWith('disk.')).map((s) => s.split('.')[1]),
    );
    assert.deepEqual([...disks], ['vda']);
  });

  void it('disk rates from diskstats over the injected monotonic interval', () => {
    const a = fields('live-a', 'proc/diskstats', 'vda', 2);
    const b = fields('live-b', 'proc/diskstats', 'vda', 2);
    assert.equal(value(second, 'disk.vda.write_bytes_per_s'), (b[9]! - a[9]!) * 512);
    assert.equal(value(second, 'disk.vda.writes_per_s'), b[7]! - a[7]!);
    assert.equal(value(second, 'disk.vda.busy_pct'), ((b[12]! - a[12]!) * 100) / 1000);
    assert.equal(value(second, 'disk.vda.in_flight'), b[11]);
  });

  void it('PSI stalled % from the total= counters', () => {
    const a = fields('live-a', 'proc/pressure/cpu', 'some');
    const text = readFileSync(procfsFixture('live-b/proc/pressure/cpu'), 'latin1');
    const bTotal = Number(/some .*total=(\d+)/.exec(text)![1]);
    const aTotal = Number(
      /some .*total=(\d+)/.exec(
        readFileSync(procfsFixture('live-a/proc/pressure/cpu'), 'latin1'),
      )![1],
    );
    assert.ok(a.length > 0);
    assert.ok(
      Math.abs(value(second, 'psi.cpu.some_stalled_pct') - (bTotal - aTotal) / 10_000) < 1e-9,
    );
    assert.ok(second.series.includes('psi.cpu.full_avg10'));
  });

  void it('finds the hybrid cgroup2 mount; no units match the default globs there', () => {
    assert.equal(sampler.unavailable.has('cgroup'), false);
    assert.equal(second.series.filter((s) => s.startsWith('cgroup.')).length, 0);
  });

  void it('reports the missing thermal family once, at warn', () => {
    assert.match(sampler.unavailable.get('thermal') ?? '', /no thermal zones/);
    const warns = logged.lines.filter((l) => l.level === 'warn' && l.source === 'thermal');
    assert.equal(warns.length, 1);
  });

  void it('knows the meta of every series', () => {
    for (const id of second.series) {
      const m = sampler.meta(id);
      assert.ok(m, id);
      assert.equal(m.family, id.split('.')[0]);
    }
    assert.deepEqual(sampler.meta('cpu.busy_pct'), { unit: 'pct', family: 'cpu' });
    assert.deepEqual(sampler.meta('mem.available_bytes'), { unit: 'bytes', family: 'mem' });
    assert.equal(sampler.meta('nope'), undefined);
  });
});
