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
  /** Samples to time (default 5000). */
  readonly samples?: number;
  /** Stop early once this much time has been spent stepping (default 10 s). */
  readonly maxSeconds?: number;
}

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export async function benchBackend(
  backend: Backend,
  bundle: ModelBundle,
  options: BenchOptions = {},
): Promise<BenchResult> {
  const model = bundle.model;
  const want = options.samples ?? 5000;
  const budgetNs = BigInt(Math.round((options.maxSeconds ?? 10) * 1e9));
  await backend.load(bundle);
  const source = new StandardInput(model);
  const input = new Uint8Array(inputLength(model));
  const features = new Int16Array(featureLength(model));
  for (let i = 0; i < WARMUP_SAMPLES; i++) {
    source.next(input, 1);
    await backend.step(input, features, 1);
  }
  const times = new Float64Array(want);
  let n = 0;
  let spikes = 0;
  let inputEvents = 0;
  let total = 0n;
  while (n < want && total < budgetNs) {
    inputEvents += source.next(input, 1);
    const t0 = process.hrtime.bigint();
    spikes += await backend.step(input, features, 1);
    const dt = process.hrtime.bigint() - t0;
    total += dt;
    times[n++] = Number(dt) / 1e3;
  }
  const timed = times.subarray(0, n).sort();
  const seconds = Number(total) / 1e9;
  return {
    backend: backend.name,
    device: backend.capabilities().device,
    neurons: model.neurons,
    fanout: model.fanout,
    substeps: model.substeps,
    samples: n,
    us_per_step_median: quantile(timed, 0.5),
    us_per_step_p99: quantile(timed, 0.99),
    us_per_step_mean: (seconds * 1e6) / n,
    synaptic_events_per_s: (model.fanout * (inputEvents + spikes)) / seconds,
    firing_rate: spikes / (model.neurons * model.substeps * n),
  };
}
