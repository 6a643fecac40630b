/**
 * The ONNX messages spikecap writes (ModelProto, GraphProto, NodeProto, TensorProto,
 * ValueInfoProto, AttributeProto, OperatorSetIdProto, StringStringEntryProto, TypeProto,
 * TensorShapeProto) as plain values, their encoders, and a decoder for the same subset.
 * Field numbers are those of onnx/onnx.proto (proto2, package onnx), cited at each use as
 * `Message.field = number`; they have not changed since IR version 3.
 */
import { createHash } from 'node:crypto';
import { asInt64, ProtoMessage, readFields, readPackedInts, type ProtoField } from './protobuf.js';

/** TensorProto.DataType values used here (onnx.proto, enum TensorProto.DataType). */
export const DataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  DOUBLE: 11,
} as const;
export type DataTypeId = (typeof DataType)[keyof typeof DataType];

/** AttributeProto.AttributeType values (onnx.proto, enum AttributeProto.AttributeType). */
const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, INTS: 7 } as const;

/** A constant tensor (an initializer), its elements little-endian in `raw`. */
export interface TensorSpec {
  readonly name: string;
  readonly dataType: DataTypeId;
  readonly dims: readonly number[];
  readonly raw: Uint8Array;
}

/** A graph input or output: a tensor type with a shape (a number, or a symbolic name). */
export interface ValueInfoSpec {
  readonly name: string;
  readonly elemType: DataTypeId;
  readonly shape: readonly (number | string)[];
}

export type AttributeSpec =
  | { readonly name: string; readonly int: number }
  | { readonly name: string; readonly ints: readonly number[] }
  | { readonly name: string; readonly float: number }
  | { readonly name: string; readonly string: string }
  | { readonly name: string; readonly tensor: TensorSpec }
  | { readonly name: string; readonly graph: GraphSpec };

export interface NodeSpec {
  readonly opType: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly name?: string;
  readonly attributes?: readonly AttributeSpec[];
}

export interface GraphSpec {
  readonly name: string;
  readonly nodes: readonly NodeSpec[];
  readonly initializers: readonly TensorSpec[];
  readonly inputs: readonly ValueInfoSpec[];
  readonly outputs: readonly ValueInfoSpec[];
  readonly docString?: string;
}

export interface ModelSpec {
  readonly irVersion: number;
  /** Operator sets: `domain` "" is the default ONNX domain (ai.onnx). */
  readonly opsets: readonly { readonly domain: string; readonly version: number }[];
  readonly producerName: string;
  readonly producerVersion: string;
  readonly docString?: string;
  readonly graph: GraphSpec;
  /** ModelProto.metadata_props, in this order. */
  readonly metadata: readonly (readonly [string, string])[];
  /**
   * If set, one more metadata_props entry under this key: the SHA-256 (hex) of the GraphProto's
   * bytes, so that a reader can tell an intact graph from a damaged one.
   */
  readonly graphSha256Key?: string;
}

function tensorMessage(t: TensorSpec): ProtoMessage {
  const m = new ProtoMessage();
  m.packedInts(1, t.dims); // TensorProto.dims = 1 (repeated int64, packed)
  m.int(2, t.dataType); // TensorProto.data_type = 2
  m.string(8, t.name); // TensorProto.name = 8
  m.bytes(9, t.raw); // TensorProto.raw_data = 9 (fixed-width little-endian)
  return m;
}

function valueInfoMessage(v: ValueInfoSpec): ProtoMessage {
  const shape = new ProtoMessage();
  for (const d of v.shape) {
    const dim = new ProtoMessage();
    if (typeof d === 'number')
      dim.int(1, d); // TensorShapeProto.Dimension.dim_value = 1
    else dim.string(2, d); // TensorShapeProto.Dimension.dim_param = 2
    shape.message(1, dim); // TensorShapeProto.dim = 1
  }
  const tensor = new ProtoMessage()
    .int(1, v.elemType) // TypeProto.Tensor.elem_type = 1
    .message(2, shape); // TypeProto.Tensor.shape = 2
  const type = new ProtoMessage().message(1, tensor); // TypeProto.tensor_type = 1
  return new ProtoMessage()
    .string(1, v.name) // ValueInfoProto.name = 1
    .message(2, type); // ValueInfoProto.type = 2
}

function attributeMessage(a: AttributeSpec): ProtoMessage {
  const m = new ProtoMessage().string(1, a.name); // AttributeProto.name = 1
  // AttributeProto.type = 20 must name the one value field that is set (IR version ≥ 2).
  if ('int' in a)
    m.int(20, AttributeType.INT).int(3, a.int); // AttributeProto.i = 3
  else if ('ints' in a)
    m.int(20, AttributeType.INTS).packedInts(8, a.ints); // AttributeProto.ints = 8
  else if ('float' in a)
    m.int(20, AttributeType.FLOAT).float(2, a.float); // AttributeProto.f = 2
  else if ('string' in a)
    m.int(20, AttributeType.STRING).string(4, a.string); // AttributeProto.s = 4
  else if ('tensor' in a)
    m.int(20, AttributeType.TENSOR).message(5, tensorMessage(a.tensor)); // AttributeProto.t = 5
  else m.int(20, AttributeType.GRAPH).message(6, graphMessage(a.graph)); // AttributeProto.g = 6
  return m;
}

function nodeMessage(n: NodeSpec): ProtoMessage {
  const m = new ProtoMessage();
  for (const i of n.inputs) m.string(1, i); // NodeProto.input = 1
  for (const o of n.outputs) m.string(2, o); // NodeProto.output = 2
  if (n.name !== undefined) m.string(3, n.name); // NodeProto.name = 3
  m.string(4, n.opType); // NodeProto.op_type = 4
  for (const a of n.attributes ?? []) m.message(5, attributeMessage(a)); // NodeProto.attribute = 5
  return m;
}

function graphMessage(g: GraphSpec): ProtoMessage {
  const m = new ProtoMessage();
  for (const n of g.nodes) m.message(1, nodeMessage(n)); // GraphProto.node = 1
  m.string(2, g.name); // GraphProto.name = 2
  for (const t of g.initializers) m.message(5, tensorMessage(t)); // GraphProto.initializer = 5
  if (g.docString !== undefined) m.string(10, g.docString); // GraphProto.doc_string = 10
  for (const v of g.inputs) m.message(11, valueInfoMessage(v)); // GraphProto.input = 11
  for (const v of g.outputs) m.message(12, valueInfoMessage(v)); // GraphProto.output = 12
  return m;
}

/** The serialized ModelProto (an `.onnx` file). */
export function encodeModel(spec: ModelSpec): Uint8Array {
  const m = new ProtoMessage();
  m.int(1, spec.irVersion); // ModelProto.ir_version = 1
  m.string(2, spec.producerName); // ModelProto.producer_name = 2
  m.string(3, spec.producerVersion); // ModelProto.producer_version = 3
  if (spec.docString !== undefined) m.string(6, spec.docString); // ModelProto.doc_string = 6
  const graph = graphMessage(spec.graph);
  m.message(7, graph); // ModelProto.graph = 7
  for (const o of spec.opsets) {
    const op = new ProtoMessage()
      .string(1, o.domain) // OperatorSetIdProto.domain = 1
      .int(2, o.version); // OperatorSetIdProto.version = 2
    m.message(8, op); // ModelProto.opset_import = 8
  }
  const metadata = [...spec.metadata];
  if (spec.graphSha256Key !== undefined) {
    const h = createHash('sha256');
    graph.forEachChunk((c) => h.update(c));
    metadata.push([spec.graphSha256Key, h.digest('hex')]);
  }
  for (const [key, value] of metadata) {
    const e = new ProtoMessage()
      .string(1, key) // StringStringEntryProto.key = 1
      .string(2, value); // StringStringEntryProto.value = 2
    m.message(14, e); // ModelProto.metadata_props = 14
  }
  return m.finish();
}

// ---- Reading back: the same subset, for checking a cached file and for tests. ----

const utf8 = (b: Uint8Array): string => new TextDecoder('utf-8', { fatal: true }).decode(b);

function lenField(f: ProtoField, what: string): Uint8Array {
  if (f.wire !== 2)
    throw new RangeError(`onnx: ${what} (field ${f.field}) is not length-delimited`);
  return f.value;
}

function intField(f: ProtoField, what: string): number {
  if (f.wire !== 0) throw new RangeError(`onnx: ${what} (field ${f.field}) is not a varint`);
  return Number(asInt64(f.value));
}

/** The top level of a ModelProto: what the cache checks before trusting a file. */
export interface ModelEnvelope {
  readonly irVersion: number;
  readonly opsets: { domain: string; version: number }[];
  readonly producerName: string;
  readonly metadata: Map<string, string>;
  /** The GraphProto's bytes, as stored. */
  readonly graph: Uint8Array;
}

export function readModelEnvelope(bytes: Uint8Array): ModelEnvelope {
  let irVersion = 0;
  let producerName = '';
  let graph: Uint8Array | undefined;
  const opsets: { domain: string; version: number }[] = [];
  const metadata = new Map<string, string>();
  for (const f of readFields(bytes)) {
    if (f.field === 1) irVersion = intField(f, 'ir_version');
    else if (f.field === 2) producerName = utf8(lenField(f, 'producer_name'));
    else if (f.field === 7) graph = lenField(f, 'graph');
    else if (f.field === 8) {
      const o = { domain: '', version: 0 };
      for (const g of readFields(lenField(f, 'opset_import'))) {
        if (g.field === 1) o.domain = utf8(lenField(g, 'domain'));
        else if (g.field === 2) o.version = intField(g, 'version');
      }
      opsets.push(o);
    } else if (f.field === 14) {
      let key = '';
      let value = '';
      for (const g of readFields(lenField(f, 'metadata_props'))) {
        if (g.field === 1) key = utf8(lenField(g, 'key'));
        else if (g.field === 2) value = utf8(lenField(g, 'value'));
      }
      metadata.set(key, value);
    }
  }
  if (graph === undefined) throw new RangeError('onnx: the model has no graph');
  return { irVersion, opsets, producerName, metadata, graph };
}

function readTensor(bytes: Uint8Array): TensorSpec {
  let name = '';
  let dataType = 0;
  const dims: number[] = [];
  let raw: Uint8Array = new Uint8Array(0);
  for (const f of readFields(bytes)) {
    if (f.field === 1) {
      if (f.wire === 2) dims.push(...readPackedInts(f.value).map(Number));
      else dims.push(intField(f, 'dims'));
    } else if (f.field === 2) dataType = intField(f, 'data_type');
    else if (f.field === 8) name = utf8(lenField(f, 'name'));
    else if (f.field === 9) raw = lenField(f, 'raw_data');
  }
  return { name, dataType: dataType as DataTypeId, dims, raw };
}

function readValueInfo(bytes: Uint8Array): ValueInfoSpec {
  let name = '';
  let elemType = 0;
  const shape: (number | string)[] = [];
  for (const f of readFields(bytes)) {
    if (f.field === 1) name = utf8(lenField(f, 'name'));
    else if (f.field === 2) {
      for (const t of readFields(lenField(f, 'type'))) {
        if (t.field !== 1) continue; // tensor_type
        for (const tt of readFields(lenField(t, 'tensor_type'))) {
          if (tt.field === 1) elemType = intField(tt, 'elem_type');
          else if (tt.field === 2)
            for (const d of readFields(lenField(tt, 'shape'))) {
              for (const dv of readFields(lenField(d, 'dim'))) {
                if (dv.field === 1) shape.push(intField(dv, 'dim_value'));
                else if (dv.field === 2) shape.push(utf8(lenField(dv, 'dim_param')));
              }
            }
        }
      }
    }
  }
  return { name, elemType: elemType as DataTypeId, shape };
}

function readAttribute(bytes: Uint8Array): AttributeSpec {
  let name = '';
  let value: Omit<AttributeSpec, 'name'> | undefined;
  const ints: number[] = [];
  for (const f of readFields(bytes)) {
    if (f.field === 1) name = utf8(lenField(f, 'name'));
    else if (f.field === 2 && f.wire === 5)
      value = { float: new DataView(f.value.buffer, f.value.byteOffset, 4).getFloat32(0, true) };
    else if (f.field === 3) value = { int: intField(f, 'i') };
    else if (f.field === 4) value = { string: utf8(lenField(f, 's')) };
    else if (f.field === 5) value = { tensor: readTensor(lenField(f, 't')) };
    else if (f.field === 6) value = { graph: decodeGraph(lenField(f, 'g')) };
    else if (f.field === 8) {
      if (f.wire === 2) ints.push(...readPackedInts(f.value).map(Number));
      else ints.push(intField(f, 'ints'));
      value = { ints };
    }
  }
  if (value === undefined) throw new RangeError(`onnx: attribute "${name}" has no value`);
  return { name, ...value } as AttributeSpec;
}

function readNode(bytes: Uint8Array): NodeSpec {
  let opType = '';
  let name: string | undefined;
  const inputs: string[] = [];
  const outputs: string[] = [];
  const attributes: AttributeSpec[] = [];
  for (const f of readFields(bytes)) {
    if (f.field === 1) inputs.push(utf8(lenField(f, 'input')));
    else if (f.field === 2) outputs.push(utf8(lenField(f, 'output')));
    else if (f.field === 3) name = utf8(lenField(f, 'name'));
    else if (f.field === 4) opType = utf8(lenField(f, 'op_type'));
    else if (f.field === 5) attributes.push(readAttribute(lenField(f, 'attribute')));
  }
  return { opType, inputs, outputs, attributes, ...(name !== undefined ? { name } : {}) };
}

/** A GraphProto's nodes, initializers, inputs and outputs (the fields encodeModel writes). */
export function decodeGraph(bytes: Uint8Array): GraphSpec {
  let name = '';
  let docString: string | undefined;
  const nodes: NodeSpec[] = [];
  const initializers: TensorSpec[] = [];
  const inputs: ValueInfoSpec[] = [];
  const outputs: ValueInfoSpec[] = [];
  for (const f of readFields(bytes)) {
    if (f.field === 1) nodes.push(readNode(lenField(f, 'node')));
    else if (f.field === 2) name = utf8(lenField(f, 'name'));
    else if (f.field === 5) initializers.push(readTensor(lenField(f, 'initializer')));
    else if (f.field === 10) docString = utf8(lenField(f, 'doc_string'));
    else if (f.field === 11) inputs.push(readValueInfo(lenField(f, 'input')));
    else if (f.field === 12) outputs.push(readValueInfo(lenField(f, 'output')));
  }
  return {
    name,
    nodes,
    initializers,
    inputs,
    outputs,
    ...(docString !== undefined ? { docString } : {}),
  };
}
