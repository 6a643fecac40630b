/**
 * The native addon (build/Release/spikecap_native.node, from binding.gyp), described once by
 * this interface and cast once here. A missing build is an error that says how to fix it.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { packageRoot } from './paths.js';

export interface NativeAddon {
  /** Sends one datagram to a unix socket ('@' prefix: abstract namespace). Throws code ESDNOTIFY. */
  sdNotify(socketPath: string, message: string): void;
}

export class NativeLoadError extends Error {
  readonly code = 'ENATIVE';
}

let cached: NativeAddon | undefined;

export function loadNative(): NativeAddon {
  if (cached) return cached;
  const file = path.join(packageRoot, 'build', 'Release', 'spikecap_native.node');
  try {
    cached = createRequire(import.meta.url)(file) as NativeAddon;
    return cached;
  } catch (err) {
    throw new NativeLoadError(
      `cannot load the native addon ${file}: ${(err as Error).message.split('\n')[0]}. ` +
        'Build it with `npm run build:native` (needs g++, make, python3 and the Node.js headers); ' +
        'after a Node.js upgrade, rebuild it the same way.',
    );
  }
}
