import type { Logger } from '../shared/log.js';
import type { SeriesId, SeriesMeta } from './sample.js';
import type { FdBudget } from './source.js';

export interface Tick {
  /** Monotonic clock reading (ms) for this collect; rate denominators come from it. */
  mono: number;
  /** Sequence number of this collect. */
  n: number;
  /** Directory rescans (new interfaces, disks, cgroups, sensors) are due on this tick. */
  rescan: boolean;
}

/** What a family may ask of the sampler that owns it. */
export interface FamilyContext {
  readonly log: Logger;
  readonly budget: FdBudget;
  /** Reports a missing source once (warn); a later `available` clears it. */
  unavailable(key: string, reason: string): void;
  available(key: string): void;
  /** Records the meta of a series the family now produces. */
  declare(id: SeriesId, meta: SeriesMeta): void;
}

/**
 * One metric family. `series` keeps its identity while the family's series set is
 * unchanged; `values` is parallel to it and overwritten by each `collect`.
 */
export abstract class Family {
  series: readonly SeriesId[] = [];
  values = new Float64Array(0);

  constructor(
    readonly name: string,
    protected readonly ctx: FamilyContext,
  ) {}

  abstract collect(t: Tick): void;

  close(): void {
    // most families hold nothing beyond their SourceFiles
  }

  /** Replaces the series set (a new array instance unless the names are the same) and sizes `values`. */
  protected setSeries(ids: readonly SeriesId[], metas: readonly SeriesMeta[]): void {
    // Same names (a unit recreated in place, a filter change that selects the same devices):
    // keep the instance, since consumers cache by identity.
    if (sameNames(this.series, ids)) return;
    this.series = ids;
    if (this.values.length !== ids.length) this.values = new Float64Array(ids.length);
    this.values.fill(NaN);
    for (let i = 0; i < ids.length; i++) this.ctx.declare(ids[i]!, metas[i]!);
  }
}

/** Collects (name, meta) pairs while a family rebuilds its series list. */
export class SeriesBuilder {
  readonly ids: SeriesId[] = [];
  readonly metas: SeriesMeta[] = [];
  add(id: SeriesId, meta: SeriesMeta): number {
    this.ids.push(id);
    this.metas.push(meta);
    return this.ids.length - 1;
  }
}

function sameNames(a: readonly SeriesId[], b: readonly SeriesId[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
