/** The canonical state encoding of SPEC.md, "State": 7·N bytes, little-endian. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decodeState,
  encodeState,
  encodeStateInto,
  zeroState,
} from '../../../agent/model/state.js';
import { stateBytes } from '../../../agent/model/types.js';

test('the byte layout: isyn, vmem, trace as int16 LE, then spiked one byte each', () => {
  const bytes = encodeState({
    isyn: Int16Array.of(1, -2),
    vmem: Int16Array.of(0x1234, -32768),
    trace: Int16Array.of(32767, 0),
    spiked: Uint8Array.of(1, 0),
  });
  assert.equal(bytes.length, stateBytes(2));
  // prettier-ignore
  assert.deepEqual(Array.from(bytes), [
    0x01, 0x00, 0xfe, 0xff, // isyn 1, −2
    0x34, 0x12, 0x00, 0x80, // vmem 0x1234, −32768
    0xff, 0x7f, 0x00, 0x00, // trace 32767, 0
    0x01, 0x00, //             spiked
  ]);
});

test('decode(encode(s)) is s; any non-zero spiked byte reads as 1 and writes back as 1', () => {
  const n = 5;
  const s = {
    isyn: Int16Array.of(-32768, -1, 0, 1, 32767),
    vmem: Int16Array.of(300, -300, 7, -7, 0),
    trace: Int16Array.of(0, 1, 2, 3, 32767),
    spiked: Uint8Array.of(0, 1, 1, 0, 1),
  };
  assert.deepEqual(decodeState(encodeState(s), n), s);

  const bytes = encodeState(s);
  bytes[6 * n + 0] = 0xff;
  bytes[6 * n + 3] = 2;
  const d = decodeState(bytes, n);
  assert.deepEqual(Array.from(d.spiked), [1, 1, 1, 1, 1]);
  assert.deepEqual(Array.from(encodeState(d).subarray(6 * n)), [1, 1, 1, 1, 1]);
});

test('encoding and decoding work on a view into a larger, unaligned buffer', () => {
  const s = {
    isyn: Int16Array.of(-5, 6),
    vmem: Int16Array.of(7, -8),
    trace: Int16Array.of(9, 10),
    spiked: Uint8Array.of(0, 1),
  };
  const big = new Uint8Array(1 + 14 + 3);
  const view = big.subarray(1, 15);
  encodeStateInto(s, view);
  assert.deepEqual(view, encodeState(s));
  assert.deepEqual(decodeState(view, 2), s);
});

test('a buffer of any other length than 7·N is refused with a RangeError', () => {
  assert.throws(() => decodeState(new Uint8Array(13), 2), {
    name: 'RangeError',
    message: /a state of 2 neurons is 14 bytes \(7·N\), got 13/,
  });
  assert.throws(() => decodeState(new Uint8Array(15), 2), RangeError);
  assert.throws(() => encodeStateInto(zeroState(2), new Uint8Array(7)), RangeError);
  assert.deepEqual(decodeState(new Uint8Array(14), 2), zeroState(2));
});
