/** Frames and payloads (firmware-bridge/host/frame.ts), and the model image (image.ts). */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { crc32 } from 'node:zlib';
import {
  ErrorCode,
  HELLO_SIZE,
  MessageType,
  PayloadError,
  cobsDecode,
  cobsEncode,
  decodeError,
  decodeFrameBody,
  decodeHello,
  decodeOffset,
  decodeStats,
  decodeStepResponse,
  encodeError,
  encodeFrame,
  encodeHello,
  encodeStats,
  encodeStep,
  encodeUploadBegin,
  encodeUploadChunk,
  errorName,
  imageSha256,
  imageShape,
  imageSize,
  messageTypeName,
  modelImage,
  type Frame,
  type HelloInfo,
} from '../../../firmware-bridge/host/index.js';
import { bundleOf, randomModel } from '../../helpers/models.js';

const frame = (over: Partial<Frame> = {}): Frame => ({
  version: 1,
  type: MessageType.STEP,
  seq: 0x1234,
  flags: 0,
  boot: 0xdeadbeef,
  payload: Uint8Array.of(1, 0, 2, 3),
  ...over,
});

/** The bytes between the delimiters of an encoded frame. */
const body = (wire: Buffer): Buffer => {
  const start = wire[0] === 0 ? 1 : 0;
  assert.equal(wire[wire.length - 1], 0, 'a frame ends with its delimiter');
  return wire.subarray(start, wire.length - 1);
};

test('the CRC is CRC-32 of IEEE 802.3 and zlib: check value 0xCBF43926', () => {
  assert.equal(crc32(Buffer.from('123456789', 'ascii')), 0xcbf43926);
});

test('the wire layout: header fields little-endian, payload, CRC of both, COBS, delimiter', () => {
  const wire = encodeFrame(frame());
  const raw = cobsDecode(body(wire))!;
  // prettier-ignore
  assert.deepEqual([...raw.subarray(0, 12)], [
    1, 0x05, //                   version, type
    0x34, 0x12, 0x04, 0x00, //    seq, length
    0x00, 0x00, //                flags
    0xef, 0xbe, 0xad, 0xde, //    boot
  ]);
  assert.deepEqual([...raw.subarray(12, 16)], [1, 0, 2, 3]);
  assert.equal(raw.readUInt32LE(16), crc32(raw.subarray(0, 16)));
  assert.equal(raw.length, 20);
  assert.equal(body(wire).indexOf(0), -1, 'no zero inside the body');
  const led = encodeFrame(frame(), { leadingZero: true });
  assert.equal(led[0], 0);
  assert.deepEqual(led.subarray(1), wire);
});

test('decode(encode(frame)) is the frame', () => {
  for (const f of [
    frame(),
    frame({ payload: new Uint8Array(0), seq: 0, boot: 0 }),
    frame({ type: 0xff, seq: 0xffff, flags: 0xffff, boot: 0xffffffff, version: 7 }),
    frame({ payload: new Uint8Array(8192).fill(0) }),
  ]) {
    const r = decodeFrameBody(body(encodeFrame(f)), 8192);
    assert.ok(r.ok, `decoded: ${r.ok ? '' : r.reason}`);
    assert.deepEqual(
      { ...r.frame, payload: [...r.frame.payload] },
      { ...f, payload: [...f.payload] },
    );
  }
});

test('a receiver drops what it cannot trust, and says why', () => {
  const raw = cobsDecode(body(encodeFrame(frame())))!;
  const reencode = (bytes: Uint8Array) => cobsEncode(bytes);
  const reason = (b: Uint8Array, max?: number) => {
    const r = decodeFrameBody(b, max);
    return r.ok ? 'ok' : r.reason;
  };
  assert.equal(reason(Uint8Array.of(0x03, 0x11)), 'cobs');
  assert.equal(reason(reencode(raw.subarray(0, 15))), 'short');
  const flipped = Buffer.from(raw);
  flipped[13]! ^= 0x10;
  assert.equal(reason(reencode(flipped)), 'crc');
  // A length field that disagrees with the size, with a CRC that matches: a writer's bug.
  const lying = Buffer.from(raw);
  lying.writeUInt16LE(3, 4);
  lying.writeUInt32LE(crc32(lying.subarray(0, 16)), 16);
  assert.equal(reason(reencode(lying)), 'length');
  assert.equal(reason(body(encodeFrame(frame({ payload: new Uint8Array(300) }))), 256), 'oversize');
  assert.equal(reason(body(encodeFrame(frame({ payload: new Uint8Array(256) }))), 256), 'ok');
});

test('encodeFrame refuses fields out of range (a caller bug, not a link error)', () => {
  assert.throws(() => encodeFrame(frame({ seq: 0x10000 })), /seq: 65536/);
  assert.throws(() => encodeFrame(frame({ boot: -1 })), /boot/);
  assert.throws(() => encodeFrame(frame({ payload: new Uint8Array(0x10000) })), /length/);
});

test('names of types and errors', () => {
  assert.equal(messageTypeName(0x05), 'STEP');
  assert.equal(messageTypeName(0x85), 'STEP response');
  assert.equal(messageTypeName(0xff), 'ERROR');
  assert.equal(messageTypeName(0x42), '0x42');
  assert.equal(errorName(1), 'E_VERSION');
  assert.equal(errorName(14), 'E_INTERNAL');
  assert.equal(errorName(15), undefined);
  assert.equal(Object.keys(ErrorCode).length, 14);
});

const hello: HelloInfo = {
  protoMajor: 1,
  protoMinor: 0,
  bootId: 0x89abcdef,
  firmware: { major: 0, minor: 1, patch: 2, name: 'spikecap-test' },
  limits: {
    maxPayload: 4096,
    maxNeurons: 512,
    maxInputs: 16,
    maxFanout: 64,
    maxSubsteps: 4,
    maxImage: 104520,
    rxWindow: 3,
  },
  modelLoaded: true,
  modelSha256: 'ab'.repeat(32),
  upload: { active: true, offset: 1000, sha256: 'cd'.repeat(32) },
};

test('HELLO: the layout of section 3.1, extra bytes ignored, short or invalid refused', () => {
  const b = encodeHello(hello);
  assert.equal(b.length, HELLO_SIZE);
  assert.equal(b.readUInt32LE(4), 0x89abcdef);
  assert.equal(b.readUInt16LE(14), 4096);
  assert.equal(b.readUInt32LE(24), 104520);
  assert.equal(b[28], 1);
  assert.equal(b[29], 1);
  assert.equal(b.readUInt16LE(30), 3);
  assert.equal(b.readUInt32LE(32), 1000);
  assert.equal(b.subarray(36, 68).toString('hex'), 'ab'.repeat(32));
  assert.equal(b.subarray(68, 100).toString('hex'), 'cd'.repeat(32));
  assert.equal(b.subarray(100, 113).toString('latin1'), 'spikecap-test');
  assert.deepEqual(decodeHello(b), hello);
  assert.deepEqual(decodeHello(Buffer.concat([b, Buffer.from('later fields')])), hello);
  // A 1.0 device has 0 where 1.1 puts rx_window: one request in flight.
  const v10 = Buffer.from(b);
  v10.writeUInt16LE(0, 30);
  assert.equal(decodeHello(v10).limits.rxWindow, 1);
  assert.throws(() => decodeHello(b.subarray(0, 131)), PayloadError);
  const zeroBoot = Buffer.from(b);
  zeroBoot.writeUInt32LE(0, 4);
  assert.throws(() => decodeHello(zeroBoot), /boot_id is 0/);
  const small = Buffer.from(b);
  small.writeUInt16LE(255, 14);
  assert.throws(() => decodeHello(small), /max_payload 255/);
});

test('STATS, ERROR, offsets and requests', () => {
  const stats = {
    rxFrames: 1,
    txFrames: 2,
    rxBytes: 3,
    txBytes: 4,
    crcErrors: 5,
    framingErrors: 6,
    duplicates: 7,
    errorsSent: 8,
    steps: 9,
    uptimeMs: 0xffffffff,
  };
  assert.deepEqual(decodeStats(encodeStats(stats)), stats);
  assert.equal(encodeStats(stats).readUInt32LE(36), 0xffffffff, 'uptime_ms is the tenth');
  assert.throws(() => decodeStats(new Uint8Array(39)), /STATS response: 39 payload bytes/);

  const e = decodeError(encodeError(ErrorCode.E_OFFSET, 4096, 'chunk past the data'));
  assert.deepEqual(e, { code: 8, name: 'E_OFFSET', detail: 4096, text: 'chunk past the data' });
  assert.equal(decodeError(encodeError(99, 0, '')).name, undefined);
  assert.throws(() => decodeError(new Uint8Array(7)), PayloadError);

  assert.equal(decodeOffset(Uint8Array.of(0x00, 0x10, 0, 0), 'x'), 4096);
  const begin = encodeUploadBegin(104520, 'ef'.repeat(32));
  assert.equal(begin.length, 36);
  assert.equal(begin.readUInt32LE(0), 104520);
  assert.equal(begin.subarray(4).toString('hex'), 'ef'.repeat(32));
  assert.deepEqual([...encodeUploadChunk(258, Uint8Array.of(9, 8))], [2, 1, 0, 0, 9, 8]);
  assert.deepEqual([...encodeStep(2, Uint8Array.of(1, 2, 3))], [2, 0, 1, 2, 3]);
});

test('STEP answers: spikes, then int16 features; the length must be exact', () => {
  const p = Buffer.alloc(4 + 2 * 2 * 2 * 2);
  p.writeUInt32LE(7, 0);
  [1, -2, 3, -32768, 32767, 0, 5, 6].forEach((v, i) => p.writeInt16LE(v, 4 + 2 * i));
  const r = decodeStepResponse(p, 2, 2);
  assert.equal(r.spikes, 7);
  assert.deepEqual([...r.features], [1, -2, 3, -32768, 32767, 0, 5, 6]);
  assert.throws(() => decodeStepResponse(p, 2, 3), /expected 28/);
  assert.throws(() => decodeStepResponse(Buffer.concat([p, Buffer.of(0)]), 2, 2), PayloadError);
});

test('the model image: the layout of section 6, and its hash', () => {
  const bundle = bundleOf(randomModel({ neurons: 6, inputs: 2, fanout: 3, substeps: 2, seed: 3 }));
  const m = bundle.model;
  const img = Buffer.from(modelImage(bundle));
  assert.equal(img.length, 72 + 6 * 6 + 3 * 2 * 3 + 3 * 6 * 3);
  assert.equal(img.length, imageSize(m));
  assert.equal(img.subarray(0, 4).toString('ascii'), 'SCIM');
  assert.equal(img.readUInt32LE(4), 1);
  const scalars = [6, 2, 3, 2, m.weightShiftIn, m.weightShiftRec, m.traceDash, m.traceShift];
  assert.deepEqual(
    scalars.map((_, i) => img.readUInt32LE(8 + 4 * i)),
    scalars,
  );
  assert.equal(img.subarray(40, 72).toString('hex'), bundle.sha256);
  let at = 72;
  const read16 = (n: number, signed: boolean) =>
    Array.from({ length: n }, () => {
      const v = signed ? img.readInt16LE(at) : img.readUInt16LE(at);
      at += 2;
      return v;
    });
  const read8 = (n: number, signed: boolean) =>
    Array.from({ length: n }, () => (signed ? img.readInt8(at++) : img.readUInt8(at++)));
  assert.deepEqual(read16(6, true), [...m.threshold]);
  assert.deepEqual(read16(6, true), [...m.bias]);
  assert.deepEqual(read16(6, false), [...m.inTarget]);
  assert.deepEqual(read16(18, false), [...m.recTarget]);
  assert.deepEqual(read8(6, false), [...m.dashSyn]);
  assert.deepEqual(read8(6, false), [...m.dashMem]);
  assert.deepEqual(read8(6, true), [...m.inWeight]);
  assert.deepEqual(read8(18, true), [...m.recWeight]);
  assert.equal(at, img.length);
  assert.equal(imageSha256(img), createHash('sha256').update(img).digest('hex'));
  assert.deepEqual(imageShape(img), { neurons: 6, inputs: 2, fanout: 3, substeps: 2 });
  assert.throws(
    () => imageShape(img.subarray(0, img.length - 1)),
    /179 bytes, but 6 neurons, 2 inputs and fan-out 3 make 180/,
  );
  const bad = Buffer.from(img);
  bad.write('XCIM', 0, 'ascii');
  assert.throws(() => imageShape(bad), /bad magic/);
});
