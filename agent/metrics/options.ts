import type { Logger } from '../shared/log.js';

/**
 * The sampler's options: `SamplerConfig` from the config schema without `interval` (the
 * scheduler owns ticking), plus a logger. Arrays are readonly so config objects pass as is.
 */
export interface SamplerOptions {
  procfs: string;
  sysfs: string;
  /** Root of the cgroup v2 hierarchy, or 'auto' to find the cgroup2 mount in mountinfo. */
  cgroupfs: string;
  cpu: { enabled: boolean; per_core: boolean };
  memory: { enabled: boolean };
  load: { enabled: boolean };
  psi: { enabled: boolean };
  net: {
    enabled: boolean;
    include: readonly string[];
    exclude: readonly string[];
    include_virtual: boolean;
  };
  disk: {
    enabled: boolean;
    include: readonly string[];
    exclude: readonly string[];
    include_partitions: boolean;
  };
  cgroup: {
    enabled: boolean;
    include: readonly string[];
    exclude: readonly string[];
    top_n: number;
  };
  thermal: { enabled: boolean };
  log: Logger;
}

/** The schema's defaults, for callers (tests, benchmarks) that build options by hand. */
export function defaultSamplerOptions(log: Logger): SamplerOptions {
  return {
    procfs: '/proc',
    sysfs: '/sys',
    cgroupfs: 'auto',
    cpu: { enabled: true, per_core: true },
    memory: { enabled: true },
    load: { enabled: true },
    psi: { enabled: true },
    net: { enabled: true, include: ['*'], exclude: [], include_virtual: false },
    disk: {
      enabled: true,
      include: ['*'],
      exclude: ['loop*', 'ram*', 'zram*', 'fd*', 'sr*'],
      include_partitions: false,
    },
    cgroup: { enabled: true, include: ['system.slice/*.service'], exclude: [], top_n: 50 },
    thermal: { enabled: true },
    log,
  };
}
