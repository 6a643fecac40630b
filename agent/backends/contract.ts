/**
 * The backend contract: one interface for every path that computes the reservoir of
 * native/core/SPEC.md (the native addon, a vendor driver through the HAL, the TypeScript
 * reference; the serial board and ONNX Runtime join later). Every implementation passes one
 * shared contract suite (test/helpers/backend-contract.ts), and for the same model, state and
 * input every implementation produces the same features and state, bit for bit.
 *
 * ## Lifecycle
 * A backend is created closed to nothing and empty: `load` gives it a model and resets its
 * state; `step` advances it; `getState`/`setState` move the state in and out (canonical
 * encoding of SPEC.md, 7·N bytes), which is how the caller carries the reservoir from one
 * backend to another; `close` releases the device. Calls are made one at a time: a caller
 * awaits each before the next (a backend need not queue).
 *
 * ## What can go wrong, and what it means for the state
 * Every failure is a {@link BackendError} with one of these codes:
 * - `EINVAL`: the caller's mistake (wrong buffer length, a model the backend refused). Nothing
 *   changed: the state is what it was before the call.
 * - `ELIMIT`: the model is larger than this device can hold (see {@link BackendCapabilities}).
 *   Nothing changed.
 * - `ENOMODEL`: a step or state call before any successful `load`.
 * - `ETIMEDOUT` (a **timeout**): the device did not finish within the backend's deadline. The
 *   call may or may not have taken effect on the device, so the backend's state is unknown:
 *   before the next `step` the caller must `setState` (or `reset`), or use another backend from
 *   the state it holds. The backend itself stays usable.
 * - `EDISCONNECTED` (a **disconnect**): the device is gone (port closed, cable pulled, driver
 *   reports an I/O error). The state on the device is lost. The backend may reconnect by itself;
 *   `health()` says when it is back, and then it needs `load` again (its model may be gone too).
 * - `EFAULT` (a **fault**): the device answered, but reported an internal error or an answer that
 *   cannot be right. Its state is invalid: `setState` or `reset` before stepping again.
 * - `ECLOSED`: a call after `close`.
 * - `EUNAVAILABLE`: the backend cannot run on this machine (addon not built, driver missing);
 *   raised by the factory, never mid-run.
 */
import { featureLength, inputLength, stateBytes } from '../model/index.js';
import type { ModelBundle, ReservoirModel } from '../model/index.js';

/** What a backend can hold, as it reports it. */
export interface BackendCapabilities {
  /** The backend's name in config and on the command line (`native`, `reference`, ...). */
  readonly backend: string;
  /** What computes: the device, driver or runtime, as it names itself. */
  readonly device: string;
  readonly maxNeurons: number;
  readonly maxInputs: number;
  readonly maxFanout: number;
  readonly maxSubsteps: number;
}

/** A backend's own view of whether it can step now. */
export interface BackendHealth {
  /** `ok`: can step; `unloaded`: healthy but needs `load`; `down`: cannot step (see `detail`). */
  readonly status: 'ok' | 'unloaded' | 'down';
  readonly detail?: string;
  /** The last error a call raised, if any, with the time it happened (ms since the epoch). */
  readonly lastError?: {
    readonly code: BackendErrorCode;
    readonly message: string;
    readonly at: number;
  };
}

export type BackendErrorCode =
  | 'EINVAL'
  | 'ELIMIT'
  | 'ENOMODEL'
  | 'ETIMEDOUT'
  | 'EDISCONNECTED'
  | 'EFAULT'
  | 'ECLOSED'
  | 'EUNAVAILABLE';

export class BackendError extends Error {
  constructor(
    readonly code: BackendErrorCode,
    /** The backend that raised it. */
    readonly backend: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${backend}: ${message}`, options);
    this.name = 'BackendError';
  }
}

export interface Backend {
  /** The name it was created under. */
  readonly name: string;

  capabilities(): BackendCapabilities;

  /**
   * Loads a model (replacing any earlier one) and resets the state to zero. Refuses with
   * `ELIMIT` a model above the capabilities and with `EINVAL` one the device rejects.
   */
  load(bundle: ModelBundle): Promise<void>;

  /**
   * Runs `samples` input samples. `input` holds `samples · S · I` spike counts (SPEC.md,
   * "One input sample"; counts above 15 count as 15); `features` receives `samples · 2 · N`
   * values. Returns the number of spikes in these samples. Neither array is kept.
   */
  step(input: Uint8Array, features: Int16Array, samples: number): Promise<number>;

  /** The state in the canonical encoding (7·N bytes, a new array). */
  getState(): Promise<Uint8Array>;

  /** Replaces the state (canonical encoding); a wrong length is `EINVAL` and changes nothing. */
  setState(state: Uint8Array): Promise<void>;

  /** State to zero; the model stays. */
  reset(): Promise<void>;

  health(): Promise<BackendHealth>;

  /** Releases the device. Idempotent; every later call but `close` raises `ECLOSED`. */
  close(): Promise<void>;
}

/**
 * Throws `ELIMIT` if the model is larger than `caps` allows, naming the first parameter over
 * and the device: what every backend's `load` checks before it touches the device.
 */
export function checkCapabilities(
  backend: string,
  caps: BackendCapabilities,
  m: ReservoirModel,
): void {
  const over = (
    [
      ['neurons', m.neurons, caps.maxNeurons],
      ['inputs', m.inputs, caps.maxInputs],
      ['fanout', m.fanout, caps.maxFanout],
      ['substeps', m.substeps, caps.maxSubsteps],
    ] as const
  ).find(([, v, max]) => v > max);
  if (over)
    throw new BackendError(
      'ELIMIT',
      backend,
      `the model's ${over[0]} (${over[1]}) is above what ${caps.device} holds (${over[2]})`,
    );
}

/** `ECLOSED` after `close`: what every backend call checks first. */
export function checkOpen(backend: string, closed: boolean): void {
  if (closed) throw new BackendError('ECLOSED', backend, 'the backend is closed');
}

/**
 * What a backend keeps for its loaded model, after the checks every step and state call makes
 * first: `ECLOSED` after `close`, `ENOMODEL` before any successful `load`.
 */
export function checkLoaded<T>(backend: string, closed: boolean, loaded: T | undefined): T {
  checkOpen(backend, closed);
  if (loaded === undefined)
    throw new BackendError('ENOMODEL', backend, 'no model loaded: call load() first');
  return loaded;
}

/** `EINVAL` for a state that is not the canonical 7·N bytes of the loaded model. */
export function checkStateArg(
  backend: string,
  model: Pick<ReservoirModel, 'neurons'>,
  state: Uint8Array,
): void {
  const want = stateBytes(model.neurons);
  if (!(state instanceof Uint8Array) || state.length !== want)
    throw new BackendError(
      'EINVAL',
      backend,
      `a state has ${want} bytes for ${model.neurons} neurons, got ${(state as Uint8Array | undefined)?.length}`,
    );
}

/**
 * The arguments of `step` as every backend checks them before it touches anything: `EINVAL`
 * for a sample count that is not a positive integer, or buffers too short for `samples`.
 */
export function checkStepArgs(
  backend: string,
  model: Pick<ReservoirModel, 'neurons' | 'inputs' | 'substeps'>,
  input: Uint8Array,
  features: Int16Array,
  samples: number,
): void {
  const invalid = (message: string) => new BackendError('EINVAL', backend, message);
  if (!Number.isInteger(samples) || samples < 1)
    throw invalid(`samples must be a positive integer, got ${samples}`);
  const needIn = samples * inputLength(model);
  const needOut = samples * featureLength(model);
  if (!(input instanceof Uint8Array) || input.length < needIn)
    throw invalid(`input needs ${needIn} counts for ${samples} sample(s), got ${input?.length}`);
  if (!(features instanceof Int16Array) || features.length < needOut)
    throw invalid(`features needs room for ${needOut} values, got ${features?.length}`);
}
