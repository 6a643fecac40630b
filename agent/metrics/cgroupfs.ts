import { readText } from './source.js';

function unescapeMount(s: string): string {
  // mountinfo escapes space, tab, newline and backslash as \ooo.
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

/** cgroup2 mount points listed in `<procfs>/self/mountinfo`. */
export function cgroup2Mounts(procfs: string): string[] {
  const text = readText(`${procfs}/self/mountinfo`);
  if (text === undefined) return [];
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const fstype = line.slice(sep + 3).split(' ', 1)[0];
    if (fstype !== 'cgroup2') continue;
    const mountPoint = line.slice(0, sep).split(' ')[4];
    if (mountPoint !== undefined) out.push(unescapeMount(mountPoint));
  }
  return out;
}

export type CgroupRoot = { path: string } | { error: string };

/**
 * Resolves the `cgroupfs` option. 'auto' takes the cgroup2 mount (pure v2 at /sys/fs/cgroup
 * preferred over hybrid's /sys/fs/cgroup/unified). A mount point under /sys is mapped under
 * the configured sysfs root, so a fixture tree's mountinfo points into the fixture.
 */
export function resolveCgroupRoot(option: string, procfs: string, sysfs: string): CgroupRoot {
  if (option !== 'auto') return { path: option };
  const mounts = cgroup2Mounts(procfs);
  if (mounts.length === 0) return { error: `no cgroup2 mount in ${procfs}/self/mountinfo` };
  const rank = (m: string): number =>
    m === '/sys/fs/cgroup' ? 0 : m === '/sys/fs/cgroup/unified' ? 1 : 2;
  const best = [...mounts].sort((a, b) => rank(a) - rank(b))[0]!;
  const mapped = best === '/sys' || best.startsWith('/sys/') ? sysfs + best.slice(4) : best;
  return { path: mapped };
}
