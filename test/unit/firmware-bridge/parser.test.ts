/** The frame splitter (firmware-bridge/host/parser.ts): chunking, garbage, bad frames, limits. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import {
  FrameDecoder,
  FrameParser,
  MessageType,
  cobsMaxEncodedLength,
  encodeFrame,
  maxFrameSize,
  type Frame,
} from '../../../firmware-bridge/host/index.js';

const frame = (seq: number, payload: Uint8Array = Uint8Array.of(seq & 0xff, 0, 7)): Frame => ({
  version: 1,
  type: MessageType.PING | 0x80,
  seq,
  flags: 0,
  boot: 0x01020304,
  payload,
});
const wire = (f: Frame, leadingZero = false) => encodeFrame(f, { leadingZero });
const seqs = (frames: Frame[]) => frames.map((f) => f.seq);

function feed(decoder: FrameDecoder, ...chunks: Uint8Array[]): Frame[] {
  const out: Frame[] = [];
  for (const c of chunks) decoder.feed(c, (f) => out.push(f));
  return out;
}

test('two frames in one chunk', () => {
  const d = new FrameDecoder();
  const got = feed(d, Buffer.concat([wire(frame(1)), wire(frame(2))]));
  assert.deepEqual(seqs(got), [1, 2]);
  assert.deepEqual([...got[0]!.payload], [1, 0, 7]);
  assert.deepEqual(d.counters, {
    framesIn: 2,
    bytesIn: 2 * wire(frame(1)).length,
    crcErrors: 0,
    framingErrors: 0,
    resyncs: 0,
    discardedBytes: 0,
  });
});

test('one frame across many 1-byte chunks', () => {
  const d = new FrameDecoder({ maxPayload: 1000 });
  const bytes = wire(
    frame(
      9,
      new Uint8Array(700).map((_, i) => i % 3),
    ),
    true,
  );
  const got: Frame[] = [];
  for (let i = 0; i < bytes.length; i++) {
    d.feed(bytes.subarray(i, i + 1), (f) => got.push(f));
    assert.equal(got.length, i === bytes.length - 1 ? 1 : 0, `after byte ${i}`);
  }
  assert.equal(got[0]!.payload.length, 700);
});

test('garbage between frames costs nothing but the garbage, and counts one resync', () => {
  const d = new FrameDecoder();
  const garbage = Buffer.from('line noise \x01\x02\xff', 'latin1');
  const got = feed(
    d,
    Buffer.concat([wire(frame(1)), garbage, Buffer.of(0), wire(frame(2)), garbage]),
    Buffer.of(0),
    wire(frame(3), true),
  );
  assert.deepEqual(seqs(got), [1, 2, 3]);
  assert.equal(d.counters.framingErrors, 2, 'each garbage run is one bad frame');
  assert.equal(d.counters.resyncs, 2);
  assert.equal(d.counters.discardedBytes, 2 * garbage.length);
});

test('garbage glued to a frame (a lost delimiter) costs that frame only', () => {
  const d = new FrameDecoder();
  const got = feed(d, Buffer.concat([Buffer.from('xyz'), wire(frame(1)), wire(frame(2))]));
  assert.deepEqual(seqs(got), [2]);
  assert.equal(d.counters.framingErrors + d.counters.crcErrors, 1);
  assert.equal(d.counters.resyncs, 1);
});

test('bad CRCs are dropped and counted as CRC errors; empty frames are ignored', () => {
  const d = new FrameDecoder();
  const bad = Buffer.from(wire(frame(1)));
  bad[3] = bad[3] === 0x55 ? 0x56 : 0x55; // a data byte of the COBS body, still non-zero
  const got = feed(d, Buffer.of(0, 0, 0), bad, wire(frame(2)), Buffer.of(0, 0));
  assert.deepEqual(seqs(got), [2]);
  assert.equal(d.counters.crcErrors, 1);
  assert.equal(d.counters.framingErrors, 0);
});

test('an oversize frame is dropped without buffering it whole, and the next one is good', () => {
  const d = new FrameDecoder({ maxPayload: 256 });
  const cap = cobsMaxEncodedLength(maxFrameSize(256));
  const huge = wire(frame(1, new Uint8Array(5000).fill(0x42)));
  const got = feed(d, huge.subarray(0, 3000), huge.subarray(3000), wire(frame(2)));
  assert.deepEqual(seqs(got), [2]);
  assert.equal(d.counters.framingErrors, 1, 'counted once');
  assert.equal(d.counters.resyncs, 1);
  assert.equal(d.counters.discardedBytes, huge.length - 1);
  // Just over the limit, in one piece, and exactly at it.
  assert.deepEqual(seqs(feed(d, wire(frame(3, new Uint8Array(257))))), []);
  assert.deepEqual(seqs(feed(d, wire(frame(4, new Uint8Array(256).fill(1))))), [4]);
  assert.ok(wire(frame(4, new Uint8Array(256).fill(1))).length - 1 <= cap);
});

test('raising maxPayload mid-frame keeps the frame; lowering it below drops it', () => {
  const d = new FrameDecoder();
  const big = wire(frame(1, new Uint8Array(1000).fill(3)));
  const got = feed(d, big.subarray(0, 200));
  d.maxPayload = 2000;
  got.push(...feed(d, big.subarray(200)));
  assert.deepEqual(seqs(got), [1]);
  const again = feed(d, big.subarray(0, 600));
  d.maxPayload = 256;
  again.push(...feed(d, big.subarray(600), wire(frame(2))));
  assert.deepEqual(seqs(again), [2]);
  assert.throws(() => (d.maxPayload = 70000), /maxPayload: 70000/);
});

test('FrameParser: a Transform from bytes to frames that never errors on its input', async () => {
  const p = new FrameParser();
  const got: Frame[] = [];
  p.on('data', (f: Frame) => got.push(f));
  p.write(Buffer.concat([wire(frame(1)), Buffer.from('junk')]));
  p.write(Buffer.of(0xff, 0xff, 0xff, 0xff, 0x00));
  p.write(wire(frame(2)).subarray(0, 5));
  p.write(wire(frame(2)).subarray(5));
  p.write(Buffer.from('partial at the end'));
  p.end();
  await once(p, 'end');
  assert.deepEqual(seqs(got), [1, 2]);
  assert.equal(p.counters.framingErrors, 1, '"junk" and the 0xff bytes are one body');
  assert.equal(p.counters.resyncs, 1);
  assert.equal(p.counters.discardedBytes, 4 + 4 + 'partial at the end'.length);
});
