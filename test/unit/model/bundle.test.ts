/** The model bundle file (agent/model/BUNDLE.md): layout, round trip, and every refusal. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import {
  BundleError,
  DEFAULT_ENCODER,
  decodeBundle,
  encodeBundle,
  readBundle,
  writeBundle,
  type BundleCheck,
  type ModelBundle,
} from '../../../agent/model/bundle.js';
import { ModelError } from '../../../agent/model/check.js';
import { generateModel } from '../../../agent/model/generate.js';
import type { ReservoirModel } from '../../../agent/model/types.js';
import { tempDir } from '../../helpers/servers.js';

const { model, provenance } = generateModel({ neurons: 40, inputs: 3, fanout: 7, seed: 11 });
const content = { model, encoder: DEFAULT_ENCODER, provenance };
const BYTES = encodeBundle(content);
const FILE = 'config/x.spkb';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** A copy of the bundle with `edit` applied and the hash recomputed, as a careful forger would. */
function forged(edit: (b: Buffer) => void): Buffer {
  const b = Buffer.from(BYTES);
  edit(b);
  createHash('sha256')
    .update(b.subarray(0, b.length - 32))
    .digest()
    .copy(b, b.length - 32);
  return b;
}

/** The header text of BYTES. */
const headerText = BYTES.subarray(20, 20 + BYTES.readUInt32LE(16)).toString('utf8');

/** A copy with the header text replaced by one of the same length, rehashed. */
function withHeader(replace: (text: string) => string): Buffer {
  const text = replace(headerText);
  assert.equal(Buffer.byteLength(text), Buffer.byteLength(headerText), 'same length');
  return forged((b) => b.write(text, 20, 'utf8'));
}

function refused(bytes: Uint8Array, check: BundleCheck, message: string | RegExp): BundleError {
  let caught: unknown;
  try {
    decodeBundle(bytes, FILE);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof BundleError, `expected a BundleError, got ${String(caught)}`);
  assert.equal(caught.code, 'EBUNDLE');
  assert.equal(caught.check, check);
  assert.equal(caught.file, FILE);
  if (typeof message === 'string') assert.equal(caught.message, message);
  else assert.match(caught.message, message);
  return caught;
}

function assertSameModel(a: ReservoirModel, b: ReservoirModel): void {
  for (const key of Object.keys(a) as (keyof ReservoirModel)[]) {
    const x = a[key];
    const y = b[key];
    if (typeof x === 'number') assert.equal(y, x, key);
    else {
      assert.equal((y as object).constructor, x.constructor, key);
      assert.deepEqual(Array.from(y as ArrayLike<number>), Array.from(x), key);
    }
  }
}

test('round trip: the same model, encoder and provenance, and the SHA-256 of the file', () => {
  const b: ModelBundle = decodeBundle(BYTES, FILE);
  assert.equal(b.formatVersion, 1);
  assertSameModel(b.model, model);
  assert.deepEqual(b.encoder, DEFAULT_ENCODER);
  assert.deepEqual(b.provenance, provenance);
  assert.equal(b.sha256, sha256(BYTES.subarray(0, BYTES.length - 32)));
  // Encoding is a function of the content: the decoded bundle encodes to the same bytes.
  assert.deepEqual(encodeBundle(b), BYTES);
  assert.deepEqual(encodeBundle(content), BYTES);
  // Any JSON provenance and any string/number encoder keys are carried verbatim.
  const exotic = {
    model,
    encoder: { scheme: 'rate', gain: -1.5e-3, label: 'héllo ✓' },
    provenance: { nested: { list: [1, 'two', null, true] }, note: 'ünïcode' },
  };
  const back = decodeBundle(encodeBundle(exotic), FILE);
  assert.deepEqual(back.encoder, exotic.encoder);
  assert.deepEqual(back.provenance, exotic.provenance);
});

test('the layout of BUNDLE.md: prefix, JSON header, 8-aligned little-endian arrays, hash', () => {
  const b = BYTES;
  assert.equal(b.toString('ascii', 0, 8), 'SPKCAPMB');
  assert.equal(b.readUInt32LE(8), 1);
  assert.equal(b.readUInt32LE(12), b.length);
  const h = b.readUInt32LE(16);
  const header = JSON.parse(b.toString('utf8', 20, 20 + h)) as Record<string, unknown>;
  assert.deepEqual(header.model, {
    neurons: 40,
    inputs: 3,
    fanout: 7,
    substeps: 4,
    weight_shift_in: model.weightShiftIn,
    weight_shift_rec: model.weightShiftRec,
    trace_dash: model.traceDash,
    trace_shift: model.traceShift,
  });
  assert.deepEqual(header.encoder, DEFAULT_ENCODER);
  assert.deepEqual(header.provenance, provenance);

  // The arrays, worked out from BUNDLE.md: each starts at the next multiple of 8.
  const N = 40;
  const IF = 3 * 7;
  const NF = 40 * 7;
  const up = (x: number): number => Math.ceil(x / 8) * 8;
  const threshold = up(20 + h);
  const bias = up(threshold + 2 * N);
  const dashSyn = up(bias + 2 * N);
  const dashMem = up(dashSyn + N);
  const inTarget = up(dashMem + N);
  const inWeight = up(inTarget + 2 * IF);
  const recTarget = up(inWeight + IF);
  const recWeight = up(recTarget + 2 * NF);
  const hash = up(recWeight + NF);
  assert.equal(b.length, hash + 32);
  for (let i = 0; i < N; i++) {
    assert.equal(b.readInt16LE(threshold + 2 * i), model.threshold[i]);
    assert.equal(b.readInt16LE(bias + 2 * i), model.bias[i]);
    assert.equal(b[dashSyn + i], model.dashSyn[i]);
    assert.equal(b[dashMem + i], model.dashMem[i]);
  }
  for (let k = 0; k < IF; k++) {
    assert.equal(b.readUInt16LE(inTarget + 2 * k), model.inTarget[k]);
    assert.equal(b.readInt8(inWeight + k), model.inWeight[k]);
  }
  for (let k = 0; k < NF; k++) {
    assert.equal(b.readUInt16LE(recTarget + 2 * k), model.recTarget[k]);
    assert.equal(b.readInt8(recWeight + k), model.recWeight[k]);
  }
  // The gaps are zero.
  for (const [from, to] of [
    [20 + h, threshold],
    [recWeight + NF, hash],
  ] as const)
    for (let i = from; i < to; i++) assert.equal(b[i], 0, `padding byte ${i}`);
  assert.equal(b.subarray(hash).toString('hex'), sha256(b.subarray(0, hash)));
});

test('a truncated file is refused, and says how much is there', () => {
  refused(
    BYTES.subarray(0, 1200),
    'truncated',
    `${FILE}: truncated: 1200 of ${BYTES.length} bytes`,
  );
  refused(BYTES.subarray(0, BYTES.length - 1), 'truncated', /truncated: \d+ of \d+ bytes$/);
  refused(
    BYTES.subarray(0, 10),
    'truncated',
    `${FILE}: truncated: 10 bytes, less than the 16-byte prefix of every bundle`,
  );
  refused(new Uint8Array(0), 'truncated', /truncated: 0 bytes/);
});

test('a byte flipped anywhere before the hash is a SHA-256 mismatch', () => {
  const stored = BYTES.subarray(BYTES.length - 32).toString('hex');
  for (const at of [25, 400, BYTES.length - 40, BYTES.length - 33]) {
    const b = Buffer.from(BYTES);
    b[at] = b[at]! ^ 0x10;
    const err = refused(
      b,
      'hash',
      /^config\/x\.spkb: SHA-256 mismatch: the file is corrupted \(expected [0-9a-f]{12}…, computed [0-9a-f]{12}…\)$/,
    );
    assert.ok(err.message.includes(`expected ${stored.slice(0, 12)}…`));
  }
  // ... and so is a flipped bit in the hash itself.
  const b = Buffer.from(BYTES);
  b[b.length - 1] = b[b.length - 1]! ^ 1;
  refused(b, 'hash', /SHA-256 mismatch/);
});

test('wrong magic, an unknown version and trailing data are each refused by name', () => {
  const magic = Buffer.from(BYTES);
  magic.write('PKZIP\0\0\0', 0, 'latin1');
  refused(magic, 'magic', /^config\/x\.spkb: not a spikecap model bundle \(bad magic: starts with/);
  refused(
    Buffer.from('{"model": 1}\n'),
    'magic',
    /bad magic: starts with "\{\\"model\\"", expected "SPKCAPMB"\)$/,
  );

  const v2 = Buffer.from(BYTES);
  v2.writeUInt32LE(2, 8);
  refused(
    v2,
    'version',
    `${FILE}: format version 2 is not supported (this spikecap reads version 1)`,
  );

  const trailing = Buffer.concat([BYTES, Buffer.from('garbage')]);
  refused(
    trailing,
    'length',
    `${FILE}: length: the file is ${BYTES.length + 7} bytes but the bundle says ${BYTES.length} (trailing data)`,
  );
  const tiny = Buffer.from(BYTES.subarray(0, 40));
  tiny.writeUInt32LE(40, 12);
  refused(tiny, 'length', /the bundle says it is 40 bytes, less than the minimum 52/);
});

test('a header that is not what BUNDLE.md says is refused, even with a valid hash', () => {
  refused(
    withHeader((t) => t.replace('{', '[')),
    'header',
    /^config\/x\.spkb: header: not a UTF-8 JSON text/,
  );
  refused(
    withHeader((t) => t.replace('"neurons"', '"neuronz"')),
    'header',
    `${FILE}: header: model.neuronz: unknown parameter`,
  );
  refused(
    withHeader((t) => t.replace('"neurons":40', '"neurons":-4')),
    'header',
    `${FILE}: header: model.neurons: expected a non-negative integer, got -4`,
  );
  refused(
    withHeader((t) => t.replace('"scheme"', '"scheMe"')),
    'header',
    `${FILE}: header: encoder.scheme: expected a non-empty string`,
  );
  refused(
    withHeader((t) => t.replace('"neurons":40', '"neurons":41')),
    'header',
    /header: a model of 41 neurons, 3 inputs and fan-out 7 makes a \d+-byte bundle, but the file is \d+ bytes/,
  );
  refused(
    forged((b) => b.writeUInt32LE(BYTES.length, 16)),
    'header',
    /header: \d+ bytes would run past the end of the file/,
  );
});

test('a model that breaks SPEC.md is refused with checkModel’s message', () => {
  const thresholdAt = Math.ceil((20 + BYTES.readUInt32LE(16)) / 8) * 8;
  const err = refused(
    forged((b) => b.writeInt16LE(0, thresholdAt + 2 * 3)),
    'model',
    `${FILE}: model: threshold[3]: 0 is out of range 1…32767`,
  );
  assert.ok(err.cause instanceof ModelError);
});

test('encodeBundle refuses what it could not read back', () => {
  assert.throws(
    () => encodeBundle({ ...content, model: { ...model, traceShift: 12 } }),
    (err) => err instanceof ModelError && err.message === 'traceShift: 12 is out of range 0…11',
  );
  assert.throws(
    () => encodeBundle({ ...content, encoder: { scheme: '' } }),
    /encoder\.scheme: expected a non-empty string/,
  );
  assert.throws(
    () => encodeBundle({ ...content, encoder: { scheme: 'x', gain: Infinity } }),
    /encoder\.gain: expected a string or a finite number/,
  );
  assert.throws(() => encodeBundle({ ...content, formatVersion: 2 }), RangeError);
});

test('writeBundle replaces the file atomically; readBundle reads it back', () => {
  const tmp = tempDir('bundle');
  try {
    const file = path.join(tmp.dir, 'model.spkb');
    writeFileSync(file, 'old contents');
    const written = writeBundle(file, content);
    assert.equal(written.bytes, BYTES.length);
    assert.equal(written.sha256, decodeBundle(BYTES, FILE).sha256);
    assert.equal(statSync(file).size, BYTES.length);
    assert.deepEqual(readdirSync(tmp.dir), ['model.spkb'], 'no temporary file is left behind');
    const back = readBundle(file);
    assertSameModel(back.model, model);
    assert.equal(back.sha256, written.sha256);

    // A failed write leaves nothing behind, and the error is the file system's.
    assert.throws(() => writeBundle(path.join(tmp.dir, 'missing', 'm.spkb'), content), {
      code: 'ENOENT',
    });
    assert.throws(() => writeBundle(file, { ...content, model: { ...model, neurons: 1 } }));
    assert.deepEqual(readdirSync(tmp.dir), ['model.spkb']);
    assert.equal(readBundle(file).sha256, written.sha256);

    // The file name is in every message.
    writeFileSync(file, BYTES.subarray(0, 100));
    assert.throws(() => readBundle(file), {
      check: 'truncated',
      message: `${file}: truncated: 100 of ${BYTES.length} bytes`,
    });
  } finally {
    tmp.remove();
  }
});
