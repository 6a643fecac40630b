/**
 * Every backend this build knows, by name: how to create one and whether it can run here.
 * Later backends (serial, onnx) register here too.
 */
import { BackendError, type Backend, type BackendCapabilities } from './contract.js';
import { coreDriverPath, createNativeBackend } from './native.js';
import { createReferenceBackend } from './reference.js';

export interface BackendSettings {
  /** The HAL driver library for `native-driver` (default: the C core built as a driver). */
  readonly driverPath?: string;
  /** The argument string handed to the driver's open(). */
  readonly driverArgs?: string;
}

interface Entry {
  readonly description: string;
  create(settings: BackendSettings): Backend;
}

const entries: Record<string, Entry> = {
  native: {
    description: 'the C core in the node-addon-api addon',
    create: () => createNativeBackend('native'),
  },
  'native-driver': {
    description: 'a vendor driver loaded through the HAL ABI (default: the C core as a driver)',
    create: (s) =>
      createNativeBackend('native-driver', {
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
};

export const backendNames: readonly string[] = Object.keys(entries);

/** Creates a backend by name; `EUNAVAILABLE` if it cannot run here, `EINVAL` if unknown. */
export function createBackend(name: string, settings: BackendSettings = {}): Backend {
  const entry = entries[name];
  if (!entry)
    throw new BackendError('EINVAL', name, `no such backend (known: ${backendNames.join(', ')})`);
  return entry.create(settings);
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
  for (const [name, entry] of Object.entries(entries)) {
    try {
      const b = entry.create(settings);
      out.push({
        name,
        description: entry.description,
        available: true,
        capabilities: b.capabilities(),
      });
      await b.close();
    } catch (err) {
      out.push({
        name,
        description: entry.description,
        available: false,
        reason: (err as Error).message,
      });
    }
  }
  return out;
}
