/**
 * checkModel: every rule of native/core/SPEC.md, "Model parameters" — integer scalars within
 * their ranges, arrays of the right type and length, every element within its range, and the
 * F targets of each row distinct. The cores may assume a checked model, so every model that
 * comes from outside (a bundle file, a generator, a test) passes through here first.
 *
 * The first broken rule throws a ModelError whose message names the field, the index and the
 * rule: `recTarget[37]: 600 is out of range 0…511`.
 */
import { LIMITS, type ReservoirModel } from './types.js';

export class ModelError extends Error {
  readonly code = 'EMODEL';
  constructor(
    message: string,
    /** The field that broke a rule (`recTarget`, `fanout`, ...). */
    readonly field: string,
  ) {
    super(message);
    this.name = 'ModelError';
  }
}

type ArrayKind =
  Int16ArrayConstructor | Uint16ArrayConstructor | Int8ArrayConstructor | Uint8ArrayConstructor;

function fail(field: string, message: string): never {
  throw new ModelError(`${field}: ${message}`, field);
}

const show = (value: unknown): string =>
  typeof value === 'number' ? String(value) : (JSON.stringify(value) ?? String(value));

function scalar(field: keyof ReservoirModel, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value))
    fail(field, `${show(value)} is not an integer`);
  if (value < min || value > max) fail(field, `${value} is out of range ${min}…${max}`);
}

function array(
  field: keyof ReservoirModel,
  value: unknown,
  kind: ArrayKind,
  length: number,
  lengthRule: string,
  min: number,
  max: number,
): void {
  if (!(value instanceof kind)) fail(field, `expected type ${kind.name}`);
  if (value.length !== length)
    fail(field, `length ${value.length}, expected ${length} (${lengthRule})`);
  // The typed array already bounds each element to its type's range (and to integers);
  // only the tighter ranges of SPEC.md need a look.
  for (let i = 0; i < value.length; i++) {
    const v = value[i]!;
    if (v < min || v > max)
      throw new ModelError(`${field}[${i}]: ${v} is out of range ${min}…${max}`, field);
  }
}

/** Within each row of `targets` (rows of `fanout` entries), no target appears twice. */
function distinctRows(
  field: 'inTarget' | 'recTarget',
  targets: Uint16Array,
  fanout: number,
  neurons: number,
): void {
  // seen[t] = 1 + the last row that used target t: one pass, no clearing between rows.
  const seen = new Uint32Array(neurons);
  const rows = targets.length / fanout;
  for (let row = 0; row < rows; row++) {
    for (let k = row * fanout; k < (row + 1) * fanout; k++) {
      const t = targets[k]!;
      if (seen[t] === row + 1)
        throw new ModelError(`${field} row ${row}: target ${t} appears twice`, field);
      seen[t] = row + 1;
    }
  }
}

/** Throws a ModelError naming the first rule of SPEC.md that `model` breaks. */
export function checkModel(model: ReservoirModel): void {
  if (typeof model !== 'object' || model === null)
    throw new ModelError('model: expected an object', 'model');
  const { neurons: N, inputs: I, fanout: F } = model;

  scalar('neurons', N, LIMITS.neurons.min, LIMITS.neurons.max);
  scalar('inputs', I, LIMITS.inputs.min, LIMITS.inputs.max);
  if (typeof F !== 'number' || !Number.isInteger(F)) fail('fanout', `${show(F)} is not an integer`);
  if (F < LIMITS.fanout.min) fail('fanout', `${F} is below the minimum ${LIMITS.fanout.min}`);
  if (F > LIMITS.fanout.max)
    fail('fanout', `${F} is above the limit ${LIMITS.fanout.max} (and must be ≤ neurons)`);
  if (F > N)
    fail('fanout', `${F} is above neurons (${N}): a row cannot have more distinct targets`);
  scalar('substeps', model.substeps, LIMITS.substeps.min, LIMITS.substeps.max);
  scalar('weightShiftIn', model.weightShiftIn, LIMITS.weightShift.min, LIMITS.weightShift.max);
  scalar('weightShiftRec', model.weightShiftRec, LIMITS.weightShift.min, LIMITS.weightShift.max);
  scalar('traceDash', model.traceDash, LIMITS.dash.min, LIMITS.dash.max);
  scalar('traceShift', model.traceShift, LIMITS.traceShift.min, LIMITS.traceShift.max);

  array('threshold', model.threshold, Int16Array, N, 'neurons', 1, 32767);
  array('bias', model.bias, Int16Array, N, 'neurons', -32768, 32767);
  array('dashSyn', model.dashSyn, Uint8Array, N, 'neurons', LIMITS.dash.min, LIMITS.dash.max);
  array('dashMem', model.dashMem, Uint8Array, N, 'neurons', LIMITS.dash.min, LIMITS.dash.max);
  array('inTarget', model.inTarget, Uint16Array, I * F, 'inputs × fanout', 0, N - 1);
  array('inWeight', model.inWeight, Int8Array, I * F, 'inputs × fanout', -128, 127);
  array('recTarget', model.recTarget, Uint16Array, N * F, 'neurons × fanout', 0, N - 1);
  array('recWeight', model.recWeight, Int8Array, N * F, 'neurons × fanout', -128, 127);

  distinctRows('inTarget', model.inTarget, F, N);
  distinctRows('recTarget', model.recTarget, F, N);
}
