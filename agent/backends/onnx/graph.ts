/**
 * The reservoir of native/core/SPEC.md as an ONNX graph, built from a model. GRAPH.md beside
 * this file describes the graph (inputs, outputs, operators, opset, and why the arithmetic is
 * exact); this file is that description in code. Pure: no onnxruntime here, so `spikecap model
 * export-onnx` and the tests can build graphs without loading the runtime.
 */
import type { ReservoirModel } from '../../model/index.js';
import { LIMITS } from '../../model/index.js';
import {
  DataType,
  encodeModel,
  type AttributeSpec,
  type DataTypeId,
  type GraphSpec,
  type NodeSpec,
  type TensorSpec,
  type ValueInfoSpec,
} from './onnx-proto.js';

/** The default ONNX operator set (ai.onnx) the graph imports. */
export const OPSET = 17;
/** ONNX IR version 8 (2021-07-30): the first that opset 17 may be used with. */
export const IR_VERSION = 8;
/**
 * The graph's own version: part of the cache key and of the model's metadata. Bump it whenever
 * this file changes what it builds, so cached graphs of the old shape are not used.
 */
export const GRAPH_VERSION = 1;
/** Every integer of magnitude ≤ 2^24 is a float32; past it, odd integers are not. */
export const FLOAT32_EXACT = 2 ** 24;

/** The element type all arithmetic inside the graph uses. */
export type Arithmetic = 'float32' | 'float64';
/** `auto`: float32 when exact for the model (see accumulatorBound), else float64. */
export type Precision = 'auto' | 'float64';

/** Names of the graph's inputs and outputs (GRAPH.md, "Inputs and outputs"). */
export const IO = {
  input: 'input',
  isyn: 'isyn',
  vmem: 'vmem',
  trace: 'trace',
  spiked: 'spiked',
  features: 'features',
  isynOut: 'isyn_out',
  vmemOut: 'vmem_out',
  traceOut: 'trace_out',
  spikedOut: 'spiked_out',
} as const;

/** Keys of the model's metadata_props. */
export const META = {
  bundle: 'spikecap.bundle_sha256',
  graphVersion: 'spikecap.graph_version',
  arithmetic: 'spikecap.arithmetic',
  recurrent: 'spikecap.recurrent',
  bound: 'spikecap.accumulator_bound',
  graphSha256: 'spikecap.graph_sha256',
} as const;

/**
 * The largest |acc| any neuron of this model can reach in step 1 of "One sub-step" (SPEC.md,
 * "Ranges", computed for the model rather than at the limits): 32768 for |isyn|, plus every
 * incoming synapse's |weight| · 2^shift, input synapses times the largest count (15). Targets
 * are distinct within a row, so each row adds at most one term per neuron.
 *
 * Every partial sum of the graph's accumulation (in whatever order MatMul adds) is an integer
 * no larger in magnitude than this, so float32 arithmetic is exact when it is ≤ 2^24.
 */
export function accumulatorBound(m: ReservoirModel): number {
  const fanIn = new Float64Array(m.neurons);
  const inScale = 2 ** m.weightShiftIn * LIMITS.inputCount;
  const recScale = 2 ** m.weightShiftRec;
  for (let k = 0; k < m.inTarget.length; k++)
    fanIn[m.inTarget[k]!]! += Math.abs(m.inWeight[k]!) * inScale;
  for (let k = 0; k < m.recTarget.length; k++)
    fanIn[m.recTarget[k]!]! += Math.abs(m.recWeight[k]!) * recScale;
  let max = 0;
  for (const v of fanIn) if (v > max) max = v;
  return 32768 + max;
}

/**
 * The arithmetic a model's graph uses: under `auto`, float32 when accumulatorBound ≤ 2^24, else
 * float64. (A forced `float32` is taken as asked, exact or not: the tests use it to show what
 * goes wrong past the bound.)
 */
export function chooseArithmetic(
  m: ReservoirModel,
  precision: Precision | Arithmetic = 'auto',
): { arithmetic: Arithmetic; bound: number } {
  const bound = accumulatorBound(m);
  const arithmetic =
    precision !== 'auto' ? precision : bound > FLOAT32_EXACT ? 'float64' : 'float32';
  return { arithmetic, bound };
}

/**
 * How the recurrent spikes reach their targets (GRAPH.md, "Two ways to add the spikes"):
 * `dense`, a MatMul of the spike vector by the N×N weight matrix, whose cost does not depend on
 * how many neurons spike; `scatter`, the rows of the neurons that spiked added in with
 * ScatterElements, whose cost is (spikes × F). Dense when the matrix is at least a quarter full
 * and at most 512×512 (1 MB of float32: it stays in cache); scatter otherwise.
 */
export type Recurrent = 'dense' | 'scatter';

export function chooseRecurrent(m: Pick<ReservoirModel, 'neurons' | 'fanout'>): Recurrent {
  return m.neurons <= DENSE_MAX_NEURONS && 4 * m.fanout >= m.neurons ? 'dense' : 'scatter';
}

const DENSE_MAX_NEURONS = 512;

export interface BuildOptions {
  readonly precision?: Precision | Arithmetic;
  /** Forces one way of adding the recurrent spikes (default: chooseRecurrent's). */
  readonly recurrent?: Recurrent;
  /** Recorded in the metadata (the cache checks it); the bundle's SHA-256. */
  readonly bundleSha256?: string;
  /** ModelProto.producer_version (default "0"). */
  readonly producerVersion?: string;
}

export interface BuiltGraph {
  /** The serialized ModelProto. */
  readonly bytes: Uint8Array;
  readonly arithmetic: Arithmetic;
  readonly recurrent: Recurrent;
  /** accumulatorBound of the model. */
  readonly bound: number;
  /** Nodes in the main graph and in the Scan body. */
  readonly nodes: { readonly main: number; readonly body: number };
}

/** Names nodes and their outputs, and collects them. */
class Nodes {
  readonly list: NodeSpec[] = [];
  private n = 0;
  constructor(private readonly prefix: string) {}

  /** Adds a node with one output, named `out` or generated; returns the output's name. */
  op(opType: string, inputs: string[], out?: string, attributes?: AttributeSpec[]): string {
    const output = out ?? `${this.prefix}${opType.toLowerCase()}${this.n}`;
    this.add(opType, inputs, [output], attributes);
    return output;
  }

  add(opType: string, inputs: string[], outputs: string[], attributes?: AttributeSpec[]): void {
    this.list.push({
      opType,
      inputs,
      outputs,
      name: `${this.prefix}${opType}_${this.n++}`,
      ...(attributes ? { attributes } : {}),
    });
  }
}

type RawType = 'float32' | 'float64' | 'int32' | 'int64';
const RAW: Record<RawType, { size: number; set: (v: DataView, at: number, x: number) => void }> = {
  float32: { size: 4, set: (v, at, x) => v.setFloat32(at, x, true) },
  float64: { size: 8, set: (v, at, x) => v.setFloat64(at, x, true) },
  int32: { size: 4, set: (v, at, x) => v.setInt32(at, x, true) },
  int64: { size: 8, set: (v, at, x) => v.setBigInt64(at, BigInt(x), true) },
};

/** ONNX raw_data: fixed-width little-endian, whatever the platform's byte order. */
function rawOf(values: ArrayLike<number>, type: RawType): Uint8Array {
  const { size, set } = RAW[type];
  const out = new Uint8Array(values.length * size);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) set(view, i * size, values[i]!);
  return out;
}

/** Builds the graph of `m` (a checked model) and serializes it. */
export function buildReservoirGraph(m: ReservoirModel, options: BuildOptions = {}): BuiltGraph {
  const { neurons: N, inputs: I, fanout: F, substeps: S } = m;
  const { arithmetic, bound } = chooseArithmetic(m, options.precision);
  const recurrent = options.recurrent ?? chooseRecurrent(m);
  /** The element type of all arithmetic. */
  const T: DataTypeId = arithmetic === 'float32' ? DataType.FLOAT : DataType.DOUBLE;
  const to = (type: DataTypeId): AttributeSpec[] => [{ name: 'to', int: type }];
  const axis0: AttributeSpec[] = [{ name: 'axis', int: 0 }];

  // ---- Constants (GRAPH.md, "Constants"): the graph's initializers.
  const inits: TensorSpec[] = [];
  const constant = (name: string, dims: number[], values: ArrayLike<number>): string => {
    inits.push({ name, dataType: T, dims, raw: rawOf(values, arithmetic) });
    return name;
  };
  const integers = (
    name: string,
    type: 'int32' | 'int64',
    dims: number[],
    values: ArrayLike<number>,
  ): string => {
    const dataType = type === 'int32' ? DataType.INT32 : DataType.INT64;
    inits.push({ name, dataType, dims, raw: rawOf(values, type) });
    return name;
  };
  // A synapse table (row = source) as a dense rows × N matrix. Targets are distinct within a
  // row, so each entry is set at most once: one synapse's weight · 2^shift, or 0.
  const densify = (
    rows: number,
    targets: Uint16Array,
    weights: Int8Array,
    scale: number,
  ): Float64Array => {
    const matrix = new Float64Array(rows * N);
    for (let r = 0; r < rows; r++)
      for (let k = r * F; k < (r + 1) * F; k++) matrix[r * N + targets[k]!] = weights[k]! * scale;
    return matrix;
  };
  const scaleIn = 2 ** m.weightShiftIn;
  const scaleRec = 2 ** m.weightShiftRec;
  const W_IN = constant('w_in', [I, N], densify(I, m.inTarget, m.inWeight, scaleIn));
  const W_REC =
    recurrent === 'dense'
      ? constant('w_rec', [N, N], densify(N, m.recTarget, m.recWeight, scaleRec))
      : '';
  // Scatter: the model's own rows, neuron p's F targets and weights · 2^weight_shift_rec.
  const REC_TARGET =
    recurrent === 'scatter' ? integers('rec_target', 'int32', [N, F], m.recTarget) : '';
  const REC_WEIGHT =
    recurrent === 'scatter'
      ? constant(
          'rec_weight',
          [N, F],
          Array.from(m.recWeight, (w) => w * scaleRec),
        )
      : '';
  const SHAPE_FLAT = recurrent === 'scatter' ? integers('shape_flat', 'int64', [1], [-1]) : '';
  const INV_SYN = constant(
    'inv_dash_syn',
    [N],
    Array.from(m.dashSyn, (d) => 2 ** -d),
  );
  const INV_MEM = constant(
    'inv_dash_mem',
    [N],
    Array.from(m.dashMem, (d) => 2 ** -d),
  );
  const BIAS = constant('bias', [N], m.bias);
  const THRESHOLD = constant('threshold', [N], m.threshold);
  const INV_TRACE = constant('inv_trace_dash', [], [2 ** -m.traceDash]);
  const TRACE_SCALE = constant('trace_scale', [], [2 ** m.traceShift]);
  const LO = constant('int16_min', [], [-32768]);
  const HI = constant('int16_max', [], [32767]);
  const ONE = constant('one', [], [1]);
  const COUNT_MAX = constant('count_max', [], [LIMITS.inputCount]);
  const SHAPE_IN = integers('shape_in', 'int64', [2], [-1, I]);
  const SHAPE_CUR = integers('shape_current', 'int64', [2], [-1, S * N]);
  const SPLIT_CUR = S > 1 ? integers('split_current', 'int64', [S], Array(S).fill(N)) : '';

  // ---- The Scan body: one input sample (GRAPH.md, "One sample: the Scan body").
  const b = new Nodes('b.');
  /** SPEC.md "Decay": x − max(floor(x · 2^−d), min(x, 1)). */
  const decay = (x: string, inv: string, out?: string): string => {
    const fl = b.op('Floor', [b.op('Mul', [x, inv])]);
    return b.op('Sub', [x, b.op('Max', [fl, b.op('Min', [x, ONE])])], out);
  };
  const clip16 = (x: string, out?: string): string => b.op('Clip', [x, LO, HI], out);
  /** Step 1 of "One sub-step": isyn + input current + the spikes of the sub-step before. */
  const accumulate = (isyn: string, current: string, spiked: string, s: number): string => {
    if (recurrent === 'dense') {
      const spikes = b.op('Cast', [spiked], `b.spikes${s}`, to(T));
      const rec = b.op('MatMul', [spikes, W_REC], `b.recurrent${s}`);
      return b.op('Sum', [isyn, current, rec], `b.acc${s}`);
    }
    // The rows of the neurons that spiked, flattened, added in where they point.
    const rows = (table: string, what: string): string =>
      b.op('Reshape', [b.op('Compress', [table, spiked], `b.${what}${s}`, axis0), SHAPE_FLAT]);
    return b.op(
      'ScatterElements',
      [b.op('Add', [isyn, current]), rows(REC_TARGET, 'targets'), rows(REC_WEIGHT, 'weights')],
      `b.acc${s}`,
      [...axis0, { name: 'reduction', string: 'add' }],
    );
  };

  // The input current of each sub-step (computed for all of them up front, in the main graph).
  const current = Array.from({ length: S }, (_, s) => `b.current${s}`);
  if (S === 1) b.op('Identity', ['b.current'], current[0]);
  else b.add('Split', ['b.current', SPLIT_CUR], current, axis0);
  let isyn = 'b.isyn';
  let vmem = 'b.vmem';
  let spiked = 'b.spiked'; // bool: who spiked in the sub-step before
  const spikes: string[] = [];
  for (let s = 0; s < S; s++) {
    const last = s === S - 1;
    const acc = accumulate(isyn, current[s]!, spiked, s);
    // 2.1 isyn = decay(sat16(acc), dash_syn)
    isyn = decay(clip16(acc), INV_SYN, last ? 'b.isyn_out' : `b.isyn${s}`);
    // 2.2–2.3 v = sat16(decay(vmem, dash_mem) + isyn + bias)
    const v = clip16(b.op('Sum', [decay(vmem, INV_MEM), isyn, BIAS]), `b.v${s}`);
    // 2.4–2.5 spike where v ≥ threshold, and subtract the threshold there
    spiked = b.op('GreaterOrEqual', [v, THRESHOLD], last ? 'b.spiked_out' : `b.spiked${s}`);
    const spike = b.op('Cast', [spiked], `b.spike${s}`, to(T));
    vmem = b.op('Sub', [v, b.op('Mul', [spike, THRESHOLD])], last ? 'b.vmem_out' : `b.vmem${s}`);
    spikes.push(spike);
  }
  // "One input sample": count; trace = sat16(decay(trace, trace_dash) + count · 2^trace_shift);
  // the features are count, then trace.
  const count = S === 1 ? spikes[0]! : b.op('Sum', spikes, 'b.count');
  const traced = b.op('Add', [decay('b.trace', INV_TRACE), b.op('Mul', [count, TRACE_SCALE])]);
  b.op('Concat', [count, clip16(traced, 'b.trace_out')], 'b.features', axis0);

  const vector = (name: string, type: DataTypeId, length = N): ValueInfoSpec => ({
    name,
    elemType: type,
    shape: [length],
  });
  const body: GraphSpec = {
    name: 'sample',
    nodes: b.list,
    initializers: [],
    inputs: [
      vector('b.isyn', T),
      vector('b.vmem', T),
      vector('b.trace', T),
      vector('b.spiked', DataType.BOOL),
      vector('b.current', T, S * N),
    ],
    outputs: [
      vector('b.isyn_out', T),
      vector('b.vmem_out', T),
      vector('b.trace_out', T),
      vector('b.spiked_out', DataType.BOOL),
      vector('b.features', T, 2 * N),
    ],
  };

  // ---- The main graph (GRAPH.md, "The main graph").
  const g = new Nodes('');
  // Input counts to T, at most 15; the input current of every sub-step of every sample in one
  // MatMul ([samples·S, I] × [I, N]), then one row of S·N values per sample for the Scan.
  const counts = g.op('Min', [g.op('Cast', [IO.input], 'counts_raw', to(T)), COUNT_MAX], 'counts');
  const flat = g.op('Reshape', [counts, SHAPE_IN], 'counts_flat');
  const inCurrent = g.op('MatMul', [flat, W_IN], 'current_flat');
  const perSample = g.op('Reshape', [inCurrent, SHAPE_CUR], 'current');
  // The state to T; spiked to bool, so any non-zero byte is 1.
  const state0 = [
    g.op('Cast', [IO.isyn], 'isyn0', to(T)),
    g.op('Cast', [IO.vmem], 'vmem0', to(T)),
    g.op('Cast', [IO.trace], 'trace0', to(T)),
    g.op('Cast', [IO.spiked], 'spiked0', to(DataType.BOOL)),
  ];
  g.add(
    'Scan',
    [...state0, perSample],
    ['isyn_t', 'vmem_t', 'trace_t', 'spiked_t', 'features_t'],
    [
      { name: 'body', graph: body },
      { name: 'num_scan_inputs', int: 1 },
    ],
  );
  g.op('Cast', ['features_t'], IO.features, to(DataType.INT16));
  g.op('Cast', ['isyn_t'], IO.isynOut, to(DataType.INT16));
  g.op('Cast', ['vmem_t'], IO.vmemOut, to(DataType.INT16));
  g.op('Cast', ['trace_t'], IO.traceOut, to(DataType.INT16));
  g.op('Cast', ['spiked_t'], IO.spikedOut, to(DataType.UINT8));

  const graph: GraphSpec = {
    name: 'spikecap_reservoir',
    docString:
      `spikecap reservoir (native/core/SPEC.md): ${N} neurons, ${I} inputs, fan-out ${F}, ` +
      `${S} sub-steps; ${arithmetic} arithmetic (accumulator bound ${bound}), ` +
      `${recurrent} recurrent spikes`,
    nodes: g.list,
    initializers: inits,
    inputs: [
      { name: IO.input, elemType: DataType.UINT8, shape: ['samples', S, I] },
      vector(IO.isyn, DataType.INT16),
      vector(IO.vmem, DataType.INT16),
      vector(IO.trace, DataType.INT16),
      vector(IO.spiked, DataType.UINT8),
    ],
    outputs: [
      { name: IO.features, elemType: DataType.INT16, shape: ['samples', 2 * N] },
      vector(IO.isynOut, DataType.INT16),
      vector(IO.vmemOut, DataType.INT16),
      vector(IO.traceOut, DataType.INT16),
      vector(IO.spikedOut, DataType.UINT8),
    ],
  };
  const bytes = encodeModel({
    irVersion: IR_VERSION,
    opsets: [{ domain: '', version: OPSET }],
    producerName: 'spikecap',
    producerVersion: options.producerVersion ?? '0',
    docString: 'The spikecap reservoir; agent/backends/onnx/GRAPH.md describes this graph.',
    graph,
    metadata: [
      [META.bundle, options.bundleSha256 ?? ''],
      [META.graphVersion, String(GRAPH_VERSION)],
      [META.arithmetic, arithmetic],
      [META.recurrent, recurrent],
      [META.bound, String(bound)],
    ],
    graphSha256Key: META.graphSha256,
  });
  return {
    bytes,
    arithmetic,
    recurrent,
    bound,
    nodes: { main: g.list.length, body: b.list.length },
  };
}
