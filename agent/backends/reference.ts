/**
 * The `reference` backend: the TypeScript reference reservoir (agent/model/reservoir.ts), the
 * executable form of SPEC.md. Always available; the slowest path, and the one the others are
 * checked against.
 */
import { LIMITS, ReferenceReservoir } from '../model/index.js';
import type { Backend } from './contract.js';
import { InProcessBackend } from './in-process.js';

export function createReferenceBackend(name = 'reference'): Backend {
  return new InProcessBackend(name, {
    capabilities: {
      backend: name,
      device: 'TypeScript reference (agent/model/reservoir.ts)',
      maxNeurons: LIMITS.neurons.max,
      maxInputs: LIMITS.inputs.max,
      maxFanout: LIMITS.fanout.max,
      maxSubsteps: LIMITS.substeps.max,
    },
    create: (model) => new ReferenceReservoir(model),
    classify: (err) =>
      err instanceof RangeError || err instanceof TypeError ? 'EINVAL' : 'EFAULT',
  });
}
