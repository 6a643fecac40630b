/**
 * The protobuf writer and reader of agent/backends/onnx: wire bytes worked out by hand from the
 * encoding guide (https://protobuf.dev/programming-guides/encoding/), and ONNX messages written
 * and read back.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import {
  DataType,
  decodeGraph,
  encodeModel,
  readModelEnvelope,
  type GraphSpec,
} from '../../../agent/backends/onnx/onnx-proto.js';
import {
  ProtoMessage,
  readFields,
  readPackedInts,
  varint,
} from '../../../agent/backends/onnx/protobuf.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

test('varints: the guide examples, 64-bit negatives, and safe integers only', () => {
  assert.equal(hex(varint(0)), '00');
  assert.equal(hex(varint(1)), '01');
  assert.equal(hex(varint(127)), '7f');
  assert.equal(hex(varint(150)), '9601');
  assert.equal(hex(varint(300)), 'ac02');
  assert.equal(hex(varint(2 ** 32)), '8080808010');
  // int64 −1 is ten bytes: nine 0xff and 0x01.
  assert.equal(hex(varint(-1)), 'ffffffffffffffffff01');
  assert.equal(hex(varint(-2n)), 'feffffffffffffffff01');
  assert.throws(() => varint(2 ** 53), RangeError);
  assert.throws(() => varint(1.5), RangeError);
});

test('a message with every wire type written by hand, and read back', () => {
  const inner = new ProtoMessage().int(1, 150);
  const m = new ProtoMessage()
    .int(1, 150) // 08 96 01
    .string(2, 'testing') // 12 07 74 65 73 74 69 6e 67
    .message(3, inner) // 1a 03 08 96 01
    .float(4, 1.5) // 25 00 00 c0 3f
    .packedInts(5, [3, 270, -1]) // 2a 0d 03 8e02 ff…01
    .int(6, -1); // 30 ff…01
  const bytes = m.finish();
  assert.equal(bytes.length, m.length);
  assert.equal(
    hex(bytes),
    '089601' +
      '120774657374696e67' +
      '1a03089601' +
      '250000c03f' +
      '2a0d038e02ffffffffffffffffff01' +
      '30ffffffffffffffffff01',
  );
  const f = readFields(bytes);
  assert.deepEqual(
    f.map((x) => [x.field, x.wire]),
    [
      [1, 0],
      [2, 2],
      [3, 2],
      [4, 5],
      [5, 2],
      [6, 0],
    ],
  );
  assert.equal(f[0]!.value, 150n);
  assert.equal(Buffer.from(f[1]!.value as Uint8Array).toString(), 'testing');
  assert.deepEqual(readFields(f[2]!.value as Uint8Array)[0]!.value, 150n);
  assert.deepEqual(readPackedInts(f[4]!.value as Uint8Array), [3n, 270n, -1n]);
  assert.equal(BigInt.asIntN(64, f[5]!.value as bigint), -1n);
});

test('the reader refuses truncated and malformed input', () => {
  const bytes = new ProtoMessage().string(2, 'testing').finish();
  assert.throws(() => readFields(bytes.subarray(0, 5)), /runs past the end/);
  assert.throws(() => readFields(Uint8Array.of(0x08, 0x96)), /truncated varint/);
  assert.throws(() => readFields(Uint8Array.of(0x0b)), /unsupported wire type 3/);
  assert.throws(() => readFields(Uint8Array.of(0x00)), /field number 0/);
});

test('an ONNX model written and read back: envelope, graph, nested graph, attributes', () => {
  const body: GraphSpec = {
    name: 'inner',
    nodes: [{ opType: 'Identity', inputs: ['x'], outputs: ['y'], name: 'id' }],
    initializers: [],
    inputs: [{ name: 'x', elemType: DataType.FLOAT, shape: [3] }],
    outputs: [{ name: 'y', elemType: DataType.FLOAT, shape: [3] }],
  };
  const graph: GraphSpec = {
    name: 'outer',
    docString: 'a test graph',
    nodes: [
      {
        opType: 'Scan',
        inputs: ['a'],
        outputs: ['b'],
        name: 'scan',
        attributes: [
          { name: 'body', graph: body },
          { name: 'num_scan_inputs', int: 1 },
          { name: 'perm', ints: [1, 0, -1] },
          { name: 'alpha', float: 0.25 },
          { name: 'mode', string: 'add' },
        ],
      },
    ],
    initializers: [
      {
        name: 'w',
        dataType: DataType.INT64,
        dims: [2, 1],
        raw: new Uint8Array(new BigInt64Array([-1n, 7n]).buffer),
      },
    ],
    inputs: [{ name: 'a', elemType: DataType.UINT8, shape: ['samples', 4] }],
    outputs: [{ name: 'b', elemType: DataType.INT16, shape: ['samples', 8] }],
  };
  const bytes = encodeModel({
    irVersion: 8,
    opsets: [{ domain: '', version: 17 }],
    producerName: 'spikecap',
    producerVersion: '0',
    graph,
    metadata: [['k', 'v']],
    graphSha256Key: 'graph_sha256',
  });
  const env = readModelEnvelope(bytes);
  assert.equal(env.irVersion, 8);
  assert.deepEqual(env.opsets, [{ domain: '', version: 17 }]);
  assert.equal(env.producerName, 'spikecap');
  assert.equal(env.metadata.get('k'), 'v');
  assert.equal(
    env.metadata.get('graph_sha256'),
    createHash('sha256').update(env.graph).digest('hex'),
  );
  const back = decodeGraph(env.graph);
  assert.equal(back.name, 'outer');
  assert.equal(back.docString, 'a test graph');
  assert.deepEqual(back.inputs, graph.inputs);
  assert.deepEqual(back.outputs, graph.outputs);
  assert.deepEqual(back.initializers, graph.initializers);
  const scan = back.nodes[0]!;
  assert.deepEqual(
    [scan.opType, scan.inputs, scan.outputs, scan.name],
    ['Scan', ['a'], ['b'], 'scan'],
  );
  assert.deepEqual(scan.attributes!.slice(1), graph.nodes[0]!.attributes!.slice(1));
  const inner = scan.attributes![0]!;
  assert.ok('graph' in inner);
  assert.deepEqual(inner.graph.nodes, [{ ...body.nodes[0], attributes: [] }]);
  assert.deepEqual(inner.graph.inputs, body.inputs);
});
