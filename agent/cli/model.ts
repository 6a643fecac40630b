import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { buildReservoirGraph, FLOAT32_EXACT, IR_VERSION, OPSET } from '../backends/onnx/index.js';
import { writeFileAtomic } from '../shared/fs.js';
import {
  BundleError,
  DEFAULT_ENCODER,
  GENERATE_DEFAULTS,
  LIMITS,
  ReferenceReservoir,
  WARMUP_SAMPLES,
  generateModel,
  measureFiringRate,
  readBundle,
  writeBundle,
  type ModelBundle,
  type ReservoirModel,
} from '../model/index.js';
import { parse, UsageError } from './args.js';

export const modelUsage = `usage:
  spikecap model new --neurons N --inputs I --fanout F --seed S --out FILE [--substeps S] [--rate R] [--json]
      generate a reservoir from the seed (xoshiro128**), calibrate its thresholds to firing rate R
      on the standard input (default ${GENERATE_DEFAULTS.targetRate} spikes per neuron per sub-step; ${GENERATE_DEFAULTS.substeps} sub-steps), write the bundle
  spikecap model info FILE [--json]
      sizes, parameter ranges, hash, provenance, and the firing rate measured now (reference)
  spikecap model export-onnx FILE OUT [--float64] [--json]
      write the reservoir as the ONNX graph the onnx backend runs (agent/backends/onnx/GRAPH.md):
      state in, state out; float32 arithmetic where exact for the model, else float64`;

/** A decimal integer option within min … max, or a UsageError naming the option. */
function integer(text: string | undefined, option: string, min: number, max: number): number {
  if (text === undefined) throw new UsageError(`model new needs ${option}`);
  if (!/^[0-9]+$/.test(text) || Number(text) < min || Number(text) > max)
    throw new UsageError(`${option}: expected an integer ${min}…${max}, got "${text}"`);
  return Number(text);
}

function modelNew(values: Record<string, string | boolean | undefined>): number {
  const str = (name: string): string | undefined => values[name] as string | undefined;
  const missing = ['neurons', 'inputs', 'fanout', 'seed', 'out'].filter((k) => !str(k));
  if (missing.length)
    throw new UsageError(`model new needs ${missing.map((k) => `--${k}`).join(', ')}`);
  const neurons = integer(str('neurons'), '--neurons', LIMITS.neurons.min, LIMITS.neurons.max);
  const inputs = integer(str('inputs'), '--inputs', LIMITS.inputs.min, LIMITS.inputs.max);
  const fanout = integer(str('fanout'), '--fanout', LIMITS.fanout.min, Number.MAX_SAFE_INTEGER);
  if (fanout > LIMITS.fanout.max || fanout > neurons)
    throw new UsageError(
      `--fanout: ${fanout} is above ${fanout > LIMITS.fanout.max ? `the limit ${LIMITS.fanout.max}` : `--neurons (${neurons})`} (it must be ≤ ${LIMITS.fanout.max} and ≤ --neurons)`,
    );
  const seed = integer(str('seed'), '--seed', 0, 0xffffffff);
  const substeps =
    str('substeps') === undefined
      ? GENERATE_DEFAULTS.substeps
      : integer(str('substeps'), '--substeps', LIMITS.substeps.min, LIMITS.substeps.max);
  let targetRate: number = GENERATE_DEFAULTS.targetRate;
  const rateText = str('rate');
  if (rateText !== undefined) {
    targetRate = Number(rateText);
    if (!/^[0-9.eE+-]+$/.test(rateText) || !(targetRate > 0 && targetRate < 1))
      throw new UsageError(
        `--rate: expected spikes per neuron per sub-step, a number between 0 and 1 (exclusive), got "${rateText}"`,
      );
  }
  const out = str('out')!;

  const t0 = performance.now();
  const { model, provenance } = generateModel({
    neurons,
    inputs,
    fanout,
    seed,
    substeps,
    targetRate,
  });
  const seconds = (performance.now() - t0) / 1000;
  const written = writeBundle(out, { model, encoder: DEFAULT_ENCODER, provenance });

  if (values.json) {
    process.stdout.write(
      JSON.stringify(
        {
          file: out,
          bytes: written.bytes,
          sha256: written.sha256,
          model: scalars(model),
          provenance,
          seconds,
        },
        null,
        2,
      ) + '\n',
    );
  } else {
    const off = Math.abs(provenance.rate - targetRate) > 0.05 * targetRate;
    process.stdout.write(
      `wrote ${out} (${written.bytes} bytes, sha256 ${written.sha256})\n` +
        `  ${neurons} neurons, ${inputs} inputs, fan-out ${fanout}, ${substeps} sub-steps; seed ${seed}\n` +
        `  firing rate ${provenance.rate.toFixed(4)} on the standard input (target ${targetRate})` +
        `${off ? ' — the calibration could not reach the target with these sizes' : ''}\n` +
        `  threshold factor ${provenance.threshold_factor.toFixed(2)}, ` +
        `${provenance.spikes_per_sample.toFixed(1)} spikes and ${Math.round(provenance.events_per_sample)} synaptic events per sample\n` +
        `  generated and calibrated in ${seconds.toFixed(1)} s\n`,
    );
  }
  return 0;
}

function scalars(m: ReservoirModel) {
  return {
    neurons: m.neurons,
    inputs: m.inputs,
    fanout: m.fanout,
    substeps: m.substeps,
    weight_shift_in: m.weightShiftIn,
    weight_shift_rec: m.weightShiftRec,
    trace_dash: m.traceDash,
    trace_shift: m.traceShift,
  };
}

function range(values: ArrayLike<number>): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { min, max };
}

function describe(file: string, bundle: ModelBundle) {
  const m = bundle.model;
  const reservoir = new ReferenceReservoir(m);
  const t0 = performance.now();
  const rate = measureFiringRate(reservoir, m);
  const microseconds = ((performance.now() - t0) * 1000) / (WARMUP_SAMPLES + rate.samples);
  return {
    file,
    bytes: statSync(file).size,
    format_version: bundle.formatVersion,
    sha256: bundle.sha256,
    model: scalars(m),
    synapses: { input: m.inputs * m.fanout, recurrent: m.neurons * m.fanout },
    per_sample: {
      input_counts: m.substeps * m.inputs,
      features: 2 * m.neurons,
      state_bytes: 7 * m.neurons,
    },
    ranges: {
      threshold: range(m.threshold),
      bias: range(m.bias),
      dash_syn: range(m.dashSyn),
      dash_mem: range(m.dashMem),
      in_weight: range(m.inWeight),
      rec_weight: range(m.recWeight),
    },
    encoder: bundle.encoder,
    provenance: bundle.provenance,
    standard_input: {
      rate: rate.rate,
      spikes_per_sample: rate.spikesPerSample,
      events_per_sample: rate.eventsPerSample,
      reference_us_per_sample: microseconds,
    },
  };
}

/** The bundle in `file`, or undefined after saying on stderr why it cannot be used. */
function readOrReport(file: string): ModelBundle | undefined {
  try {
    return readBundle(file);
  } catch (err) {
    if (!(err instanceof BundleError)) throw err;
    process.stderr.write(`spikecap: ${err.message}\n`);
    return undefined;
  }
}

function modelInfo(file: string, json: boolean): number {
  const bundle = readOrReport(file);
  if (!bundle) return 1;
  const d = describe(file, bundle);
  if (json) {
    process.stdout.write(JSON.stringify(d, null, 2) + '\n');
    return 0;
  }
  const m = d.model;
  const r = (x: { min: number; max: number }): string => `${x.min} … ${x.max}`;
  const recorded =
    typeof bundle.provenance.rate === 'number'
      ? ` (recorded when generated: ${bundle.provenance.rate.toFixed(4)})`
      : '';
  process.stdout.write(
    `${file}: spikecap model bundle, format version ${d.format_version}, ${d.bytes} bytes\n` +
      `  sha256       ${d.sha256}\n` +
      `  size         ${m.neurons} neurons, ${m.inputs} inputs, fan-out ${m.fanout}, ${m.substeps} sub-steps\n` +
      `  synapses     ${d.synapses.input} input, ${d.synapses.recurrent} recurrent\n` +
      `  per sample   ${d.per_sample.input_counts} input counts in, ${d.per_sample.features} features out; state ${d.per_sample.state_bytes} bytes\n` +
      `  shifts       weight_shift_in ${m.weight_shift_in}, weight_shift_rec ${m.weight_shift_rec}, trace_dash ${m.trace_dash}, trace_shift ${m.trace_shift}\n` +
      `  threshold    ${r(d.ranges.threshold)}\n` +
      `  bias         ${r(d.ranges.bias)}\n` +
      `  dash_syn     ${r(d.ranges.dash_syn)}\n` +
      `  dash_mem     ${r(d.ranges.dash_mem)}\n` +
      `  in_weight    ${r(d.ranges.in_weight)}\n` +
      `  rec_weight   ${r(d.ranges.rec_weight)}\n` +
      `  encoder      ${JSON.stringify(d.encoder)}\n` +
      `  provenance   ${JSON.stringify(d.provenance)}\n` +
      `  firing rate  ${d.standard_input.rate.toFixed(4)} on the standard input${recorded}: ` +
      `${d.standard_input.spikes_per_sample.toFixed(1)} spikes, ${Math.round(d.standard_input.events_per_sample)} synaptic events per sample ` +
      `(reference: ${d.standard_input.reference_us_per_sample.toFixed(0)} µs/sample)\n`,
  );
  return 0;
}

function exportOnnx(file: string, out: string, float64: boolean, json: boolean): number {
  const bundle = readOrReport(file);
  if (!bundle) return 1;
  const m = bundle.model;
  const graph = buildReservoirGraph(m, {
    precision: float64 ? 'float64' : 'auto',
    bundleSha256: bundle.sha256,
  });
  try {
    writeFileAtomic(out, graph.bytes, true);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    process.stderr.write(`spikecap: ${out}: cannot write: ${e.code ?? e.message}\n`);
    return 1;
  }
  const sha256 = createHash('sha256').update(graph.bytes).digest('hex');
  if (json) {
    process.stdout.write(
      JSON.stringify(
        {
          file: out,
          bytes: graph.bytes.length,
          sha256,
          bundle: { file, sha256: bundle.sha256 },
          model: scalars(m),
          opset: OPSET,
          ir_version: IR_VERSION,
          arithmetic: graph.arithmetic,
          accumulator_bound: graph.bound,
          recurrent: graph.recurrent,
          nodes: graph.nodes,
        },
        null,
        2,
      ) + '\n',
    );
    return 0;
  }
  const why =
    graph.arithmetic === 'float32'
      ? `accumulator bound ${graph.bound} ≤ 2^24`
      : graph.bound > FLOAT32_EXACT
        ? `accumulator bound ${graph.bound} > 2^24`
        : '--float64';
  const { neurons: N, inputs: I, substeps: S } = m;
  process.stdout.write(
    `wrote ${out} (${graph.bytes.length} bytes, sha256 ${sha256})\n` +
      `  from ${file} (sha256 ${bundle.sha256}): ${N} neurons, ${I} inputs, fan-out ${m.fanout}, ${S} sub-steps\n` +
      `  ONNX opset ${OPSET}, IR version ${IR_VERSION}; ${graph.arithmetic} arithmetic (${why}); ` +
      `recurrent spikes ${graph.recurrent === 'dense' ? 'by a dense MatMul' : 'by ScatterElements'}; ` +
      `${graph.nodes.main} nodes, ${graph.nodes.body} in the Scan body\n` +
      `  inputs   input uint8 [samples, ${S}, ${I}], isyn vmem trace int16 [${N}], spiked uint8 [${N}]\n` +
      `  outputs  features int16 [samples, ${2 * N}], isyn_out vmem_out trace_out int16 [${N}], spiked_out uint8 [${N}]\n`,
  );
  return 0;
}

export function modelCommand(argv: string[]): number {
  const [sub, ...rest] = argv;
  if (sub === 'new') {
    const { values, positionals } = parse(
      rest,
      {
        neurons: { type: 'string' },
        inputs: { type: 'string' },
        fanout: { type: 'string' },
        seed: { type: 'string' },
        out: { type: 'string' },
        substeps: { type: 'string' },
        rate: { type: 'string' },
        json: { type: 'boolean' },
      },
      true,
    );
    if (positionals.length)
      throw new UsageError(`model new takes no positional arguments, got "${positionals[0]}"`);
    return modelNew(values);
  }
  if (sub === 'info') {
    const { values, positionals } = parse(rest, { json: { type: 'boolean' } }, true);
    if (positionals.length !== 1) throw new UsageError('model info takes one FILE');
    return modelInfo(positionals[0]!, values.json === true);
  }
  if (sub === 'export-onnx') {
    const { values, positionals } = parse(
      rest,
      { json: { type: 'boolean' }, float64: { type: 'boolean' } },
      true,
    );
    if (positionals.length !== 2) throw new UsageError('model export-onnx takes FILE and OUT');
    return exportOnnx(
      positionals[0]!,
      positionals[1]!,
      values.float64 === true,
      values.json === true,
    );
  }
  throw new UsageError(sub ? `unknown model subcommand "${sub}"` : 'model needs a subcommand');
}
