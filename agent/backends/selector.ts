/**
 * The backend selector: the configured order of backends (`backends.order`), one of them
 * active. It keeps the forecaster's reservoir stepping when the active backend fails:
 *
 * - **Start.** Every backend is opened and loaded, in order; the first that works is active. The
 *   ones that could not start keep their reason (`backend list` shows it) and are tried again.
 * - **Failover within the call.** A step that fails, or takes longer than `stepTimeoutMs`, is run
 *   again on the next backend in the order that works, from the state the selector carries, so
 *   the call still returns its features: the caller's tick is not lost.
 * - **Carried state.** The selector holds a checkpoint of the reservoir state (taken every
 *   `checkpointSamples` samples from the active backend) and the inputs stepped since. A
 *   backend that takes over gets the checkpoint and replays those inputs (their features are
 *   dropped: the core is deterministic, so they are the ones already returned). Every backend
 *   computes the same bits, so the features do not show that a switch happened.
 * - **Failback with hysteresis.** Backends before the active one are probed in the background
 *   every `probeIntervalMs`; after `healthyProbes` healthy probes in a row the first of them
 *   takes over again, with the active backend's exact state.
 *
 * Every switch is logged with its reason and counted. Calls are queued, so a probe never runs
 * in the middle of a step.
 */
import type { ModelBundle } from '../model/index.js';
import type { Logger } from '../shared/log.js';
import { BackendError, type Backend, type BackendHealth } from './contract.js';
import { openBackend, type BackendSettings } from './registry.js';

export interface SelectorOptions {
  /** Backend names, highest priority first. */
  readonly order: readonly string[];
  readonly settings?: BackendSettings;
  /** Healthy background probes in a row before a higher-priority backend takes over (K). */
  readonly healthyProbes?: number;
  readonly probeIntervalMs?: number;
  /** A step slower than this counts as failed, and the next backend computes it. */
  readonly stepTimeoutMs?: number;
  /** Samples between two state checkpoints (the most a takeover replays). */
  readonly checkpointSamples?: number;
  readonly log?: Logger;
  /** How a backend is opened (default: the registry's openBackend). */
  readonly open?: (name: string, settings: BackendSettings) => Promise<Backend>;
}

/** One backend of the order, as `backend list` shows it. */
export interface SlotStatus {
  readonly name: string;
  readonly active: boolean;
  /** `ok`, `unloaded`, `down` (from its health), or `unavailable` (it could not be opened). */
  readonly status: BackendHealth['status'] | 'unavailable';
  readonly detail?: string;
  readonly lastError?: string;
  /** Healthy background probes in a row (failback needs `healthyProbes`). */
  readonly healthyStreak: number;
}

export interface SelectorStatus {
  readonly active: string | undefined;
  /** Why the active backend is the active one. */
  readonly reason: string | undefined;
  readonly order: readonly string[];
  readonly backends: readonly SlotStatus[];
  readonly switches: number;
  /** The most recent switches, newest last. */
  readonly recentSwitches: readonly SwitchRecord[];
}

export interface SwitchRecord {
  readonly at: number;
  readonly from: string | undefined;
  readonly to: string;
  readonly reason: string;
}

interface Slot {
  readonly name: string;
  backend: Backend | undefined;
  /** The model is loaded on it. */
  loaded: boolean;
  status: SlotStatus['status'];
  detail: string | undefined;
  lastError: string | undefined;
  healthyStreak: number;
  /** A call on it that the selector stopped waiting for (a timed-out step). */
  pending: Promise<unknown> | undefined;
}

const DEFAULTS = {
  healthyProbes: 3,
  probeIntervalMs: 2000,
  stepTimeoutMs: 500,
  checkpointSamples: 64,
} as const;

const RECENT_SWITCHES = 20;

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** `name: what went wrong`, once (a BackendError's message already starts with its name). */
const failure = (name: string, err: unknown): string => {
  const m = messageOf(err);
  return m.startsWith(`${name}: `) ? m : `${name}: ${m}`;
};

class StepTimeout extends Error {}

/** A wrong buffer length or sample count: the same on every backend, so not a failure of one. */
const isCallersMistake = (err: unknown): boolean =>
  err instanceof RangeError || (err instanceof BackendError && err.code === 'EINVAL');

/** Selects, fails over and fails back among backends; see the module comment. */
export class BackendSelector {
  private readonly slots: Slot[];
  private readonly healthyProbes: number;
  private readonly probeIntervalMs: number;
  private readonly stepTimeoutMs: number;
  private readonly checkpointSamples: number;
  private readonly settings: BackendSettings;
  private readonly log: Logger | undefined;
  private readonly open: (name: string, settings: BackendSettings) => Promise<Backend>;
  private readonly bundle: ModelBundle;

  private activeIndex = -1;
  private activeReason: string | undefined;
  /** State at the last checkpoint, and the inputs stepped since (with their sample counts). */
  private checkpoint: Uint8Array;
  private replay: { input: Uint8Array; samples: number }[] = [];
  private replaySamples = 0;
  private switchCount = 0;
  private readonly switches: SwitchRecord[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private probeTimer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(bundle: ModelBundle, options: SelectorOptions) {
    if (options.order.length === 0) throw new RangeError('backends.order is empty');
    this.bundle = bundle;
    this.slots = options.order.map((name) => ({
      name,
      backend: undefined,
      loaded: false,
      status: 'unavailable',
      detail: 'not opened yet',
      lastError: undefined,
      healthyStreak: 0,
      pending: undefined,
    }));
    this.healthyProbes = options.healthyProbes ?? DEFAULTS.healthyProbes;
    this.probeIntervalMs = options.probeIntervalMs ?? DEFAULTS.probeIntervalMs;
    this.stepTimeoutMs = options.stepTimeoutMs ?? DEFAULTS.stepTimeoutMs;
    this.checkpointSamples = options.checkpointSamples ?? DEFAULTS.checkpointSamples;
    this.settings = options.settings ?? {};
    this.log = options.log;
    this.open = options.open ?? openBackend;
    this.checkpoint = new Uint8Array(7 * bundle.model.neurons);
  }

  /**
   * Opens the backends in order with `bundle` loaded until one works; it is active. Rejects
   * with `EUNAVAILABLE`, naming every backend and why, when none works.
   */
  static async start(bundle: ModelBundle, options: SelectorOptions): Promise<BackendSelector> {
    const s = new BackendSelector(bundle, options);
    // Every one is opened and loaded now, not at its first failover: building an ONNX session
    // or a board's handshake would not fit in the tick that needs it.
    for (let i = 0; i < s.slots.length; i++) {
      if ((await s.ready(s.slots[i]!)) && s.activeIndex < 0)
        s.switchTo(i, i === 0 ? 'first in backends.order' : s.skippedReason(i));
    }
    if (s.activeIndex < 0) {
      await s.close();
      throw new BackendError('EUNAVAILABLE', 'selector', `no backend works: ${s.skippedReason()}`);
    }
    s.scheduleProbe();
    return s;
  }

  /** The active backend's name. */
  get active(): string {
    return this.slots[this.activeIndex]!.name;
  }

  /**
   * Runs `samples` input samples (the contract's step) on the active backend, or, when it fails
   * or is slower than `stepTimeoutMs`, on the next backend that works, from the carried state.
   * Rejects only when no backend can compute them.
   */
  step(input: Uint8Array, features: Int16Array, samples: number): Promise<number> {
    return this.serial(async () => {
      if (this.closed) throw new BackendError('ECLOSED', 'selector', 'step after close');
      const failures: string[] = [];
      // The active backend, then the ones after it, then those before it (a failback not yet
      // due): each one that is not active takes the carried state first.
      const n = this.slots.length;
      for (let k = 0; k < n; k++) {
        const i = (this.activeIndex + k) % n;
        const slot = this.slots[i]!;
        if (k > 0) {
          if (!(await this.ready(slot))) {
            failures.push(slot.detail ?? `${slot.name}: unavailable`);
            continue;
          }
          try {
            await this.restore(slot);
          } catch (err) {
            this.fail(slot, err);
            failures.push(failure(slot.name, err));
            continue;
          }
          this.switchTo(i, `${this.active} failed: ${failures.at(-1) ?? 'unknown'}`);
        }
        try {
          const spikes = await this.timed(slot, slot.backend!.step(input, features, samples));
          await this.remember(slot, input, samples);
          return spikes;
        } catch (err) {
          if (isCallersMistake(err)) throw err; // no backend would take it: nothing to fail over
          this.fail(slot, err);
          failures.push(failure(slot.name, err));
        }
      }
      throw new BackendError(
        'EUNAVAILABLE',
        'selector',
        `no backend could step: ${failures.join('; ')}`,
      );
    });
  }

  /** The state the selector carries: the active backend's, exactly. */
  getState(): Promise<Uint8Array> {
    return this.serial(async () => {
      await this.syncCheckpoint();
      return this.checkpoint.slice();
    });
  }

  /** Sets the state on the active backend (and carries it from there). */
  setState(state: Uint8Array): Promise<void> {
    return this.serial(async () => {
      const slot = this.slots[this.activeIndex]!;
      await slot.backend!.setState(state);
      this.checkpoint = state.slice();
      this.replay = [];
      this.replaySamples = 0;
    });
  }

  /** What `backend list` shows: the active backend, the order, each one's health. */
  async status(): Promise<SelectorStatus> {
    const backends: SlotStatus[] = [];
    for (const [i, slot] of this.slots.entries()) {
      if (slot.backend && !slot.pending) {
        const h = await slot.backend.health();
        // A backend that could not load the model keeps that reason, not its own "unloaded".
        if (slot.loaded || h.status === 'down' || slot.lastError === undefined) {
          slot.status = h.status;
          slot.detail = h.detail;
        }
      }
      backends.push({
        name: slot.name,
        active: i === this.activeIndex,
        status: slot.status,
        ...(slot.detail !== undefined ? { detail: slot.detail } : {}),
        ...(slot.lastError !== undefined ? { lastError: slot.lastError } : {}),
        healthyStreak: slot.healthyStreak,
      });
    }
    return {
      active: this.activeIndex >= 0 ? this.active : undefined,
      reason: this.activeReason,
      order: this.slots.map((s) => s.name),
      backends,
      switches: this.switchCount,
      recentSwitches: [...this.switches],
    };
  }

  /** Probes the backends before the active one now (the timer does it every interval). */
  probe(): Promise<void> {
    return this.serial(() => this.probeOnce());
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.probeTimer);
    await this.queue.catch(() => undefined);
    for (const slot of this.slots) {
      const b = slot.backend;
      slot.backend = undefined;
      await slot.pending?.catch(() => undefined);
      await b?.close().catch(() => undefined);
    }
  }

  // -------------------------------------------------------------------------------------------

  /** Runs `fn` after every earlier call has finished. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Opens `slot` if needed and loads the model; false (with the reason kept) if it cannot. */
  private async ready(slot: Slot): Promise<boolean> {
    try {
      if (slot.pending) {
        await slot.pending.catch(() => undefined);
        slot.pending = undefined;
      }
      slot.backend ??= await this.open(slot.name, this.settings);
      const h = await slot.backend.health();
      if (h.status === 'down') throw new Error(h.detail ?? 'down');
      if (!slot.loaded || h.status === 'unloaded') {
        await slot.backend.load(this.bundle);
        slot.loaded = true;
      }
      slot.status = 'ok';
      slot.detail = undefined;
      return true;
    } catch (err) {
      this.fail(slot, err);
      return false;
    }
  }

  private fail(slot: Slot, err: unknown): void {
    const message = failure(slot.name, err);
    slot.lastError = message;
    slot.healthyStreak = 0;
    slot.detail = message;
    slot.status =
      slot.backend === undefined
        ? 'unavailable'
        : err instanceof BackendError && err.code === 'ENOMODEL'
          ? 'unloaded'
          : 'down';
    if (err instanceof BackendError && (err.code === 'EDISCONNECTED' || err.code === 'ENOMODEL'))
      slot.loaded = false;
  }

  /** Waits for `call`, at most `stepTimeoutMs`; a late call is left to finish in `pending`. */
  private async timed<T>(slot: Slot, call: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new StepTimeout(`no features within ${this.stepTimeoutMs} ms`)),
        this.stepTimeoutMs,
      );
    });
    try {
      return await Promise.race([call, timeout]);
    } catch (err) {
      if (err instanceof StepTimeout) slot.pending = call.catch(() => undefined);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The carried state onto `slot`: the checkpoint, then the inputs since, replayed. */
  private async restore(slot: Slot): Promise<void> {
    const b = slot.backend!;
    await this.timed(slot, b.setState(this.checkpoint));
    for (const r of this.replay) {
      const scratch = new Int16Array(r.samples * 2 * this.bundle.model.neurons);
      await this.timed(slot, b.step(r.input, scratch, r.samples));
    }
  }

  /** After a step on the active backend: keep its input, checkpoint when due. */
  private async remember(slot: Slot, input: Uint8Array, samples: number): Promise<void> {
    const { substeps, inputs } = this.bundle.model;
    this.replay.push({ input: input.slice(0, samples * substeps * inputs), samples });
    this.replaySamples += samples;
    if (this.replaySamples >= this.checkpointSamples) {
      try {
        await this.syncCheckpoint(slot);
      } catch (err) {
        // The step's features stand; the replay list keeps growing until a checkpoint works.
        this.log?.warn('backend checkpoint failed', { backend: slot.name, err: messageOf(err) });
      }
    }
  }

  private async syncCheckpoint(slot = this.slots[this.activeIndex]!): Promise<void> {
    if (this.replay.length === 0) return;
    this.checkpoint = await this.timed(slot, slot.backend!.getState());
    this.replay = [];
    this.replaySamples = 0;
  }

  private switchTo(index: number, reason: string): void {
    const from = this.activeIndex >= 0 ? this.active : undefined;
    this.activeIndex = index;
    this.activeReason = reason;
    const record = { at: Date.now(), from, to: this.active, reason };
    if (from !== undefined) {
      this.switchCount++;
      this.switches.push(record);
      if (this.switches.length > RECENT_SWITCHES) this.switches.shift();
      this.log?.warn(`backend switch: ${from} → ${this.active}`, { reason });
    } else {
      this.log?.info(`backend: ${this.active}`, { reason });
    }
  }

  /** Why the backends before `upTo` are not the active one. */
  private skippedReason(upTo = this.slots.length): string {
    return this.slots
      .slice(0, upTo)
      .map((s) => s.detail ?? `${s.name}: unavailable`)
      .join('; ');
  }

  private scheduleProbe(): void {
    if (this.closed) return;
    this.probeTimer = setTimeout(() => {
      void this.serial(() => this.probeOnce()).finally(() => this.scheduleProbe());
    }, this.probeIntervalMs);
    this.probeTimer.unref();
  }

  /**
   * One round of background probes of the backends before the active one; the first with
   * `healthyProbes` healthy probes in a row takes over, with the active backend's exact state.
   */
  private async probeOnce(): Promise<void> {
    if (this.closed) return;
    for (let i = 0; i < this.activeIndex; i++) {
      const slot = this.slots[i]!;
      if (!(await this.ready(slot))) continue;
      slot.healthyStreak++;
      if (slot.healthyStreak < this.healthyProbes) continue;
      try {
        await this.syncCheckpoint();
        await this.restore(slot);
      } catch (err) {
        this.fail(slot, err);
        continue;
      }
      this.switchTo(i, `${slot.name} healthy for ${slot.healthyStreak} probes in a row`);
      slot.healthyStreak = 0;
      return;
    }
  }
}
