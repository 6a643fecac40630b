/**
 * The `onnx` backend: the reservoir as an ONNX graph (graph.ts; GRAPH.md describes it) run by
 * ONNX Runtime on the CPU (onnxruntime-node). The graph is stateless: the state lives here, goes
 * into every run and comes out of it, so getState/setState/reset never touch the runtime, and a
 * run that fails leaves the state as it was. One `session.run` per `step`, whatever the number
 * of samples (a Scan over them inside the graph).
 *
 * Built graphs are cached on disk by the bundle's SHA-256 (cache.ts). A bundle whose graph
 * cannot be built, or that ONNX Runtime refuses, is `EINVAL` naming the bundle; if ONNX Runtime
 * itself cannot be loaded, the factory raises `EUNAVAILABLE`.
 */
import { createRequire } from 'node:module';
import type * as Ort from 'onnxruntime-node';
import {
  decodeStateInto,
  encodeStateInto,
  featureLength,
  inputLength,
  LIMITS,
  stateBytes,
  zeroState,
  type ModelBundle,
  type ReservoirModel,
  type ReservoirState,
} from '../../model/index.js';
import {
  checkLoaded,
  checkOpen,
  checkStateArg,
  checkStepArgs,
  BackendError,
  checkCapabilities,
  type Backend,
  type BackendCapabilities,
  type BackendHealth,
} from '../contract.js';
import { defaultOnnxCacheDir, loadOrBuildGraph, type CachedGraph } from './cache.js';
import { IO, type Arithmetic, type Precision, type Recurrent } from './graph.js';

export interface OnnxBackendOptions {
  /** ONNX Runtime's intra-op threads (default 1: the agent shares the machine). */
  readonly threads?: number;
  /**
   * Where built graphs are cached (default {@link defaultOnnxCacheDir}); `false`: no cache,
   * every load builds.
   */
  readonly cacheDir?: string | false;
  /** `auto` (default): float32 arithmetic where it is exact for the model, else float64. */
  readonly precision?: Precision;
  /** How recurrent spikes are added (GRAPH.md); `auto` (default): chosen per model. */
  readonly recurrent?: 'auto' | Recurrent;
}

type OrtModule = typeof Ort;

let runtime: OrtModule | undefined;

/** onnxruntime-node, loaded on first use (its native library is large, and optional here). */
function loadRuntime(): OrtModule {
  runtime ??= createRequire(import.meta.url)('onnxruntime-node') as OrtModule;
  return runtime;
}

function checkOptions(options: OnnxBackendOptions): Required<OnnxBackendOptions> {
  const {
    threads = 1,
    cacheDir = defaultOnnxCacheDir(),
    precision = 'auto',
    recurrent = 'auto',
  } = options;
  if (!Number.isInteger(threads) || threads < 1 || threads > 256)
    throw new TypeError(`threads: expected an integer 1…256, got ${String(threads)}`);
  if (cacheDir !== false && (typeof cacheDir !== 'string' || cacheDir === ''))
    throw new TypeError(`cacheDir: expected a directory or false, got ${JSON.stringify(cacheDir)}`);
  if (precision !== 'auto' && precision !== 'float64')
    throw new TypeError(
      `precision: expected "auto" or "float64", got ${JSON.stringify(precision)}`,
    );
  if (recurrent !== 'auto' && recurrent !== 'dense' && recurrent !== 'scatter')
    throw new TypeError(
      `recurrent: expected "auto", "dense" or "scatter", got ${JSON.stringify(recurrent)}`,
    );
  return { threads, cacheDir, precision, recurrent };
}

/**
 * Creates the backend; `EUNAVAILABLE` if onnxruntime-node cannot be loaded here. A bad option
 * is a TypeError naming it.
 */
export function createOnnxBackend(name = 'onnx', options: OnnxBackendOptions = {}): OnnxBackend {
  const opts = checkOptions(options);
  let ort: OrtModule;
  try {
    ort = loadRuntime();
  } catch (err) {
    throw new BackendError(
      'EUNAVAILABLE',
      name,
      `cannot load onnxruntime-node: ${(err as Error).message}`,
      { cause: err },
    );
  }
  return new OnnxBackend(name, ort, opts);
}

/** What a successful load holds. */
interface Loaded {
  readonly model: ReservoirModel;
  readonly session: Ort.InferenceSession;
  readonly graph: Omit<CachedGraph, 'bytes'>;
  readonly sha256: string;
}

/** "bundle 4351615deec7… (512 neurons, 16 inputs, fan-out 64, 4 sub-steps)" */
function describeBundle(bundle: ModelBundle): string {
  const m = bundle.model;
  return (
    `bundle ${bundle.sha256.slice(0, 12)}… (${m.neurons} neurons, ${m.inputs} inputs, ` +
    `fan-out ${m.fanout}, ${m.substeps} sub-steps)`
  );
}

export class OnnxBackend implements Backend {
  private loaded: Loaded | undefined;
  private state: ReservoirState = zeroState(0);
  private closed = false;
  private lastError: BackendHealth['lastError'];
  private readonly caps: BackendCapabilities;

  constructor(
    readonly name: string,
    private readonly ort: OrtModule,
    private readonly options: Required<OnnxBackendOptions>,
  ) {
    const threads = options.threads === 1 ? '1 thread' : `${options.threads} threads`;
    this.caps = {
      backend: name,
      device: `ONNX Runtime ${ort.env.versions.node ?? ort.env.versions.common} (CPU, ${threads})`,
      maxNeurons: LIMITS.neurons.max,
      maxInputs: LIMITS.inputs.max,
      maxFanout: LIMITS.fanout.max,
      maxSubsteps: LIMITS.substeps.max,
    };
  }

  capabilities(): BackendCapabilities {
    return this.caps;
  }

  /** How the loaded graph came to be (arithmetic, cache file), for health() and the tests. */
  get graph(): Loaded['graph'] | undefined {
    return this.loaded?.graph;
  }

  load(bundle: ModelBundle): Promise<void> {
    return this.call(async () => {
      checkOpen(this.name, this.closed);
      const m = bundle.model;
      checkCapabilities(this.name, this.caps, m);
      let session: Ort.InferenceSession;
      let graph: CachedGraph;
      try {
        graph = this.graphOf(bundle, false);
        try {
          session = await this.createSession(graph.bytes);
        } catch (err) {
          // A cached file that checked out but that the runtime refuses: build it afresh once.
          if (graph.source !== 'cache') throw err;
          graph = this.graphOf(bundle, true);
          session = await this.createSession(graph.bytes);
        }
      } catch (err) {
        if (err instanceof BackendError) throw err;
        throw new BackendError(
          'EINVAL',
          this.name,
          `${describeBundle(bundle)}: ${(err as Error).message}`,
          { cause: err },
        );
      }
      if (this.closed) {
        await session.release();
        checkOpen(this.name, this.closed);
      }
      const old = this.loaded;
      const { bytes: _bytes, ...info } = graph;
      this.loaded = { model: m, session, graph: info, sha256: bundle.sha256 };
      this.state = zeroState(m.neurons);
      if (old) await old.session.release();
    });
  }

  step(input: Uint8Array, features: Int16Array, samples: number): Promise<number> {
    return this.call(async () => {
      const { model, session } = this.ready();
      checkStepArgs(this.name, model, input, features, samples);
      const needIn = samples * inputLength(model);
      const needOut = samples * featureLength(model);

      const { Tensor } = this.ort;
      const N = model.neurons;
      const s = this.state;
      const feeds = {
        [IO.input]: new Tensor('uint8', input.subarray(0, needIn), [
          samples,
          model.substeps,
          model.inputs,
        ]),
        [IO.isyn]: new Tensor('int16', s.isyn, [N]),
        [IO.vmem]: new Tensor('int16', s.vmem, [N]),
        [IO.trace]: new Tensor('int16', s.trace, [N]),
        [IO.spiked]: new Tensor('uint8', s.spiked, [N]),
      };
      let out: Ort.InferenceSession.OnnxValueMapType;
      try {
        out = await session.run(feeds);
      } catch (err) {
        throw new BackendError('EFAULT', this.name, `run: ${(err as Error).message}`, {
          cause: err,
        });
      }
      const f = this.output(out, IO.features, Int16Array, needOut);
      const next: ReservoirState = {
        isyn: this.output(out, IO.isynOut, Int16Array, N),
        vmem: this.output(out, IO.vmemOut, Int16Array, N),
        trace: this.output(out, IO.traceOut, Int16Array, N),
        spiked: this.output(out, IO.spikedOut, Uint8Array, N),
      };
      // Every output checked: only now does anything change.
      features.set(f);
      s.isyn.set(next.isyn);
      s.vmem.set(next.vmem);
      s.trace.set(next.trace);
      s.spiked.set(next.spiked);
      let spikes = 0;
      for (let k = 0; k < samples; k++)
        for (let i = k * 2 * N, end = i + N; i < end; i++) spikes += f[i]!;
      return spikes;
    });
  }

  getState(): Promise<Uint8Array> {
    return this.call(() => {
      const { model } = this.ready();
      const out = new Uint8Array(stateBytes(model.neurons));
      encodeStateInto(this.state, out);
      return Promise.resolve(out);
    });
  }

  setState(state: Uint8Array): Promise<void> {
    return this.call(() => {
      const { model } = this.ready();
      checkStateArg(this.name, model, state);
      decodeStateInto(state, this.state);
      return Promise.resolve();
    });
  }

  reset(): Promise<void> {
    return this.call(() => {
      this.ready();
      const s = this.state;
      for (const a of [s.isyn, s.vmem, s.trace, s.spiked]) a.fill(0);
      return Promise.resolve();
    });
  }

  health(): Promise<BackendHealth> {
    const l = this.loaded;
    const status = this.closed ? 'down' : l ? 'ok' : 'unloaded';
    const detail = this.closed
      ? 'closed'
      : l
        ? `${this.caps.device}; bundle ${l.sha256.slice(0, 12)}…, ${l.graph.arithmetic} ${l.graph.recurrent} graph ` +
          (l.graph.source === 'cache' ? `from ${l.graph.file}` : 'built at load') +
          (l.graph.note ? ` (${l.graph.note})` : '')
        : 'no model loaded';
    return Promise.resolve({
      status,
      detail,
      ...(this.lastError ? { lastError: this.lastError } : {}),
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const l = this.loaded;
    this.loaded = undefined;
    if (l) await l.session.release();
  }

  private graphOf(bundle: ModelBundle, refresh: boolean): CachedGraph {
    return loadOrBuildGraph(bundle, {
      dir: this.options.cacheDir,
      precision: this.options.precision,
      recurrent: this.options.recurrent,
      refresh,
    });
  }

  private createSession(bytes: Uint8Array): Promise<Ort.InferenceSession> {
    return this.ort.InferenceSession.create(bytes, {
      executionProviders: ['cpu'],
      intraOpNumThreads: this.options.threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      // Warnings (such as ORT's notes on its own graph rewrites) are not the agent's business.
      logSeverityLevel: 3,
    });
  }

  /** An output of the run with the type and length it must have; EFAULT otherwise. */
  private output<A extends Int16Array | Uint8Array>(
    out: Ort.InferenceSession.OnnxValueMapType,
    name: string,
    type: new (n: number) => A,
    length: number,
  ): A {
    const data = out[name]?.data;
    if (!(data instanceof type) || data.length !== length)
      throw new BackendError(
        'EFAULT',
        this.name,
        `run: output ${name} is not ${length} values of ${type.name}`,
      );
    return data;
  }

  private ready(): Loaded {
    return checkLoaded(this.name, this.closed, this.loaded);
  }

  /** Runs a call; any throw or rejection becomes a rejected BackendError, recorded. */
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const e =
        err instanceof BackendError
          ? err
          : new BackendError(
              err instanceof RangeError || err instanceof TypeError ? 'EINVAL' : 'EFAULT',
              this.name,
              (err as Error).message ?? String(err),
              { cause: err },
            );
      this.lastError = { code: e.code, message: e.message, at: Date.now() };
      throw e;
    }
  }
}

export type { Arithmetic, Precision, Recurrent };
