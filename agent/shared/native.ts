/**
 * The native addon (build/Release/spikecap_native.node, from binding.gyp), described once by
 * this interface and cast once here. A missing build is an error that says how to fix it.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import type { ReservoirModel } from '../model/types.js';
import { packageRoot } from './paths.js';

/** What a reservoir implementation can hold (the built-in core: the limits of SPEC.md). */
export interface NativeCapabilities {
  /** 'spikecap-core' for the built-in core; a driver's own name otherwise. */
  name: string;
  /** The HAL ABI version (SC_HAL_ABI_VERSION, 1). */
  abiVersion: number;
  maxNeurons: number;
  maxInputs: number;
  maxFanout: number;
  maxSubsteps: number;
  /**
   * The code that computes this instance: for the built-in core 'avx2-dense' (AVX2, recurrent
   * weights as a dense matrix: small networks), 'avx2' or 'portable'; 'driver' for a driver.
   */
  kernel: 'avx2-dense' | 'avx2' | 'portable' | 'driver';
}

/**
 * One reservoir instance of the addon (native/addon/reservoir.cc). Errors are Error objects with
 * a string `code`: 'EINVAL' (a TypeError or RangeError for a bad argument or model), 'ENOMODEL',
 * 'ELIMIT', 'ENOMEM', 'ESTATE' (a RangeError for a state buffer of the wrong length), 'EIO',
 * 'ETIMEDOUT', 'EFAULT' (a driver's status), 'EDLOPEN', 'EABI' (loading a driver), 'ECLOSED'.
 */
export interface NativeReservoir {
  /** Runs `samples` input samples: input has ≥ samples*S*I bytes, features ≥ samples*2N values. Returns the number of spikes. */
  step(input: Uint8Array, features: Int16Array, samples: number): number;
  /** Writes the canonical state encoding (SPEC.md): exactly 7N bytes. */
  getState(out: Uint8Array): void;
  /** Sets the state from its canonical encoding: exactly 7N bytes. */
  setState(state: Uint8Array): void;
  /** All state to zero. */
  reset(): void;
  capabilities(): NativeCapabilities;
  /** Frees the instance (and closes the driver device and library). Idempotent; any other call afterwards throws code 'ECLOSED'. */
  close(): void;
}

/** A HAL driver library (native/hal/spikecap_hal.h) and its driver-defined open() argument. */
export interface NativeDriver {
  readonly path: string;
  readonly args?: string;
}

export interface NativeAddon {
  /** Sends one datagram to a unix socket ('@' prefix: abstract namespace). Throws code ESDNOTIFY. */
  sdNotify(socketPath: string, message: string): void;
  /**
   * A reservoir on the built-in C core (the model is copied and checked), or, with `driver`, on
   * a HAL driver library (dlopen()ed; its capabilities are checked against the model: ELIMIT).
   */
  Reservoir: new (model: ReservoirModel, driver?: NativeDriver) => NativeReservoir;
}

/** build/Release, where `npm run build:native` (node-gyp) puts the addon and the core driver. */
const buildDir = path.join(packageRoot, 'build', 'Release');

/** The absolute path of the C core built as a HAL driver library (binding.gyp: spikecap_core_driver). */
export function coreDriverPath(): string {
  return path.join(buildDir, 'spikecap_core_driver.so');
}

/**
 * The same driver built without any SIMD code path (SC_NO_SIMD, SC_NO_CLONES): the portable C
 * that targets without AVX2 (ARM boards, old x86) run. The tests hold it to the same bits.
 */
export function portableCoreDriverPath(): string {
  return path.join(buildDir, 'spikecap_core_driver_portable.so');
}

export class NativeLoadError extends Error {
  readonly code = 'ENATIVE';
}

/** The addon `npm run build:native` builds. */
export function nativeAddonPath(): string {
  return path.join(buildDir, 'spikecap_native.node');
}

const cached = new Map<string, NativeAddon>();

/** Loads the addon (by default the one npm built; `backends.native_addon` may name another). */
export function loadNative(file = nativeAddonPath()): NativeAddon {
  const hit = cached.get(file);
  if (hit) return hit;
  try {
    const addon = createRequire(import.meta.url)(file) as NativeAddon;
    cached.set(file, addon);
    return addon;
  } catch (err) {
    throw new NativeLoadError(
      `cannot load the native addon ${file}: ${(err as Error).message.split('\n')[0]}. ` +
        'Build it with `npm run build:native` (needs g++, make, python3 and the Node.js headers); ' +
        'after a Node.js upgrade, rebuild it the same way.',
    );
  }
}
