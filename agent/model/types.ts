/**
 * The reservoir model and state as TypeScript values, field for field as in
 * native/core/SPEC.md (which defines ranges and meaning). Every backend consumes these.
 */

/** A reservoir's parameters and weights: what a bundle carries, minus encoder settings. */
export interface ReservoirModel {
  /** N, 2 … 8192 */
  readonly neurons: number;
  /** I, 1 … 256 */
  readonly inputs: number;
  /** F, 1 … min(512, N) */
  readonly fanout: number;
  /** S, 1 … 16 sub-steps per input sample */
  readonly substeps: number;
  readonly weightShiftIn: number;
  readonly weightShiftRec: number;
  readonly traceDash: number;
  readonly traceShift: number;
  /** [N], 1 … 32767 */
  readonly threshold: Int16Array;
  /** [N] */
  readonly bias: Int16Array;
  /** [N], 0 … 15 */
  readonly dashSyn: Uint8Array;
  /** [N], 0 … 15 */
  readonly dashMem: Uint8Array;
  /** [I×F], row j = targets of input channel j, distinct within a row */
  readonly inTarget: Uint16Array;
  /** [I×F] */
  readonly inWeight: Int8Array;
  /** [N×F], row p = targets of neuron p, distinct within a row */
  readonly recTarget: Uint16Array;
  /** [N×F] */
  readonly recWeight: Int8Array;
}

/** Limits of SPEC.md, "Model parameters" (the C core's SC_MAX_* are the same). */
export const LIMITS = {
  neurons: { min: 2, max: 8192 },
  inputs: { min: 1, max: 256 },
  fanout: { min: 1, max: 512 },
  substeps: { min: 1, max: 16 },
  weightShift: { min: 0, max: 7 },
  dash: { min: 0, max: 15 },
  traceShift: { min: 0, max: 11 },
  inputCount: 15,
} as const;

/** Per-neuron state (SPEC.md, "State"). */
export interface ReservoirState {
  readonly isyn: Int16Array;
  readonly vmem: Int16Array;
  readonly trace: Int16Array;
  /** 0 or 1 */
  readonly spiked: Uint8Array;
}

/** Bytes of the canonical state encoding: 7·N. */
export function stateBytes(neurons: number): number {
  return 7 * neurons;
}

/** Values in one input sample's raster: S × I counts. */
export function inputLength(model: Pick<ReservoirModel, 'substeps' | 'inputs'>): number {
  return model.substeps * model.inputs;
}

/** Values in one input sample's features: 2·N (spike counts, then traces). */
export function featureLength(model: Pick<ReservoirModel, 'neurons'>): number {
  return 2 * model.neurons;
}
