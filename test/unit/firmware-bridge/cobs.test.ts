/** COBS (firmware-bridge/host/cobs.ts): the published vectors, round trips, malformed input. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  cobsDecode,
  cobsEncode,
  cobsMaxEncodedLength,
} from '../../../firmware-bridge/host/index.js';

const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);
const hex = (bytes: Uint8Array | number[]): string => Buffer.from(bytes).toString('hex');

// The examples of Cheshire and Baker's encoding as usually published (data → encoded, without
// the trailing delimiter). The 254-byte runs are the corner cases: a block of 0xFF implies no
// zero, and a run that ends the data needs no empty block after it.
const VECTORS: [number[], number[]][] = [
  [[], [0x01]],
  [[0x00], [0x01, 0x01]],
  [
    [0x00, 0x00],
    [0x01, 0x01, 0x01],
  ],
  [
    [0x00, 0x11, 0x00],
    [0x01, 0x02, 0x11, 0x01],
  ],
  [
    [0x11, 0x22, 0x00, 0x33],
    [0x03, 0x11, 0x22, 0x02, 0x33],
  ],
  [
    [0x11, 0x22, 0x33, 0x44],
    [0x05, 0x11, 0x22, 0x33, 0x44],
  ],
  [
    [0x11, 0x00, 0x00, 0x00],
    [0x02, 0x11, 0x01, 0x01, 0x01],
  ],
  [range(0x01, 0xfe), [0xff, ...range(0x01, 0xfe)]],
  [range(0x00, 0xfe), [0x01, 0xff, ...range(0x01, 0xfe)]],
  [range(0x01, 0xff), [0xff, ...range(0x01, 0xfe), 0x02, 0xff]],
  [
    [...range(0x02, 0xff), 0x00],
    [0xff, ...range(0x02, 0xff), 0x01, 0x01],
  ],
  [
    [...range(0x03, 0xff), 0x00, 0x01],
    [0xfe, ...range(0x03, 0xff), 0x02, 0x01],
  ],
];

test('encodes and decodes the published vectors', () => {
  for (const [data, encoded] of VECTORS) {
    assert.equal(hex(cobsEncode(Uint8Array.from(data))), hex(encoded), `encode ${hex(data)}`);
    assert.equal(hex(cobsDecode(Uint8Array.from(encoded))!), hex(data), `decode ${hex(encoded)}`);
  }
});

test('decodes the longer form that ends a 254-byte run with an empty block', () => {
  const data = range(0x01, 0xfe);
  assert.equal(hex(cobsDecode(Uint8Array.from([0xff, ...data, 0x01]))!), hex(data));
});

test('round trip, no zero in the encoding, within the size bound', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 1200 }),
        // Long runs without zeros, and zeros at the 254 boundaries, are where COBS goes wrong.
        fc
          .array(fc.integer({ min: 0, max: 600 }), { maxLength: 6 })
          .map((runs) =>
            Uint8Array.from(runs.flatMap((n) => [...new Array<number>(n).fill(0x5a), 0])),
          ),
      ),
      (data) => {
        const encoded = cobsEncode(data);
        assert.equal(encoded.indexOf(0), -1);
        assert.ok(encoded.length <= cobsMaxEncodedLength(data.length));
        assert.equal(hex(cobsDecode(encoded)!), hex(data));
      },
    ),
    { numRuns: 500 },
  );
});

test('malformed encodings decode to undefined, never throw', () => {
  assert.equal(cobsDecode(Uint8Array.of(0x00)), undefined, 'a zero code byte');
  assert.equal(cobsDecode(Uint8Array.of(0x03, 0x11)), undefined, 'a block past the end');
  assert.equal(cobsDecode(Uint8Array.of(0x03, 0x11, 0x00)), undefined, 'a zero inside a block');
  assert.equal(hex(cobsDecode(new Uint8Array(0))!), '', 'empty is empty');
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (junk) => {
      const out = cobsDecode(junk);
      if (out) assert.ok(out.length <= junk.length);
    }),
    { numRuns: 2000 },
  );
});
