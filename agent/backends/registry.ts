/**
 * Every backend this build knows, by name: how to open one and whether it can run here.
 * In-process backends open synchronously (`createBackend`); a board on a serial port only after
 * its handshake, so `openBackend` is the one way to open any of them.
 */
import { openSerialBackend } from '../../firmware-bridge/host/index.js';
import { BackendError, type Backend, type BackendCapabilities } from './contract.js';
import { coreDriverPath, createNativeBackend } from './native.js';
import { createOnnxBackend } from './onnx/index.js';
import { createReferenceBackend } from './reference.js';

export interface BackendSettings {
  /** The HAL driver library for `native-driver` (default: the C core built as a driver). */
  readonly driverPath?: string;
  /** The argument string handed to the driver's open(). */
  readonly driverArgs?: string;
  /** The native addon file for `native` and `native-driver` (default: the one npm built). */
  readonly nativeAddon?: string;
  /** The serial port of a spikecap board, for `serial`. */
  readonly serialPort?: string;
  /** Its UART's baud rate (default 921,600). */
  readonly serialBaud?: number;
  /** ONNX Runtime's intra-op threads for `onnx` (default 1). */
  readonly onnxThreads?: number;
  /** Where `onnx` caches built graphs (default: see defaultOnnxCacheDir); false: no cache. */
  readonly onnxCacheDir?: string | false;
}

interface Entry {
  readonly description: string;
  /** In-process backends: opened at once. */
  create?(settings: BackendSettings): Backend;
  /** Backends behind a link: opened after a handshake. */
  open?(settings: BackendSettings): Promise<Backend>;
}

const entries: Record<string, Entry> = {
  native: {
    description: 'the C core in the node-addon-api addon',
    create: (s) =>
      createNativeBackend('native', s.nativeAddon !== undefined ? { addon: s.nativeAddon } : {}),
  },
  'native-driver': {
    description: 'a vendor driver loaded through the HAL ABI (default: the C core as a driver)',
    create: (s) =>
      createNativeBackend('native-driver', {
        ...(s.nativeAddon !== undefined ? { addon: s.nativeAddon } : {}),
        driver: {
          path: s.driverPath ?? coreDriverPath(),
          ...(s.driverArgs !== undefined ? { args: s.driverArgs } : {}),
        },
      }),
  },
  reference: {
    description: 'the TypeScript reference (the spec in code; slow)',
    create: () => createReferenceBackend(),
  },
  onnx: {
    description: 'the reservoir as an ONNX graph, run by ONNX Runtime on the CPU',
    create: (s) =>
      createOnnxBackend('onnx', {
        ...(s.onnxThreads !== undefined ? { threads: s.onnxThreads } : {}),
        ...(s.onnxCacheDir !== undefined ? { cacheDir: s.onnxCacheDir } : {}),
      }),
  },
  serial: {
    description: 'a spikecap board on a serial port (firmware-bridge/PROTOCOL.md)',
    open: (s) => {
      if (s.serialPort === undefined)
        throw new BackendError(
          'EUNAVAILABLE',
          'serial',
          'no serial port configured (backends.serial_port, or --port)',
        );
      return openSerialBackend(s.serialPort, {
        ...(s.serialBaud !== undefined ? { baudRate: s.serialBaud } : {}),
      });
    },
  },
};

export const backendNames: readonly string[] = Object.keys(entries);

function entry(name: string): Entry {
  const e = entries[name];
  if (!e)
    throw new BackendError('EINVAL', name, `no such backend (known: ${backendNames.join(', ')})`);
  return e;
}

/**
 * Creates an in-process backend by name; `EUNAVAILABLE` if it cannot run here, `EINVAL` if
 * unknown or if it is one that needs {@link openBackend}.
 */
export function createBackend(name: string, settings: BackendSettings = {}): Backend {
  const e = entry(name);
  if (!e.create) throw new BackendError('EINVAL', name, 'opens asynchronously: use openBackend()');
  return e.create(settings);
}

/** Opens any backend by name; rejects `EUNAVAILABLE` if it cannot run here. */
export async function openBackend(name: string, settings: BackendSettings = {}): Promise<Backend> {
  const e = entry(name);
  return e.create ? e.create(settings) : e.open!(settings);
}

export interface BackendAvailability {
  readonly name: string;
  readonly description: string;
  readonly available: boolean;
  /** Why not, when not available. */
  readonly reason?: string;
  readonly capabilities?: BackendCapabilities;
}

/** Tries each backend (creating and closing it) and says which can run on this machine. */
export async function listBackends(settings: BackendSettings = {}): Promise<BackendAvailability[]> {
  const out: BackendAvailability[] = [];
  for (const [name, e] of Object.entries(entries)) {
    try {
      const b = await openBackend(name, settings);
      out.push({
        name,
        description: e.description,
        available: true,
        capabilities: b.capabilities(),
      });
      await b.close();
    } catch (err) {
      out.push({
        name,
        description: e.description,
        available: false,
        reason: (err as Error).message,
      });
    }
  }
  return out;
}
