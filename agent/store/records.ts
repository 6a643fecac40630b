/** The units the store moves around: what the spool holds and what the writer writes. */

/** One tick's values, as sampled. */
export interface TickRecord {
  kind: 'tick';
  ts: number;
  series: readonly string[];
  values: Float64Array;
}

/**
 * What is left of the ticks of one smallest-tier bucket once their raw values were shed from a
 * full spool: per series count, min, max, sum and last, enough to finish every rollup exactly.
 */
export interface PartialRecord {
  kind: 'partial';
  /** Time of the newest tick summarised: the record's place in time order. */
  ts: number;
  bucketTs: number;
  stepMs: number;
  /** How many ticks were summarised (the counted loss of raw samples). */
  ticks: number;
  series: readonly string[];
  count: Uint32Array;
  min: Float64Array;
  max: Float64Array;
  sum: Float64Array;
  last: Float64Array;
}

export type StoreRecord = TickRecord | PartialRecord;
