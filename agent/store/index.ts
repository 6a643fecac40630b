/** store/: samples into Redis (raw + rollup tiers), with a memory queue and a disk spool. */
export { Store, type StoreOptions, type StoreStats } from './store.js';
export { Spool, type SpoolOptions, type SpoolStats } from './spool.js';
export { makeLayout, metaKeys, type StoreLayout, type TierLayout } from './layout.js';
export { connectOnce, connectRedis, redactUrl } from './redis.js';
export {
  querySeries,
  readLayout,
  listSeries,
  findTier,
  writtenUntil,
  seriesGlob,
  type SeriesPoint,
} from './query.js';
export type { ClosedBucket } from './rollup.js';
