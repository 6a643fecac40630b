/**
 * The `native` backend (the C core linked into the addon) and the `native-driver` backend (a
 * vendor driver loaded by path through the HAL ABI of native/hal/spikecap_hal.h; by default
 * the C core built as such a driver, which proves the path).
 */
import type { ReservoirModel } from '../model/index.js';
import { coreDriverPath, loadNative, type NativeReservoir } from '../shared/native.js';
import { BackendError, type Backend, type BackendErrorCode } from './contract.js';
import { InProcessBackend } from './in-process.js';

/** Error codes of the addon (native/addon) → the contract's. */
const nativeCodes: Record<string, BackendErrorCode> = {
  EINVAL: 'EINVAL',
  ESTATE: 'EINVAL',
  ELIMIT: 'ELIMIT',
  ENOMODEL: 'ENOMODEL',
  ENOMEM: 'EFAULT',
  EIO: 'EDISCONNECTED',
  ETIMEDOUT: 'ETIMEDOUT',
  EFAULT: 'EFAULT',
  ECLOSED: 'ECLOSED',
  EDLOPEN: 'EUNAVAILABLE',
  EABI: 'EUNAVAILABLE',
};

function classify(err: unknown): BackendErrorCode {
  if (err instanceof RangeError || err instanceof TypeError) return 'EINVAL';
  const code = (err as { code?: unknown }).code;
  return (typeof code === 'string' && nativeCodes[code]) || 'EFAULT';
}

export interface NativeBackendOptions {
  /** A HAL driver library to load instead of the built-in core (the `native-driver` backend). */
  readonly driver?: { readonly path: string; readonly args?: string };
  /** The addon file (default: the one npm built; config `backends.native_addon`). */
  readonly addon?: string;
}

/**
 * Creates the backend and asks the core or driver for its capabilities, so an unusable
 * addon or driver fails here (`EUNAVAILABLE`), not at the first step.
 */
export function createNativeBackend(name: string, options: NativeBackendOptions = {}): Backend {
  let addon;
  try {
    addon = loadNative(options.addon);
  } catch (err) {
    throw new BackendError('EUNAVAILABLE', name, (err as Error).message, { cause: err });
  }
  const { Reservoir } = addon;
  const driver = options.driver;
  const open = (model: ReservoirModel): NativeReservoir =>
    driver ? new Reservoir(model, driver) : new Reservoir(model);
  let probe: NativeReservoir;
  try {
    probe = open(probeModel);
  } catch (err) {
    throw new BackendError(classify(err), name, (err as Error).message, { cause: err });
  }
  const native = probe.capabilities();
  probe.close();
  return new InProcessBackend(name, {
    capabilities: {
      backend: name,
      device: driver ? `${native.name} (HAL driver ${driver.path})` : `${native.name} (built-in)`,
      maxNeurons: native.maxNeurons,
      maxInputs: native.maxInputs,
      maxFanout: native.maxFanout,
      maxSubsteps: native.maxSubsteps,
    },
    create: open,
    classify,
  });
}

/** The smallest valid model: what the factory opens to read the capabilities. */
const probeModel: ReservoirModel = {
  neurons: 2,
  inputs: 1,
  fanout: 1,
  substeps: 1,
  weightShiftIn: 0,
  weightShiftRec: 0,
  traceDash: 0,
  traceShift: 0,
  threshold: Int16Array.of(1, 1),
  bias: new Int16Array(2),
  dashSyn: new Uint8Array(2),
  dashMem: new Uint8Array(2),
  inTarget: Uint16Array.of(0),
  inWeight: new Int8Array(1),
  recTarget: Uint16Array.of(1, 0),
  recWeight: new Int8Array(2),
};

export { coreDriverPath };
