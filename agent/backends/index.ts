/** backends/: every path that computes the reservoir, behind one contract. */
export * from './contract.js';
export { createBackend, openBackend, listBackends, backendNames } from './registry.js';
export type { BackendAvailability, BackendSettings } from './registry.js';
export { selftest, type SelftestReport, type Mismatch } from './selftest.js';
export { benchBackends, type BenchResult, type BenchOptions } from './bench.js';
export {
  BackendSelector,
  type SelectorOptions,
  type SelectorStatus,
  type SlotStatus,
  type SwitchRecord,
} from './selector.js';
