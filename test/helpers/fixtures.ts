/**
 * Fixture trees for the metrics sampler: the captured ones under test/fixtures/procfs, and a
 * synthetic tree with many cgroup units for benchmarks (see makeCgroupFixtureTree).
 */
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { defaultSamplerOptions, type SamplerOptions } from '../../agent/metrics/index.js';
import { Logger } from '../../agent/shared/log.js';
import { packageRoot } from '../../agent/shared/paths.js';

/** A path inside test/fixtures/procfs. */
export function procfsFixture(...parts: string[]): string {
  return join(packageRoot, 'test', 'fixtures', 'procfs', ...parts);
}

export interface FixtureRoots {
  procfs: string;
  sysfs: string;
  cgroupfs: string;
}

export interface StagedTree extends FixtureRoots {
  root: string;
}

/**
 * Copies fixture tree `name` (e.g. `synth-a`) into a new temporary directory, so a test can
 * change it. `cgroupfs` is the tree's sys/fs/cgroup (pure v2) or sys/fs/cgroup/unified.
 */
export async function stageFixture(name: string): Promise<StagedTree> {
  const root = await mkdtemp(join(tmpdir(), `spikecap-${name}-`));
  await cp(procfsFixture(name), root, { recursive: true, verbatimSymlinks: true });
  const sysfs = join(root, 'sys');
  const unified = join(sysfs, 'fs/cgroup/unified');
  return {
    root,
    procfs: join(root, 'proc'),
    sysfs,
    cgroupfs: existsSync(unified) ? unified : join(sysfs, 'fs/cgroup'),
  };
}

/**
 * Writes every file of fixture tree `name` over `tree`, in place: existing files keep their
 * inode, as kernel files do, so descriptors the sampler holds see the new content.
 */
export async function overlayFixture(tree: StagedTree, name: string): Promise<void> {
  const src = procfsFixture(name);
  const files = await readdir(src, { recursive: true, withFileTypes: true });
  for (const f of files) {
    if (!f.isFile()) continue;
    const from = join(f.parentPath, f.name);
    const to = join(tree.root, from.slice(src.length));
    await mkdir(dirname(to), { recursive: true });
    await writeFile(to, await readFile(from));
  }
}

export interface CgroupFixtureTree extends FixtureRoots {
  /** Number of units under system.slice. */
  units: number;
  /** Ticks advanced so far (0 after creation). */
  tick: number;
}

const MB = 1048576;
const pad = (i: number): string => String(i).padStart(5, '0');

/** Unit i uses (i % 97 + 1) ms of CPU per tick, so ranks are distinct and stable. */
function unitUsage(i: number, tick: number): number {
  return 1_000_000 * (i + 1) + tick * 1000 * ((i % 97) + 1);
}

function pressure(some: number, full: number): string {
  return (
    `some avg10=0.00 avg60=0.00 avg300=0.00 total=${some}\n` +
    `full avg10=0.00 avg60=0.00 avg300=0.00 total=${full}\n`
  );
}

function unitFiles(i: number, tick: number): [string, string][] {
  const usage = unitUsage(i, tick);
  return [
    [
      'cpu.stat',
      `usage_usec ${usage}\nuser_usec ${Math.floor(usage / 2)}\nsystem_usec ${Math.ceil(usage / 2)}\n`,
    ],
    ['memory.current', `${(16 + (i % 64)) * MB + tick * 4096}\n`],
    ['cpu.pressure', pressure(tick * (i % 13) * 100, tick * (i % 7) * 50)],
    ['memory.pressure', pressure(tick * (i % 5) * 10, 0)],
    ['io.pressure', pressure(tick * (i % 11) * 20, tick * (i % 3) * 10)],
    [
      'io.stat',
      `8:0 rbytes=${i * 4096 + tick * 8192} wbytes=${i * 8192 + tick * 65536} rios=${tick} wios=${tick} dbytes=0 dios=0\n`,
    ],
  ];
}

function hostFiles(tick: number): [string, string][] {
  const t = tick * 100;
  const core = (k: number): string =>
    `${1000 + t * 0.3 + k} 0 ${500 + t * 0.1} ${8000 + t * 0.55} ${20 + t * 0.05} 0 ${10 + k} 0 0 0`;
  const cores = [0, 1, 2, 3].map((k) => `cpu${k} ${core(k)}\n`).join('');
  return [
    [
      'proc/stat',
      `cpu  ${core(0)}\n${cores}intr 0\nctxt ${tick}\nprocs_running 1\nprocs_blocked 0\n`,
    ],
    [
      'proc/meminfo',
      `MemTotal:       16000000 kB\nMemFree:         ${4000000 - tick} kB\nMemAvailable:    ${8000000 - tick} kB\n` +
        `Buffers:          100000 kB\nCached:          5000000 kB\nSwapCached:            0 kB\n` +
        `SwapTotal:       1000000 kB\nSwapFree:        1000000 kB\nDirty:              ${100 + tick} kB\n`,
    ],
    ['proc/loadavg', `1.00 0.50 0.25 2/300 ${1000 + tick}\n`],
    ['proc/pressure/cpu', pressure(tick * 1000, 0)],
    ['proc/pressure/memory', pressure(tick * 100, tick * 50)],
    ['proc/pressure/io', pressure(tick * 500, tick * 200)],
    [
      'proc/net/dev',
      'Inter-|   Receive                                                |  Transmit\n' +
        ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n' +
        `    lo: ${tick * 100} ${tick} 0 0 0 0 0 0 ${tick * 100} ${tick} 0 0 0 0 0 0\n` +
        `  eth0: ${tick * 125000} ${tick * 100} 0 0 0 0 0 0 ${tick * 62500} ${tick * 50} 0 0 0 0 0 0\n`,
    ],
    [
      'proc/diskstats',
      `   8       0 sda ${tick * 10} 0 ${tick * 80} 0 ${tick * 20} 0 ${tick * 160} 0 0 ${tick * 100} 0 0 0 0 0 0 0\n` +
        `   7       0 loop0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n`,
    ],
    ['sys/class/thermal/thermal_zone0/temp', `${45000 + (tick % 10) * 100}\n`],
    ['sys/class/hwmon/hwmon0/temp1_input', `${46000 + (tick % 10) * 100}\n`],
    ['sys/class/hwmon/hwmon0/temp2_input', `${44000 + (tick % 10) * 100}\n`],
  ];
}

async function inBatches<T>(
  items: T[],
  size: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

/**
 * Writes a synthetic host under `dir`: proc/ and sys/ with one NIC, one disk, a thermal zone
 * and a hwmon chip, and a pure cgroup v2 tree at sys/fs/cgroup with `units` services
 * (system.slice/unit-00000.service ...), each with cpu.stat, memory.current, memory.max,
 * cpu/memory/io.pressure and io.stat. Every unit has distinct CPU use, so top-N selection is
 * deterministic. Each unit yields 11 series; 10,000 series ≈ 905 units at top_n 905.
 */
export async function makeCgroupFixtureTree(
  dir: string,
  units: number,
): Promise<CgroupFixtureTree> {
  const procfs = join(dir, 'proc');
  const sysfs = join(dir, 'sys');
  const cgroupfs = join(sysfs, 'fs/cgroup');
  const tree: CgroupFixtureTree = { procfs, sysfs, cgroupfs, units, tick: 0 };
  const files: [string, string][] = [
    [
      'proc/self/mountinfo',
      '22 28 0:21 / /sys rw,relatime - sysfs sysfs rw\n' +
        '26 22 0:25 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n',
    ],
    ['sys/class/net/eth0/ifindex', '2\n'],
    ['sys/class/net/eth0/device/uevent', 'DRIVER=virtio_net\n'],
    ['sys/class/net/lo/ifindex', '1\n'],
    ['sys/block/sda/dev', '8:0\n'],
    ['sys/block/loop0/dev', '7:0\n'],
    ['sys/class/thermal/thermal_zone0/type', 'x86_pkg_temp\n'],
    ['sys/class/hwmon/hwmon0/name', 'coretemp\n'],
    ['sys/class/hwmon/hwmon0/temp1_label', 'Package id 0\n'],
    ['sys/class/hwmon/hwmon0/temp2_label', 'Core 0\n'],
    ['sys/fs/cgroup/cgroup.controllers', 'cpuset cpu io memory pids\n'],
    ['sys/fs/cgroup/cgroup.subtree_control', 'cpu io memory pids\n'],
    ['sys/fs/cgroup/system.slice/cgroup.controllers', 'cpu io memory pids\n'],
    ...hostFiles(0),
  ];
  for (let i = 0; i < units; i++) {
    const base = `sys/fs/cgroup/system.slice/unit-${pad(i)}.service`;
    for (const [name, text] of unitFiles(i, 0)) files.push([`${base}/${name}`, text]);
    files.push([`${base}/memory.max`, i % 4 === 0 ? 'max\n' : `${(256 + i) * MB}\n`]);
    files.push([`${base}/cgroup.controllers`, 'cpu io memory pids\n']);
  }
  const dirs = new Set(files.map(([p]) => dirname(join(dir, p))));
  for (const d of dirs) await mkdir(d, { recursive: true });
  await inBatches(files, 256, ([p, text]) => writeFile(join(dir, p), text));
  return tree;
}

/**
 * Advances every counter of a tree made by makeCgroupFixtureTree by `ticks` ticks (CPU,
 * PSI and io totals, net and disk counters, memory, temperatures). Files are rewritten in
 * place (same inodes), as the kernel's are, so open descriptors read the new values.
 */
export async function advanceFixtureCounters(tree: CgroupFixtureTree, ticks = 1): Promise<void> {
  tree.tick += ticks;
  const t = tree.tick;
  const root = dirname(tree.procfs);
  const writes: [string, string][] = hostFiles(t).map(([p, text]) => [join(root, p), text]);
  for (let i = 0; i < tree.units; i++) {
    const base = join(tree.cgroupfs, `system.slice/unit-${pad(i)}.service`);
    for (const [name, text] of unitFiles(i, t)) writes.push([join(base, name), text]);
  }
  await inBatches(writes, 256, ([p, text]) => writeFile(p, text));
}

/** The name of unit `i` in a tree made by makeCgroupFixtureTree, relative to the cgroup root. */
export function fixtureUnitPath(i: number): string {
  return `system.slice/unit-${pad(i)}.service`;
}

/** CPU (cores) unit `i` uses per tick of `tickMs`: what the sampler should report. */
export function fixtureUnitCores(i: number, tickMs: number): number {
  return (1000 * ((i % 97) + 1)) / (tickMs * 1000);
}

/** A logger whose lines are kept (parsed JSON) for assertions. */
export function captureLogger(): {
  log: Logger;
  lines: { level: string; msg: string; [k: string]: unknown }[];
} {
  const lines: { level: string; msg: string }[] = [];
  const log = new Logger(
    {
      level: 'debug',
      format: 'json',
      sink: {
        write: (line: string) => lines.push(JSON.parse(line) as { level: string; msg: string }),
      },
    },
    {},
  );
  return { log, lines };
}

/** Sampler options for a fixture tree: every family on, schema defaults otherwise. */
export function fixtureSamplerOptions(
  roots: FixtureRoots | StagedTree,
  log: Logger,
  cgroupfs: string = roots.cgroupfs,
): SamplerOptions {
  return { ...defaultSamplerOptions(log), procfs: roots.procfs, sysfs: roots.sysfs, cgroupfs };
}
