/**
 * `backend bench`: microseconds per input sample, one sample per step() call as the agent
 * steps, on the standard input of SPEC.md (so the firing rate is the model's own), after the
 * standard warm-up.
 */
import { StandardInput, WARMUP_SAMPLES, type ModelBundle } from '../model/index.js';
import { featureLength, inputLength } from '../model/index.js';
import type { Backend } from './contract.js';

export interface BenchResult {
  readonly backend: string;
  readonly device: string;
  readonly neurons: number;
  readonly fanout: number;
  readonly substeps: number;
  /** Samples timed. */
  readonly samples: number;
  readonly us_per_step_median: number;
  readonly us_per_step_p99: number;
  readonly us_per_step_mean: number;
  /** SPEC.md "Firing rate": synaptic events over the time spent in step(). */
  readonly synaptic_events_per_s: number;
  readonly firing_rate: number;
}

export interface BenchOptions {
  /** Samples to time per backend (default 5000). */
  readonly samples?: number;
  /**
   * Backends take turns in blocks of this many samples (default 250), so that a noisy
   * machine's slow spells fall on all of them alike and their ratio holds.
   */
  readonly block?: number;
}

/** The `q` quantile of ascending `sorted` values (nearest rank below); NaN when empty. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

interface Run {
  backend: Backend;
  source: StandardInput;
  input: Uint8Array;
  features: Int16Array;
  times: Float64Array;
  n: number;
  spikes: number;
  inputEvents: number;
  totalNs: bigint;
}

/** Times every backend on the same model and input, one sample per step() call, in turns. */
export async function benchBackends(
  backends: Backend[],
  bundle: ModelBundle,
  options: BenchOptions = {},
): Promise<BenchResult[]> {
  const model = bundle.model;
  const want = options.samples ?? 5000;
  const block = options.block ?? 250;
  const runs: Run[] = [];
  for (const backend of backends) {
    await backend.load(bundle);
    const run: Run = {
      backend,
      source: new StandardInput(model),
      input: new Uint8Array(inputLength(model)),
      features: new Int16Array(featureLength(model)),
      times: new Float64Array(want),
      n: 0,
      spikes: 0,
      inputEvents: 0,
      totalNs: 0n,
    };
    for (let i = 0; i < WARMUP_SAMPLES; i++) {
      run.source.next(run.input, 1);
      await backend.step(run.input, run.features, 1);
    }
    runs.push(run);
  }
  while (runs.some((r) => r.n < want)) {
    for (const r of runs) {
      const end = Math.min(want, r.n + block);
      while (r.n < end) {
        r.inputEvents += r.source.next(r.input, 1);
        const t0 = process.hrtime.bigint();
        r.spikes += await r.backend.step(r.input, r.features, 1);
        const dt = process.hrtime.bigint() - t0;
        r.totalNs += dt;
        r.times[r.n++] = Number(dt) / 1e3;
      }
    }
  }
  return runs.map((r) => {
    const sorted = r.times.sort();
    const seconds = Number(r.totalNs) / 1e9;
    return {
      backend: r.backend.name,
      device: r.backend.capabilities().device,
      neurons: model.neurons,
      fanout: model.fanout,
      substeps: model.substeps,
      samples: r.n,
      us_per_step_median: quantile(sorted, 0.5),
      us_per_step_p99: quantile(sorted, 0.99),
      us_per_step_mean: (seconds * 1e6) / r.n,
      synaptic_events_per_s: (model.fanout * (r.inputEvents + r.spikes)) / seconds,
      firing_rate: r.spikes / (model.neurons * model.substeps * r.n),
    };
  });
}
