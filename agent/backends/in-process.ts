/**
 * The part every in-process backend shares (native addon, HAL driver, TypeScript reference):
 * argument checks, the loaded/closed lifecycle, error bookkeeping and health. Each backend
 * supplies an {@link Engine}: the thing that actually computes the reservoir.
 */
import type { ModelBundle, ReservoirModel } from '../model/index.js';
import { stateBytes } from '../model/index.js';
import {
  checkLoaded,
  checkStateArg,
  checkStepArgs,
  BackendError,
  checkCapabilities,
  type Backend,
  type BackendCapabilities,
  type BackendErrorCode,
  type BackendHealth,
} from './contract.js';

/** A reservoir instance for one model; synchronous, since it runs in this process. */
export interface Engine {
  step(input: Uint8Array, features: Int16Array, samples: number): number;
  getState(out: Uint8Array): void;
  setState(state: Uint8Array): void;
  reset(): void;
  close?(): void;
}

export interface EngineFactory {
  readonly capabilities: BackendCapabilities;
  create(model: ReservoirModel): Engine;
  /** Maps an error the engine threw to a contract code (default: EFAULT). */
  classify?(err: unknown): BackendErrorCode;
}

export class InProcessBackend implements Backend {
  private engine: Engine | undefined;
  private model: ReservoirModel | undefined;
  private closed = false;
  private lastError: BackendHealth['lastError'];

  constructor(
    readonly name: string,
    private readonly factory: EngineFactory,
  ) {}

  capabilities(): BackendCapabilities {
    return this.factory.capabilities;
  }

  load(bundle: ModelBundle): Promise<void> {
    return this.call(() => {
      const m = bundle.model;
      checkCapabilities(this.name, this.factory.capabilities, m);
      const engine = this.factory.create(m);
      this.engine?.close?.();
      this.engine = engine;
      this.model = m;
    });
  }

  step(input: Uint8Array, features: Int16Array, samples: number): Promise<number> {
    return this.call(() => {
      const { engine, model } = this.ready();
      checkStepArgs(this.name, model, input, features, samples);
      return engine.step(input, features, samples);
    });
  }

  getState(): Promise<Uint8Array> {
    return this.call(() => {
      const { engine, model } = this.ready();
      const out = new Uint8Array(stateBytes(model.neurons));
      engine.getState(out);
      return out;
    });
  }

  setState(state: Uint8Array): Promise<void> {
    return this.call(() => {
      const { engine, model } = this.ready();
      checkStateArg(this.name, model, state);
      engine.setState(state);
    });
  }

  reset(): Promise<void> {
    return this.call(() => this.ready().engine.reset());
  }

  health(): Promise<BackendHealth> {
    const status = this.closed ? 'down' : this.engine ? 'ok' : 'unloaded';
    const detail = this.closed
      ? 'closed'
      : this.engine
        ? this.factory.capabilities.device
        : 'no model loaded';
    return Promise.resolve({
      status,
      detail,
      ...(this.lastError ? { lastError: this.lastError } : {}),
    });
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.engine?.close?.();
      this.engine = undefined;
    }
    return Promise.resolve();
  }

  private ready(): { engine: Engine; model: ReservoirModel } {
    // load() sets both or neither.
    const engine = checkLoaded(this.name, this.closed, this.engine);
    return { engine, model: this.model! };
  }

  /** Runs a synchronous engine call; any throw becomes a rejected BackendError, recorded. */
  private call<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (err) {
      const e =
        err instanceof BackendError
          ? err
          : new BackendError(
              this.factory.classify?.(err) ?? 'EFAULT',
              this.name,
              (err as Error).message ?? String(err),
              { cause: err },
            );
      this.lastError = { code: e.code, message: e.message, at: Date.now() };
      return Promise.reject(e);
    }
  }
}
