import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import type { SamplerConfig } from '../../../agent/config/schema.generated.js';
import { Sampler, type Sample, type SamplerOptions } from '../../../agent/metrics/index.js';
import type { Logger } from '../../../agent/shared/log.js';
import {
  captureLogger,
  fixtureSamplerOptions,
  overlayFixture,
  stageFixture,
  type StagedTree,
} from '../../helpers/fixtures.js';

// Compile-time: the config section (minus interval, plus a logger) is valid options.
export const fromConfig = (c: SamplerConfig, log: Logger): SamplerOptions => ({ ...c, log });

const MB = 1048576;

function value(s: Sample, name: string): number {
  const i = s.series.indexOf(name);
  assert.ok(i >= 0, `series ${name} missing`);
  return s.values[i]!;
}

function close(actual: number, expected: number, what: string): void {
  assert.ok(
    Math.abs(actual - expected) < 1e-9 * Math.max(1, Math.abs(expected)),
    `${what}: ${actual} != ${expected}`,
  );
}

/** Hand-made trees synth-a then synth-b (see test/fixtures/procfs/README.md). */
async function twoReadings(
  elapsedMs: number,
  tune: (o: SamplerOptions) => void = () => {},
): Promise<{
  sampler: Sampler;
  a: Sample;
  b: Sample;
  tree: StagedTree;
  lines: { level: string; msg: string }[];
}> {
  const tree = await stageFixture('synth-a');
  const { log, lines } = captureLogger();
  const o = fixtureSamplerOptions(tree, log, 'auto');
  tune(o);
  const sampler = new Sampler(o);
  const a = sampler.collect(0, 100);
  await overlayFixture(tree, 'synth-b');
  const b = sampler.collect(1000, 100 + elapsedMs);
  return { sampler, a, b, tree, lines };
}

void describe('sampler on the hand-made trees (pure cgroup v2, thermal, wraps)', () => {
  let r: Awaited<ReturnType<typeof twoReadings>>;
  before(async () => {
    r = await twoReadings(1000);
  });
  after(async () => {
    r.sampler.close();
    await rm(r.tree.root, { recursive: true, force: true });
  });

  void it('every rate is NaN on the first reading, gauges are not', () => {
    assert.ok(Number.isNaN(value(r.a, 'cpu.busy_pct')));
    assert.ok(Number.isNaN(value(r.a, 'net.eth0.rx_bytes_per_s')));
    assert.ok(Number.isNaN(value(r.a, 'cgroup.system.slice/nginx.service.cpu_cores')));
    assert.equal(value(r.a, 'mem.available_bytes'), 8000000 * 1024);
    assert.equal(value(r.a, 'disk.nvme0n1.in_flight'), 2);
    assert.equal(value(r.a, 'thermal.x86_pkg_temp.celsius'), 45);
    assert.equal(value(r.a, 'cgroup.system.slice/nginx.service.mem_current_bytes'), 50 * MB);
  });

  void it('CPU per core, with a backwards iowait step clamped', () => {
    const b = r.b;
    close(value(b, 'cpu.busy_pct'), 40, 'busy');
    close(value(b, 'cpu.user_pct'), 37.5, 'user');
    close(value(b, 'cpu.system_pct'), 2.5, 'system');
    close(value(b, 'cpu.idle_pct'), 59.25, 'idle');
    close(value(b, 'cpu.iowait_pct'), 0.75, 'iowait');
    close(value(b, 'cpu.core0.busy_pct'), 60, 'core0');
    close(value(b, 'cpu.core0.user_pct'), 50, 'core0 user');
    close(value(b, 'cpu.core0.iowait_pct'), 4, 'core0 iowait');
    close(value(b, 'cpu.core1.busy_pct'), 0, 'core1');
    close(value(b, 'cpu.core2.busy_pct'), 100, 'core2');
    close(value(b, 'cpu.core3.idle_pct'), 100, 'core3 idle');
    close(value(b, 'cpu.core3.iowait_pct'), 0, 'core3 iowait');
    assert.equal(b.series.filter((s) => s.startsWith('cpu.')).length, 5 * 9);
  });

  void it('memory, load', () => {
    const b = r.b;
    assert.equal(value(b, 'mem.total_bytes'), 16000000 * 1024);
    assert.equal(value(b, 'mem.available_bytes'), 7900000 * 1024);
    assert.equal(value(b, 'mem.used_bytes'), (16000000 - 7900000) * 1024);
    assert.equal(value(b, 'mem.cached_bytes'), 5050000 * 1024);
    assert.equal(value(b, 'mem.dirty_bytes'), 2048 * 1024);
    assert.equal(value(b, 'mem.swap_used_bytes'), 1100000 * 1024);
    assert.equal(value(b, 'load.avg1'), 1.62);
    assert.equal(value(b, 'load.avg15'), 0.27);
    assert.equal(value(b, 'load.runnable_tasks'), 5);
    assert.equal(value(b, 'load.total_tasks'), 460);
  });

  void it('PSI: avg10 and stalled %, no cpu full series where the kernel has none', () => {
    const b = r.b;
    assert.equal(value(b, 'psi.cpu.some_avg10'), 2.5);
    close(value(b, 'psi.cpu.some_stalled_pct'), 25, 'cpu some');
    close(value(b, 'psi.memory.some_stalled_pct'), 10, 'mem some');
    close(value(b, 'psi.memory.full_stalled_pct'), 5, 'mem full');
    close(value(b, 'psi.io.some_stalled_pct'), 5, 'io some');
    close(value(b, 'psi.io.full_stalled_pct'), 0, 'io full');
    assert.ok(!b.series.includes('psi.cpu.full_avg10'));
    assert.ok(!b.series.includes('psi.cpu.full_stalled_pct'));
  });

  void it('network: physical interfaces only; 32/64-bit wraps and a reset', () => {
    const b = r.b;
    const ifs = new Set(b.series.filter((s) => s.startsWith('net.')).map((s) => s.split('.')[1]));
    assert.deepEqual([...ifs], ['eth0', 'eth1', 'eth2', 'eth3', 'wlan0']);
    assert.equal(value(b, 'net.eth0.rx_bytes_per_s'), 125000);
    assert.equal(value(b, 'net.eth0.rx_packets_per_s'), 100);
    assert.equal(value(b, 'net.eth0.rx_errors_per_s'), 1);
    assert.equal(value(b, 'net.eth0.rx_drops_per_s'), 0);
    assert.equal(value(b, 'net.eth0.tx_bytes_per_s'), 62500);
    assert.equal(value(b, 'net.eth0.tx_drops_per_s'), 1);
    assert.equal(value(b, 'net.eth1.rx_bytes_per_s'), 1000, '32-bit wrap');
    assert.equal(value(b, 'net.eth2.tx_bytes_per_s'), 5000, '64-bit wrap');
    assert.ok(Number.isNaN(value(b, 'net.eth3.rx_bytes_per_s')), 'reset');
    assert.ok(Number.isNaN(value(b, 'net.eth3.rx_packets_per_s')), 'reset');
    assert.equal(value(b, 'net.eth3.tx_bytes_per_s'), 0);
  });

  void it('disks: whole devices only; io_ticks 32-bit wrap; a recreated device', () => {
    const b = r.b;
    const disks = new Set(
      b.series.filter((s) => s.startsWith('disk.')).map((s) => s.split('.')[1]),
    );
    assert.deepEqual([...disks], ['dm-0', 'nvme0n1', 'sda', 'sdb', 'sdc']);
    assert.equal(value(b, 'disk.sda.reads_per_s'), 100);
    assert.equal(value(b, 'disk.sda.read_bytes_per_s'), 8000 * 512);
    assert.equal(value(b, 'disk.sda.writes_per_s'), 50);
    assert.equal(value(b, 'disk.sda.write_bytes_per_s'), 2000 * 512);
    assert.equal(value(b, 'disk.sda.busy_pct'), 25);
    assert.equal(value(b, 'disk.sda.in_flight'), 3);
    assert.equal(value(b, 'disk.sdb.busy_pct'), 80, 'io_ticks wrapped at 2^32 ms');
    assert.equal(value(b, 'disk.nvme0n1.busy_pct'), 100);
    assert.ok(Number.isNaN(value(b, 'disk.sdc.reads_per_s')), 'new major:minor means a new device');
    assert.equal(value(b, 'disk.sdc.in_flight'), 0);
  });

  void it('cgroups: cores, memory, PSI and io per unit', () => {
    const b = r.b;
    const u = 'cgroup.system.slice/nginx.service';
    close(value(b, `${u}.cpu_cores`), 0.5, 'cores');
    assert.equal(value(b, `${u}.mem_current_bytes`), 51 * MB);
    assert.equal(value(b, `${u}.mem_max_bytes`), Infinity, "'max' is unlimited");
    close(value(b, `${u}.psi.cpu.some_stalled_pct`), 10, 'cpu some');
    close(value(b, `${u}.psi.cpu.full_stalled_pct`), 5, 'cpu full');
    close(value(b, `${u}.psi.io.some_stalled_pct`), 2, 'io some');
    assert.equal(value(b, `${u}.io_read_bytes_per_s`), 1048576);
    assert.equal(value(b, `${u}.io_write_bytes_per_s`), 500000);
    close(value(b, 'cgroup.system.slice/redis-server.service.cpu_cores'), 1.5, 'redis');
    assert.equal(value(b, 'cgroup.system.slice/redis-server.service.mem_max_bytes'), 1024 * MB);
    const units = new Set(
      b.series.filter((s) => s.startsWith('cgroup.')).map((s) => s.split('.service.')[0]),
    );
    assert.equal(units.size, 7, [...units].join(','));
    assert.ok(!b.series.some((s) => s.includes('foo.socket') || s.includes('inner.service')));
  });

  void it('thermal zones and hwmon, with clashing names numbered and zone hwmon skipped', () => {
    const t = r.b.series.filter((s) => s.startsWith('thermal.'));
    assert.deepEqual(t, [
      'thermal.acpitz_1.celsius',
      'thermal.acpitz_2.celsius',
      'thermal.coretemp.core_0.celsius',
      'thermal.coretemp.core_1.celsius',
      'thermal.coretemp.package_id_0.celsius',
      'thermal.k10temp.tctl.celsius',
      'thermal.nvme.composite.celsius',
      'thermal.nvme.temp2.celsius',
      'thermal.x86_pkg_temp.celsius',
    ]);
    assert.equal(value(r.b, 'thermal.acpitz_2.celsius'), 30.8);
    assert.equal(value(r.b, 'thermal.coretemp.package_id_0.celsius'), 48);
    assert.equal(value(r.b, 'thermal.k10temp.tctl.celsius'), -4.5);
    assert.equal(r.sampler.meta('thermal.nvme.temp2.celsius')?.unit, 'celsius');
  });

  void it('series names are unique, one line, one token; nothing reported missing', () => {
    assert.equal(new Set(r.b.series).size, r.b.series.length);
    for (const s of r.b.series) assert.ok(!/\s/.test(s), JSON.stringify(s));
    assert.deepEqual([...r.sampler.unavailable], []);
    assert.equal(r.a.series, r.b.series);
  });
});

void describe('rates use the monotonic elapsed time', () => {
  void it('halves every rate when two seconds passed', async () => {
    const r = await twoReadings(2000);
    try {
      assert.equal(value(r.b, 'net.eth0.rx_bytes_per_s'), 62500);
      assert.equal(value(r.b, 'disk.sda.busy_pct'), 12.5);
      close(value(r.b, 'cgroup.system.slice/nginx.service.cpu_cores'), 0.25, 'cores');
      close(value(r.b, 'psi.cpu.some_stalled_pct'), 12.5, 'psi');
      // Shares of CPU time do not depend on the clock at all.
      close(value(r.b, 'cpu.busy_pct'), 40, 'busy');
    } finally {
      r.sampler.close();
      await rm(r.tree.root, { recursive: true, force: true });
    }
  });

  void it('gives NaN, not Infinity, for a zero interval', async () => {
    const r = await twoReadings(0);
    try {
      assert.ok(Number.isNaN(value(r.b, 'net.eth0.rx_bytes_per_s')));
      assert.ok(Number.isNaN(value(r.b, 'psi.cpu.some_stalled_pct')));
      assert.ok(Number.isNaN(value(r.b, 'cgroup.system.slice/nginx.service.cpu_cores')));
    } finally {
      r.sampler.close();
      await rm(r.tree.root, { recursive: true, force: true });
    }
  });
});

void describe('include/exclude globs and flags', () => {
  void it('net and disk globs, virtual interfaces and partitions on request', async () => {
    const r = await twoReadings(1000, (o) => {
      o.net = {
        enabled: true,
        include: ['eth*', 'lo', 'veth*'],
        exclude: ['eth[23]'],
        include_virtual: true,
      };
      o.disk = {
        enabled: true,
        include: ['sd*', 'nvme*'],
        exclude: ['sdc'],
        include_partitions: true,
      };
    });
    try {
      const nets = new Set(
        r.b.series.filter((s) => s.startsWith('net.')).map((s) => s.split('.')[1]),
      );
      assert.deepEqual([...nets], ['eth0', 'eth1', 'lo', 'veth1a2b']);
      const disks = new Set(
        r.b.series.filter((s) => s.startsWith('disk.')).map((s) => s.split('.')[1]),
      );
      assert.deepEqual([...disks], ['nvme0n1', 'nvme0n1p1', 'sda', 'sda1', 'sda2', 'sdb']);
      assert.equal(value(r.b, 'net.lo.rx_bytes_per_s'), 1000);
    } finally {
      r.sampler.close();
      await rm(r.tree.root, { recursive: true, force: true });
    }
  });

  void it('cgroup `**` globs reach nested units', async () => {
    const r = await twoReadings(1000, (o) => {
      o.cgroup = {
        enabled: true,
        include: ['**/*.service', 'user.slice/**'],
        exclude: ['**/idle*'],
        top_n: 50,
      };
    });
    try {
      close(value(r.b, 'cgroup.system.slice/nested.slice/inner.service.cpu_cores'), 0.3, 'inner');
      close(
        value(r.b, 'cgroup.user.slice/user-1000.slice/session-1.scope.cpu_cores'),
        0.1,
        'session',
      );
      assert.ok(r.b.series.includes('cgroup.user.slice/user-1000.slice.cpu_cores'));
      assert.ok(!r.b.series.some((s) => s.startsWith('cgroup.') && s.includes('idle')));
    } finally {
      r.sampler.close();
      await rm(r.tree.root, { recursive: true, force: true });
    }
  });

  void it('per_core off keeps only the total', async () => {
    const r = await twoReadings(1000, (o) => {
      o.cpu = { enabled: true, per_core: false };
    });
    try {
      assert.equal(r.b.series.filter((s) => s.startsWith('cpu.')).length, 9);
    } finally {
      r.sampler.close();
      await rm(r.tree.root, { recursive: true, force: true });
    }
  });
});
