import assert from 'node:assert/strict';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  RESCAN_EVERY,
  Sampler,
  type Sample,
  type SamplerOptions,
} from '../../../agent/metrics/index.js';
import {
  captureLogger,
  fixtureSamplerOptions,
  overlayFixture,
  stageFixture,
  type StagedTree,
} from '../../helpers/fixtures.js';

function value(s: Sample, name: string): number {
  const i = s.series.indexOf(name);
  assert.ok(i >= 0, `series ${name} missing`);
  return s.values[i]!;
}

function units(s: Sample): string[] {
  const out = new Set<string>();
  for (const id of s.series) {
    if (!id.startsWith('cgroup.')) continue;
    out.add(id.slice('cgroup.system.slice/'.length, id.indexOf('.', id.lastIndexOf('/'))));
  }
  return [...out].sort();
}

/** A sampler on a staged copy of synth-a, and a clock that advances 1 s per collect. */
async function setup(tune: (o: SamplerOptions) => void = () => {}) {
  const tree: StagedTree = await stageFixture('synth-a');
  const logged = captureLogger();
  const opts = fixtureSamplerOptions(tree, logged.log);
  tune(opts);
  const sampler = new Sampler(opts);
  let mono = 0;
  const tick = (): Sample => sampler.collect(mono, (mono += 1000));
  const done = async (): Promise<void> => {
    sampler.close();
    await rm(tree.root, { recursive: true, force: true });
  };
  return { tree, sampler, tick, done, opts, ...logged };
}

void describe('cgroup top N', () => {
  void it('first ranks by lifetime CPU, then by use over the rescan window', async () => {
    const t = await setup((o) => {
      o.cgroup = { ...o.cgroup, top_n: 2 };
    });
    try {
      const first = t.tick();
      // Lifetime: redis 200 s, postgresql 50 s, nginx 10 s.
      assert.deepEqual(units(first), ['postgresql@15-main', 'redis-server']);
      await overlayFixture(t.tree, 'synth-b');
      let s = first;
      for (let i = 1; i < RESCAN_EVERY; i++) {
        s = t.tick();
        assert.equal(s.series, first.series, 'the set only changes at rescans');
      }
      // Over the window: redis 1.5, nginx 0.5, postgresql 0.2 cores.
      s = t.tick();
      assert.deepEqual(units(s), ['nginx', 'redis-server']);
      assert.notEqual(s.series, first.series);
      // A unit just selected has no previous reading of its own yet.
      assert.ok(Number.isNaN(value(s, 'cgroup.system.slice/nginx.service.cpu_cores')));
      assert.equal(value(s, 'cgroup.system.slice/nginx.service.mem_current_bytes'), 51 * 1048576);
      s = t.tick();
      assert.equal(value(s, 'cgroup.system.slice/nginx.service.cpu_cores'), 0);
    } finally {
      await t.done();
    }
  });

  void it('memory.current breaks ties in CPU use', async () => {
    const t = await setup((o) => {
      o.cgroup = { ...o.cgroup, top_n: 6 };
    });
    try {
      // cron has used 1 ms; idle1 and idle2 none: idle2 (3 MB) beats idle1 (1 MB).
      const s = t.tick();
      assert.deepEqual(units(s), [
        'cron',
        'idle2',
        'nginx',
        'postgresql@15-main',
        'redis-server',
        'sshd',
      ]);
    } finally {
      await t.done();
    }
  });

  void it('reconfigure applies a new top_n and globs at the next tick', async () => {
    const t = await setup();
    try {
      assert.equal(units(t.tick()).length, 7);
      t.sampler.reconfigure({
        ...t.opts,
        cgroup: { ...t.opts.cgroup, top_n: 1, exclude: ['**/redis*'] },
      });
      assert.deepEqual(units(t.tick()), ['postgresql@15-main']);
    } finally {
      await t.done();
    }
  });
});

void describe('missing sources', () => {
  void it('a family the kernel lacks is reported once at warn and skipped', async () => {
    const t = await setup();
    try {
      await rm(join(t.tree.procfs, 'pressure'), { recursive: true });
      await rm(join(t.tree.sysfs, 'class/thermal'), { recursive: true });
      await rm(join(t.tree.sysfs, 'class/hwmon'), { recursive: true });
      t.sampler.reconfigure({ ...t.opts, procfs: t.tree.procfs + '/' });
      let s = t.tick();
      for (let i = 0; i < 3 * RESCAN_EVERY; i++) s = t.tick();
      assert.match(t.sampler.unavailable.get('psi') ?? '', /CONFIG_PSI/);
      assert.match(t.sampler.unavailable.get('thermal') ?? '', /no thermal zones/);
      const warns = t.lines.filter(
        (l) => l.level === 'warn' && l.msg === 'metric source unavailable, skipped',
      );
      assert.deepEqual(warns.map((l) => l.source).sort(), ['psi', 'thermal']);
      assert.ok(!s.series.some((id) => id.startsWith('psi.') || id.startsWith('thermal.')));
      assert.ok(s.series.includes('cpu.busy_pct'));
    } finally {
      await t.done();
    }
  });

  void it('nothing there at all: every family reported, collect still returns', () => {
    const { log, lines } = captureLogger();
    const base = '/nonexistent-spikecap-root';
    const sampler = new Sampler(
      fixtureSamplerOptions({ procfs: base, sysfs: base, cgroupfs: 'auto' }, log),
    );
    try {
      for (let i = 0; i < 12; i++) {
        const s = sampler.collect(i * 1000, i * 1000);
        assert.equal(s.values.length, s.series.length);
      }
      assert.deepEqual([...sampler.unavailable.keys()].sort(), [
        'cgroup',
        'cpu',
        'disk',
        'load',
        'mem',
        'net',
        'psi',
        'thermal',
      ]);
      assert.equal(lines.filter((l) => l.level === 'warn').length, 8);
    } finally {
      sampler.close();
    }
  });

  void it('a cgroup hierarchy without memory and io controllers (hybrid) gives CPU and PSI only', async () => {
    const tree = await stageFixture('live-a');
    const { log } = captureLogger();
    try {
      const unit = join(tree.cgroupfs, 'system.slice/app.service');
      await mkdir(unit, { recursive: true });
      await writeFile(join(unit, 'cpu.stat'), 'usage_usec 1000\nuser_usec 500\nsystem_usec 500\n');
      for (const r of ['cpu', 'memory', 'io']) {
        await writeFile(
          join(unit, `${r}.pressure`),
          'some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n',
        );
      }
      const sampler = new Sampler(fixtureSamplerOptions(tree, log, 'auto'));
      const s = sampler.collect(0, 0);
      sampler.close();
      assert.deepEqual(
        s.series.filter((id) => id.startsWith('cgroup.')),
        [
          'cgroup.system.slice/app.service.cpu_cores',
          'cgroup.system.slice/app.service.psi.cpu.some_stalled_pct',
          'cgroup.system.slice/app.service.psi.cpu.full_stalled_pct',
          'cgroup.system.slice/app.service.psi.memory.some_stalled_pct',
          'cgroup.system.slice/app.service.psi.memory.full_stalled_pct',
          'cgroup.system.slice/app.service.psi.io.some_stalled_pct',
          'cgroup.system.slice/app.service.psi.io.full_stalled_pct',
        ],
      );
      assert.match(sampler.unavailable.get('cgroup.memory') ?? '', /memory controller/);
      assert.match(sampler.unavailable.get('cgroup.io') ?? '', /io controller/);
    } finally {
      await rm(tree.root, { recursive: true, force: true });
    }
  });

  void it('cgroupfs pointing nowhere is reported, not fatal', async () => {
    const t = await setup((o) => {
      o.cgroupfs = '/nonexistent-cgroup-root';
    });
    try {
      const s = t.tick();
      assert.match(t.sampler.unavailable.get('cgroup') ?? '', /not a cgroup v2 hierarchy/);
      assert.ok(!s.series.some((id) => id.startsWith('cgroup.')));
    } finally {
      await t.done();
    }
  });
});

void describe('devices and cgroups that come and go', () => {
  void it('a vanished interface reads NaN, is logged once and dropped at the next rescan', async () => {
    const t = await setup();
    try {
      const dev = join(t.tree.procfs, 'net/dev');
      const first = t.tick();
      assert.ok(first.series.includes('net.eth0.rx_bytes_per_s'));
      const { readFile } = await import('node:fs/promises');
      const text = await readFile(dev, 'latin1');
      await writeFile(dev, text.replace(/^ *eth0:.*\n/m, ''));
      let s = t.tick();
      assert.ok(Number.isNaN(value(s, 'net.eth0.rx_bytes_per_s')));
      assert.equal(value(s, 'net.eth1.rx_bytes_per_s'), 0);
      for (let i = 2; i < RESCAN_EVERY; i++) s = t.tick();
      assert.equal(s.series, first.series);
      s = t.tick();
      assert.ok(!s.series.some((id) => id.startsWith('net.eth0.')));
      const logs = t.lines.filter((l) => l.msg === 'net device vanished');
      assert.equal(logs.length, 1);
      assert.equal(logs[0]!.device, 'eth0');
      // Back again: a new baseline, then rates.
      await writeFile(dev, text);
      s = t.tick();
      assert.ok(Number.isNaN(value(s, 'net.eth0.rx_bytes_per_s')));
      s = t.tick();
      assert.equal(value(s, 'net.eth0.rx_bytes_per_s'), 0);
    } finally {
      await t.done();
    }
  });

  void it('a recreated interface (new ifindex) reads NaN for the tick of the rescan', async () => {
    const t = await setup();
    try {
      for (let i = 0; i < RESCAN_EVERY; i++) t.tick();
      await writeFile(join(t.tree.sysfs, 'class/net/eth0/ifindex'), '42\n');
      const s = t.tick();
      assert.ok(Number.isNaN(value(s, 'net.eth0.rx_bytes_per_s')));
      assert.equal(value(s, 'net.eth1.rx_bytes_per_s'), 0);
      assert.equal(value(t.tick(), 'net.eth0.rx_bytes_per_s'), 0);
    } finally {
      await t.done();
    }
  });

  void it('a removed cgroup leaves at the next rescan; a recreated one starts afresh', async () => {
    const t = await setup();
    try {
      const slice = join(t.tree.cgroupfs, 'system.slice');
      t.tick();
      // Recreate sshd under a new inode: move the old one away first.
      await rename(join(slice, 'sshd.service'), join(t.tree.root, 'old-sshd'));
      await mkdir(join(slice, 'sshd.service'));
      await writeFile(join(slice, 'sshd.service/cpu.stat'), 'usage_usec 42\n');
      await rm(join(slice, 'cron.service'), { recursive: true });
      let s = t.tick();
      for (let i = 2; i < RESCAN_EVERY; i++) s = t.tick();
      assert.ok(units(s).includes('cron'));
      s = t.tick();
      assert.ok(!units(s).includes('cron'));
      assert.ok(Number.isNaN(value(s, 'cgroup.system.slice/sshd.service.cpu_cores')));
      assert.ok(!s.series.includes('cgroup.system.slice/sshd.service.mem_current_bytes'));
      await writeFile(join(slice, 'sshd.service/cpu.stat'), 'usage_usec 500042\n');
      s = t.tick();
      assert.equal(value(s, 'cgroup.system.slice/sshd.service.cpu_cores'), 0.5);
      assert.equal(t.lines.filter((l) => l.msg === 'cgroup vanished').length, 1);
    } finally {
      await t.done();
    }
  });
});

void describe('reconfigure', () => {
  void it('keeps rates of unchanged families and applies new globs and flags', async () => {
    const t = await setup();
    try {
      t.tick();
      await overlayFixture(t.tree, 'synth-b');
      t.sampler.reconfigure({
        ...t.opts,
        net: { ...t.opts.net, include: ['eth0'] },
        thermal: { enabled: false },
        load: { enabled: false },
      });
      const s = t.tick();
      assert.equal(value(s, 'net.eth0.rx_bytes_per_s'), 125000, 'no NaN from the reload');
      assert.equal(value(s, 'cpu.busy_pct'), 40);
      assert.ok(!s.series.some((id) => id.startsWith('net.') && !id.startsWith('net.eth0.')));
      assert.ok(!s.series.some((id) => id.startsWith('thermal.') || id.startsWith('load.')));
      t.sampler.reconfigure({ ...t.opts });
      const back = t.tick();
      assert.ok(back.series.includes('load.avg1'));
      assert.ok(back.series.includes('thermal.x86_pkg_temp.celsius'));
      assert.ok(back.series.includes('net.eth1.rx_bytes_per_s'));
      // Families keep the fixed order whatever order they were re-enabled in.
      const fam = back.series.map((id) => id.split('.')[0]);
      const order = [...new Set(fam)];
      assert.deepEqual(order, ['cpu', 'mem', 'load', 'psi', 'net', 'disk', 'cgroup', 'thermal']);
    } finally {
      await t.done();
    }
  });

  void it('collect after close throws; close twice is harmless', async () => {
    const t = await setup();
    await t.done();
    t.sampler.close();
    assert.throws(() => t.tick(), /closed/);
  });
});
