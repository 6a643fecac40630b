/**
 * The reservoir model: its definition (native/core/SPEC.md) as TypeScript values, the
 * reference implementation, the bundle file, the generator and the standard input.
 */
export * from './types.js';
export { Xoshiro128, SplitMix32, type MutableList } from './prng.js';
export { ReferenceReservoir, decay, sat16, type Stepper } from './reservoir.js';
export { decodeState, decodeStateInto, encodeState, encodeStateInto, zeroState } from './state.js';
export { ModelError, checkModel } from './check.js';
export {
  BUNDLE_MAGIC,
  BUNDLE_VERSION,
  BundleError,
  DEFAULT_ENCODER,
  decodeBundle,
  encodeBundle,
  readBundle,
  writeBundle,
  type BundleCheck,
  type BundleContent,
  type EncoderSettings,
  type JsonValue,
  type ModelBundle,
  type Provenance,
} from './bundle.js';
export {
  GENERATE_DEFAULTS,
  GENERATOR,
  generateModel,
  resolveGenerateOptions,
  type GenerateOptions,
  type GeneratorProvenance,
} from './generate.js';
export {
  COUNTED_SAMPLES,
  STANDARD_INPUT_SEED,
  StandardInput,
  WARMUP_SAMPLES,
  measureFiringRate,
  standardInput,
  type FiringRate,
} from './standard-input.js';
