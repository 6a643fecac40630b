/** A series name in dotted style, e.g. `cpu.busy_pct`, `net.eth0.rx_bytes_per_s`. */
export type SeriesId = string;

/** What a series measures; stored once per series in Redis and shown by the CLI. */
export interface SeriesMeta {
  /** `pct`, `bytes`, `bytes_per_s`, `per_s`, `cores`, `celsius`, `count`, `ratio`, `tasks`, `ms`... */
  unit: string;
  /** The family that produced it: `cpu`, `mem`, `load`, `psi`, `net`, `disk`, `cgroup`, `thermal`. */
  family: string;
}

/**
 * One tick's measurements. `series` and `values` are parallel; a NaN value means the series
 * could not be measured on this tick (for example a rate on its first reading). `series` is
 * the same array instance from tick to tick while the set of series does not change, so
 * consumers can cache anything derived from it by identity.
 */
export interface Sample {
  /** The scheduled tick time, ms since the Unix epoch, a multiple of the tick interval. */
  ts: number;
  series: readonly SeriesId[];
  values: Float64Array;
}
