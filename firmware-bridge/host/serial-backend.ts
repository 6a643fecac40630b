/**
 * The `serial` backend: the reservoir computed by a spikecap board (firmware-bridge/PROTOCOL.md)
 * behind the backend contract of agent/backends/contract.ts.
 *
 * ## Opening
 * {@link openSerialBackend} is async and resolves after the board answered HELLO: the contract's
 * `capabilities()` is synchronous and the capabilities are the board's limits, so they must be
 * known before the backend exists. A board that cannot be reached fails there, `EUNAVAILABLE`.
 *
 * ## Robustness (PROTOCOL.md 4.3)
 * The backend keeps what it needs to rebuild the device's state at any time: the model image it
 * loaded, a checkpoint of the state (from the last load, setState or reset, or a GET_STATE taken
 * whenever 64 samples were stepped since the last checkpoint) and the inputs stepped since. When
 * the device reset (a new boot id, E_BOOT, or E_NOMODEL after a load) it uploads the image again,
 * sets the checkpoint, replays the inputs (their features discarded: the core is deterministic)
 * and retries the call; a reset costs at most one upload, one SET_STATE and 64 samples of replay,
 * and every result the backend returns is the one the native backend computes.
 *
 * `load` uploads the image unless the board already holds it (then RESET suffices).
 *
 * A call that fails (timeout, disconnect, fault) changes nothing as far as the backend is
 * concerned: before the next call it puts the device back into the state from before the failed
 * call. The contract asks callers to `setState` after such failures, and that works too; a caller
 * that simply retries the step gets the same result it would have got the first time.
 */
import {
  checkLoaded,
  checkOpen,
  checkStateArg,
  checkStepArgs,
  BackendError,
  checkCapabilities,
  type Backend,
  type BackendCapabilities,
  type BackendErrorCode,
  type BackendHealth,
} from '../../agent/backends/contract.js';
import {
  featureLength,
  inputLength,
  stateBytes,
  type ModelBundle,
  type ReservoirModel,
} from '../../agent/model/index.js';
import { BoardClient, BoardError, type BoardClientOptions, type BoardErrorCode } from './client.js';
import { imageSha256, modelImage } from './image.js';

/** Options of {@link openSerialBackend}: the link's, and the backend's name. */
export interface SerialBackendOptions extends BoardClientOptions {
  /** The name it reports and errors carry (default `serial`). */
  readonly name?: string;
}

/** Samples stepped between two checkpoints at most (PROTOCOL.md 4.3): the most a reset replays. */
export const CHECKPOINT_SAMPLES = 64;
/** Device resets survived within one call before giving up (a board that keeps resetting). */
const MAX_RESETS_PER_CALL = 4;

/** Board errors → contract codes (agent/backends/contract.ts says what each one promises). */
const CODES: Partial<Record<BoardErrorCode, BackendErrorCode>> = {
  ETIMEDOUT: 'ETIMEDOUT',
  EDISCONNECTED: 'EDISCONNECTED',
  ECLOSED: 'ECLOSED',
  E_LIMIT: 'ELIMIT',
  E_TOOBIG: 'ELIMIT',
  E_MODEL: 'EINVAL',
  E_STATE: 'EINVAL',
  // Anything else (E_INTERNAL, EPROTO, E_LENGTH, E_HASH, a board that keeps resetting, ...) is
  // an answer that cannot be right: EFAULT.
};

/** What the backend loaded, with everything derived from it. */
interface Loaded {
  readonly model: ReservoirModel;
  readonly image: Uint8Array;
  readonly sha256: string;
  /** Input counts per sample (S·I) and feature values per sample (2·N). */
  readonly perSample: number;
  readonly perFeatures: number;
}

/** The state the caller meant: the checkpoint, then these inputs stepped from it. */
interface Intended {
  readonly checkpoint: Uint8Array;
  readonly log: readonly Uint8Array[];
  readonly logSamples: number;
}

/**
 * Opens the board on `path` (sending HELLO) and returns the backend. Rejects with
 * `EUNAVAILABLE` when the port cannot be opened or the board does not answer.
 */
export async function openSerialBackend(
  path: string,
  options: SerialBackendOptions = {},
): Promise<SerialBackend> {
  const { name = 'serial', ...linkOptions } = options;
  let client: BoardClient;
  try {
    client = await BoardClient.open(path, linkOptions);
  } catch (err) {
    throw new BackendError('EUNAVAILABLE', name, (err as Error).message, { cause: err });
  }
  return new SerialBackend(name, client);
}

/** The serial backend; see the module comment. Create it with {@link openSerialBackend}. */
export class SerialBackend implements Backend {
  private loaded: Loaded | undefined;
  private intended: Intended = { checkpoint: new Uint8Array(0), log: [], logSamples: 0 };
  /** The device holds `loaded` and the intended state, as of boot `loadedBoot`. */
  private synced = false;
  private loadedBoot = 0;
  private closed = false;
  private lastError: BackendHealth['lastError'];

  constructor(
    readonly name: string,
    /** The link; exposed for its counters and events (`board stats`, tests). */
    readonly client: BoardClient,
  ) {}

  capabilities(): BackendCapabilities {
    const h = this.client.hello;
    const fw = h.firmware;
    return {
      backend: this.name,
      device: `${fw.name || 'spikecap board'} ${fw.major}.${fw.minor}.${fw.patch} on ${this.client.path}`,
      maxNeurons: h.limits.maxNeurons,
      maxInputs: h.limits.maxInputs,
      maxFanout: h.limits.maxFanout,
      maxSubsteps: h.limits.maxSubsteps,
    };
  }

  load(bundle: ModelBundle): Promise<void> {
    return this.call('load', async () => {
      checkOpen(this.name, this.closed);
      const m = bundle.model;
      const limits = this.client.hello.limits;
      const caps = this.capabilities();
      checkCapabilities(this.name, caps, m);
      const image = modelImage(bundle);
      if (image.length > limits.maxImage)
        throw new BackendError(
          'ELIMIT',
          this.name,
          `the model's image (${image.length} bytes) is above what ${caps.device} holds (${limits.maxImage})`,
        );
      const perSample = inputLength(m);
      // PROTOCOL.md bounds the state and one sample's answer by max_payload, not the input.
      if (2 + perSample > limits.maxPayload)
        throw new BackendError(
          'ELIMIT',
          this.name,
          `one input sample (${perSample} counts) does not fit a STEP frame of ${caps.device} (${limits.maxPayload}-byte payload)`,
        );
      // Starting an upload unloads the device's model: whatever happens next, it must be checked.
      this.synced = false;
      const sha256 = imageSha256(image);
      await this.loadImage(image, sha256);
      this.loaded = { model: m, image, sha256, perSample, perFeatures: featureLength(m) };
      this.intended = { checkpoint: new Uint8Array(stateBytes(m.neurons)), log: [], logSamples: 0 };
      this.loadedBoot = this.client.bootId;
      this.synced = true;
    });
  }

  step(input: Uint8Array, features: Int16Array, samples: number): Promise<number> {
    return this.call('step', async () => {
      const l = this.ready();
      checkStepArgs(this.name, l.model, input, features, samples);
      const before = this.intended;
      try {
        let spikes = 0;
        for (let done = 0; done < samples;) {
          const room = CHECKPOINT_SAMPLES - (this.intended.logSamples % CHECKPOINT_SAMPLES);
          const k = Math.min(samples - done, room);
          const piece = input.slice(done * l.perSample, (done + k) * l.perSample);
          const r = await this.onDevice(true, () => this.client.step(piece, k));
          features.set(r.features, done * l.perFeatures);
          spikes += r.spikes;
          done += k;
          const i = this.intended;
          this.intended = { ...i, log: [...i.log, piece], logSamples: i.logSamples + k };
          if (this.intended.logSamples >= CHECKPOINT_SAMPLES) await this.checkpoint();
        }
        return spikes;
      } catch (err) {
        // The caller meant the state from before this call: that is what gets restored.
        this.intended = before;
        throw err;
      }
    });
  }

  getState(): Promise<Uint8Array> {
    return this.call('getState', async () => {
      this.ready();
      const state = await this.onDevice(true, () => this.readState());
      this.intended = { checkpoint: state, log: [], logSamples: 0 };
      return state.slice();
    });
  }

  setState(state: Uint8Array): Promise<void> {
    return this.call('setState', async () => {
      const { model } = this.ready();
      checkStateArg(this.name, model, state);
      // What the device holds after SET_STATE: spiked bytes normalised to 0 or 1 (SPEC.md).
      const checkpoint = state.slice();
      for (let i = 6 * model.neurons; i < checkpoint.length; i++)
        checkpoint[i] = checkpoint[i] ? 1 : 0;
      await this.onDevice(false, () => this.client.setState(checkpoint));
      this.intended = { checkpoint, log: [], logSamples: 0 };
      this.synced = true;
    });
  }

  reset(): Promise<void> {
    return this.call('reset', async () => {
      const { model } = this.ready();
      await this.onDevice(false, () => this.client.reset('state'));
      this.intended = {
        checkpoint: new Uint8Array(stateBytes(model.neurons)),
        log: [],
        logSamples: 0,
      };
      this.synced = true;
    });
  }

  /** From what the link last saw; asks the device nothing. */
  health(): Promise<BackendHealth> {
    const link = this.client.link;
    let status: BackendHealth['status'];
    let detail: string;
    if (this.closed) [status, detail] = ['down', 'closed'];
    else if (link.state !== 'up')
      [status, detail] = [
        'down',
        `${this.client.path}: ${link.state} since ${new Date(link.since).toISOString()}: ${link.reason ?? ''}`,
      ];
    else if (!this.loaded) [status, detail] = ['unloaded', 'no model loaded'];
    else [status, detail] = ['ok', this.capabilities().device];
    return Promise.resolve({
      status,
      detail,
      ...(this.lastError ? { lastError: this.lastError } : {}),
    });
  }

  close(): Promise<void> {
    this.closed = true;
    return this.client.close();
  }

  // -------------------------------------------------------------------------------------------

  private ready(): Loaded {
    return checkLoaded(this.name, this.closed, this.loaded);
  }

  /**
   * Runs `op` on a device that holds the loaded model (and, with `needState`, the intended
   * state), restoring both first when needed. A device reset during `op` (E_BOOT, or E_NOMODEL)
   * restores and retries it. Any other failure leaves the device unsynced, so the next call
   * restores it.
   */
  private async onDevice<T>(needState: boolean, op: () => Promise<T>): Promise<T> {
    for (let resets = 0; ; resets++) {
      try {
        await this.restore(needState);
        return await op();
      } catch (err) {
        this.synced = false;
        const code = err instanceof BoardError ? err.code : undefined;
        if ((code === 'E_BOOT' || code === 'E_NOMODEL') && resets < MAX_RESETS_PER_CALL) continue;
        throw err;
      }
    }
  }

  /** PROTOCOL.md 4.3: model (re-upload), then state (checkpoint, replay). */
  private async restore(needState: boolean): Promise<void> {
    const l = this.loaded!;
    if (this.synced && this.client.bootId === this.loadedBoot) return;
    const h = await this.client.info();
    let fresh = false;
    if (!(h.modelLoaded && h.modelSha256 === l.sha256 && h.bootId === this.loadedBoot)) {
      await this.client.upload(l.image);
      this.loadedBoot = this.client.bootId;
      fresh = true; // loaded with the state zero
    }
    if (needState) {
      const { checkpoint, log } = this.intended;
      if (!(fresh && checkpoint.every((b) => b === 0))) await this.client.setState(checkpoint);
      for (const piece of log) await this.client.step(piece, piece.length / l.perSample);
      this.synced = true;
    }
  }

  /**
   * Puts the image on the device with the state zero. A board that already holds this very image
   * (HELLO's model SHA-256: an agent restarting, a second load of the same bundle) only gets
   * RESET, which spares an upload (a second or more on a UART); if the model turns out to be
   * gone by then, it is uploaded after all.
   */
  private async loadImage(image: Uint8Array, sha256: string): Promise<void> {
    const hello = await this.client.info();
    if (hello.modelLoaded && hello.modelSha256 === sha256) {
      try {
        await this.client.reset('state');
        return;
      } catch (err) {
        if (!(err instanceof BoardError && (err.code === 'E_NOMODEL' || err.code === 'E_BOOT')))
          throw err;
      }
    }
    await this.client.upload(image);
  }

  /** GET_STATE as the new checkpoint. A failure here fails nothing: the log just grows. */
  private async checkpoint(): Promise<void> {
    try {
      const state = await this.readState();
      this.intended = { checkpoint: state, log: [], logSamples: 0 };
    } catch (err) {
      if (err instanceof BoardError && err.code === 'ECLOSED') throw err;
      // The samples were computed and their features are good; GET_STATE has no effect on the
      // device, so the intended state is still the checkpoint and the log. A reset (E_BOOT) or a
      // dead link shows again at the next call, which restores from there.
      if (err instanceof BoardError && (err.code === 'E_BOOT' || err.code === 'E_NOMODEL'))
        this.synced = false;
    }
  }

  private async readState(): Promise<Uint8Array> {
    const n = this.loaded!.model.neurons;
    const state = await this.client.getState();
    if (state.length !== stateBytes(n))
      throw new BoardError(
        'EPROTO',
        `${this.client.path} answered GET_STATE with ${state.length} bytes, not the ${stateBytes(n)} of ${n} neurons`,
      );
    return state;
  }

  /** Runs a call: every failure becomes a BackendError with the contract's code, recorded. */
  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const e = this.toBackendError(what, err);
      this.lastError = { code: e.code, message: e.message, at: Date.now() };
      throw e;
    }
  }

  private toBackendError(what: string, err: unknown): BackendError {
    if (err instanceof BackendError) return err;
    if (err instanceof BoardError) {
      let code = CODES[err.code] ?? 'EFAULT';
      if (this.closed) code = 'ECLOSED';
      const why =
        err.code === 'E_BOOT' || err.code === 'E_NOMODEL'
          ? ` (the board reset ${MAX_RESETS_PER_CALL + 1} times during one call)`
          : '';
      return new BackendError(code, this.name, `${what}: ${err.message}${why}`, { cause: err });
    }
    return new BackendError(
      'EFAULT',
      this.name,
      `${what}: ${(err as Error)?.message ?? String(err)}`,
      {
        cause: err,
      },
    );
  }
}
