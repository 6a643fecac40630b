/**
 * Configuration: a YAML file plus SPIKECAP_* environment overrides, validated against
 * config/spikecap.schema.json (the same schema the TypeScript types are generated from).
 */
export type {
  SpikecapConfig,
  RedisConfig,
  SamplerConfig,
  StoreConfig,
  RollupTierConfig,
} from './schema.generated.js';
export {
  loadConfig,
  defaultConfigPath,
  redactConfig,
  ConfigError,
  type LoadedConfig,
} from './load.js';
export { restartKeysChanged } from './restart.js';
export { resolveConfig, type ResolvedConfig, type RollupTier } from './resolve.js';
