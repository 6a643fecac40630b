/**
 * The model bundle: one file per model (agent/model/BUNDLE.md describes it for other readers,
 * such as the board firmware). All integers little-endian.
 *
 *     offset   size  field
 *     0        8     magic "SPKCAPMB" (ASCII)
 *     8        4     u32 format version: 1
 *     12       4     u32 L: length of the whole file in bytes, hash included
 *     16       4     u32 H: length of the header in bytes
 *     20       H     header: a UTF-8 JSON object {"model": {...}, "encoder": {...}, "provenance": {...}}
 *     then the arrays, in this order, each starting at an offset that is a multiple of 8 (the
 *     gaps are zero bytes), N = neurons, I = inputs, F = fanout:
 *              2N    threshold   int16[N]
 *              2N    bias        int16[N]
 *              N     dash_syn    uint8[N]
 *              N     dash_mem    uint8[N]
 *              2IF   in_target   uint16[I·F]
 *              IF    in_weight   int8[I·F]
 *              2NF   rec_target  uint16[N·F]
 *              NF    rec_weight  int8[N·F]
 *     then zero bytes up to a multiple of 8, then
 *     L − 32   32    SHA-256 of bytes 0 … L − 33 (everything before it)
 *
 * The header's "model" holds the eight scalars of SPEC.md under SPEC.md's names (neurons,
 * inputs, fanout, substeps, weight_shift_in, weight_shift_rec, trace_dash, trace_shift); the
 * array sizes follow from them. "encoder" is the encoder settings: `scheme` (a string) and any
 * other keys with string or number values, carried verbatim. "provenance" is any JSON object
 * (for generated models: the generator, its options, the seed, the calibration).
 *
 * The first 16 bytes (magic, version, length) keep this meaning in every future version, so a
 * reader can always tell a truncated file and a version it does not know.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../shared/fs.js';
import { checkModel, ModelError } from './check.js';
import type { ReservoirModel } from './types.js';

export const BUNDLE_MAGIC = 'SPKCAPMB';
export const BUNDLE_VERSION = 1;
/** Magic, version and length: the part every version shares. */
const PREFIX_BYTES = 16;
/** The prefix and the header length. */
const FIXED_BYTES = 20;
const HASH_BYTES = 32;
const ALIGN = 8;

export type JsonValue =
  null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** How the forecaster turns series into input spikes; `scheme` names the encoder. */
export interface EncoderSettings {
  readonly scheme: string;
  readonly [key: string]: string | number;
}

export const DEFAULT_ENCODER: EncoderSettings = {
  scheme: 'sigma-delta',
  channels_per_series: 2,
  threshold: 0.5,
};

/** Where a model came from: any JSON object (the generator records GeneratorProvenance). */
export interface Provenance {
  readonly [key: string]: JsonValue;
}

export interface ModelBundle {
  readonly formatVersion: number;
  readonly model: ReservoirModel;
  readonly encoder: EncoderSettings;
  readonly provenance: Provenance;
  /** SHA-256 of the file (the trailing 32 bytes), as 64 hex digits. */
  readonly sha256: string;
}

/** What encodeBundle needs: the hash is computed, the version is always the current one. */
export type BundleContent = Pick<ModelBundle, 'model' | 'encoder' | 'provenance'> &
  Partial<Pick<ModelBundle, 'formatVersion' | 'sha256'>>;

/** The checks of decodeBundle, in the order they run (see BUNDLE.md, "Loading"). */
export type BundleCheck =
  'read' | 'truncated' | 'magic' | 'version' | 'length' | 'hash' | 'header' | 'model';

export class BundleError extends Error {
  readonly code = 'EBUNDLE';
  constructor(
    /** The file (or other source) the bytes came from. */
    readonly file: string,
    /** Which check failed. */
    readonly check: BundleCheck,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${message}`, options);
    this.name = 'BundleError';
  }
}

/** The element types of the arrays: size, and how to read and write one element. */
const ELEMENT = {
  int16: {
    size: 2,
    make: (n: number) => new Int16Array(n),
    get: (v: DataView, at: number) => v.getInt16(at, true),
    set: (v: DataView, at: number, x: number) => v.setInt16(at, x, true),
  },
  uint16: {
    size: 2,
    make: (n: number) => new Uint16Array(n),
    get: (v: DataView, at: number) => v.getUint16(at, true),
    set: (v: DataView, at: number, x: number) => v.setUint16(at, x, true),
  },
  int8: {
    size: 1,
    make: (n: number) => new Int8Array(n),
    get: (v: DataView, at: number) => v.getInt8(at),
    set: (v: DataView, at: number, x: number) => v.setInt8(at, x),
  },
  uint8: {
    size: 1,
    make: (n: number) => new Uint8Array(n),
    get: (v: DataView, at: number) => v.getUint8(at),
    set: (v: DataView, at: number, x: number) => v.setUint8(at, x),
  },
} as const;

/** The arrays of the layout, in file order, with their element type and count. */
function arrays(m: Pick<ReservoirModel, 'neurons' | 'inputs' | 'fanout'>) {
  const n = m.neurons;
  const inF = m.inputs * m.fanout;
  const nF = m.neurons * m.fanout;
  return [
    { name: 'threshold', type: 'int16', count: n },
    { name: 'bias', type: 'int16', count: n },
    { name: 'dashSyn', type: 'uint8', count: n },
    { name: 'dashMem', type: 'uint8', count: n },
    { name: 'inTarget', type: 'uint16', count: inF },
    { name: 'inWeight', type: 'int8', count: inF },
    { name: 'recTarget', type: 'uint16', count: nF },
    { name: 'recWeight', type: 'int8', count: nF },
  ] as const;
}

const align = (offset: number): number => Math.ceil(offset / ALIGN) * ALIGN;

/** Offsets of the arrays and of the hash, for a header of `headerBytes` bytes. */
function layout(m: Pick<ReservoirModel, 'neurons' | 'inputs' | 'fanout'>, headerBytes: number) {
  let offset = FIXED_BYTES + headerBytes;
  const placed = arrays(m).map((a) => {
    offset = align(offset);
    const at = offset;
    offset += ELEMENT[a.type].size * a.count;
    return { ...a, offset: at };
  });
  const hashOffset = align(offset);
  return { arrays: placed, hashOffset, total: hashOffset + HASH_BYTES };
}

/** The header's "model" object: SPEC.md's names, in SPEC.md's order. */
const SCALARS = [
  ['neurons', 'neurons'],
  ['inputs', 'inputs'],
  ['fanout', 'fanout'],
  ['substeps', 'substeps'],
  ['weight_shift_in', 'weightShiftIn'],
  ['weight_shift_rec', 'weightShiftRec'],
  ['trace_dash', 'traceDash'],
  ['trace_shift', 'traceShift'],
] as const;

type Scalars = Pick<ReservoirModel, (typeof SCALARS)[number][1]>;

/** A problem with encoder settings, or undefined. */
function encoderProblem(encoder: unknown): string | undefined {
  if (typeof encoder !== 'object' || encoder === null || Array.isArray(encoder))
    return 'encoder: expected an object';
  const e = encoder as Record<string, unknown>;
  if (typeof e.scheme !== 'string' || e.scheme === '')
    return 'encoder.scheme: expected a non-empty string';
  for (const [key, value] of Object.entries(e)) {
    if (typeof value === 'string') continue;
    if (typeof value !== 'number' || !Number.isFinite(value))
      return `encoder.${key}: expected a string or a finite number, got ${JSON.stringify(value)}`;
  }
  return undefined;
}

/** The bundle's bytes. Throws a ModelError for a model that breaks SPEC.md, a TypeError for bad encoder settings. */
export function encodeBundle(bundle: BundleContent): Buffer {
  if (bundle.formatVersion !== undefined && bundle.formatVersion !== BUNDLE_VERSION)
    throw new RangeError(
      `formatVersion ${bundle.formatVersion}: this spikecap writes version ${BUNDLE_VERSION}`,
    );
  const m = bundle.model;
  checkModel(m);
  const problem = encoderProblem(bundle.encoder);
  if (problem) throw new TypeError(problem);
  if (typeof bundle.provenance !== 'object' || bundle.provenance === null)
    throw new TypeError('provenance: expected an object');

  const header = Buffer.from(
    JSON.stringify({
      model: Object.fromEntries(SCALARS.map(([json, key]) => [json, m[key]])),
      encoder: bundle.encoder,
      provenance: bundle.provenance,
    }),
    'utf8',
  );
  const place = layout(m, header.length);
  const out = Buffer.alloc(place.total); // zero-filled: the padding is zero
  out.write(BUNDLE_MAGIC, 0, 'ascii');
  out.writeUInt32LE(BUNDLE_VERSION, 8);
  out.writeUInt32LE(place.total, 12);
  out.writeUInt32LE(header.length, 16);
  header.copy(out, FIXED_BYTES);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (const a of place.arrays) {
    const { size, set } = ELEMENT[a.type];
    const values = m[a.name];
    for (let i = 0; i < a.count; i++) set(view, a.offset + size * i, values[i]!);
  }
  createHash('sha256')
    .update(out.subarray(0, place.hashOffset))
    .digest()
    .copy(out, place.hashOffset);
  return out;
}

const short = (hex: string): string => `${hex.slice(0, 12)}…`;

function printable(bytes: Uint8Array): string {
  return JSON.stringify(Buffer.from(bytes).toString('latin1'));
}

/**
 * Reads a bundle from its bytes, checking in order: truncated, magic, version, length, hash,
 * header, model (BUNDLE.md, "Loading"). The first failure throws a BundleError naming `source`
 * and the check; nothing partial is returned.
 */
export function decodeBundle(bytes: Uint8Array, source: string): ModelBundle {
  const fail = (check: BundleCheck, message: string, cause?: unknown): never => {
    throw new BundleError(source, check, message, cause === undefined ? undefined : { cause });
  };
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = Buffer.from(BUNDLE_MAGIC, 'ascii');

  // The prefix: magic, version, length. A short file that starts like a bundle is truncated.
  const magicPart = buf.subarray(0, Math.min(buf.length, magic.length));
  const magicOk = magicPart.equals(magic.subarray(0, magicPart.length));
  if (buf.length < PREFIX_BYTES && magicOk)
    fail(
      'truncated',
      `truncated: ${buf.length} bytes, less than the ${PREFIX_BYTES}-byte prefix of every bundle`,
    );
  if (!magicOk || buf.length < PREFIX_BYTES)
    fail(
      'magic',
      `not a spikecap model bundle (bad magic: starts with ${printable(magicPart)}, expected "${BUNDLE_MAGIC}")`,
    );
  const version = buf.readUInt32LE(8);
  if (version !== BUNDLE_VERSION)
    fail(
      'version',
      `format version ${version} is not supported (this spikecap reads version ${BUNDLE_VERSION})`,
    );
  const total = buf.readUInt32LE(12);
  if (buf.length < total) fail('truncated', `truncated: ${buf.length} of ${total} bytes`);
  const minimum = FIXED_BYTES + HASH_BYTES;
  if (total < minimum)
    fail(
      'length',
      `length: the bundle says it is ${total} bytes, less than the minimum ${minimum}`,
    );
  if (buf.length > total)
    fail(
      'length',
      `length: the file is ${buf.length} bytes but the bundle says ${total} (trailing data)`,
    );

  // The hash covers everything before it, so from here on the bytes are what the writer wrote.
  const hashOffset = total - HASH_BYTES;
  const expected = buf.subarray(hashOffset).toString('hex');
  const computed = createHash('sha256').update(buf.subarray(0, hashOffset)).digest('hex');
  if (computed !== expected)
    fail(
      'hash',
      `SHA-256 mismatch: the file is corrupted (expected ${short(expected)}, computed ${short(computed)})`,
    );

  // The header.
  const headerBytes = buf.readUInt32LE(16);
  if (FIXED_BYTES + headerBytes > hashOffset)
    fail('header', `header: ${headerBytes} bytes would run past the end of the file`);
  let header: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(
      buf.subarray(FIXED_BYTES, FIXED_BYTES + headerBytes),
    );
    header = JSON.parse(text);
  } catch (err) {
    fail('header', `header: not a UTF-8 JSON text (${(err as Error).message})`, err);
  }
  const { scalars, encoder, provenance } = readHeader(header, (message) =>
    fail('header', `header: ${message}`),
  );

  const place = layout(scalars, headerBytes);
  if (place.total !== total)
    fail(
      'header',
      `header: a model of ${scalars.neurons} neurons, ${scalars.inputs} inputs and fan-out ${scalars.fanout} makes a ${place.total}-byte bundle, but the file is ${total} bytes`,
    );
  const values: Record<string, ArrayLike<number>> = {};
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (const a of place.arrays) {
    const { size, make, get } = ELEMENT[a.type];
    const array = make(a.count);
    for (let i = 0; i < a.count; i++) array[i] = get(view, a.offset + size * i);
    values[a.name] = array;
  }
  const model = { ...scalars, ...values } as unknown as ReservoirModel;
  try {
    checkModel(model);
  } catch (err) {
    if (err instanceof ModelError) fail('model', `model: ${err.message}`, err);
    throw err;
  }
  return { formatVersion: version, model, encoder, provenance, sha256: expected };
}

/** The header's parts, or `fail` with the first problem. */
function readHeader(
  header: unknown,
  fail: (message: string) => never,
): { scalars: Scalars; encoder: EncoderSettings; provenance: Provenance } {
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(header)) fail('expected a JSON object');
  const m = header.model;
  if (!isObject(m)) fail('model: expected an object');
  const known = new Set<string>(SCALARS.map(([json]) => json));
  for (const key of Object.keys(m)) if (!known.has(key)) fail(`model.${key}: unknown parameter`);
  const scalars = {} as Record<string, number>;
  for (const [json, key] of SCALARS) {
    const v = m[json];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
      fail(`model.${json}: expected a non-negative integer, got ${JSON.stringify(v)}`);
    scalars[key] = v;
  }
  const problem = encoderProblem(header.encoder);
  if (problem) fail(problem);
  if (!isObject(header.provenance)) fail('provenance: expected an object');
  return {
    scalars: scalars as unknown as Scalars,
    encoder: header.encoder as EncoderSettings,
    provenance: header.provenance as Provenance,
  };
}

/** Reads and checks a bundle file (decodeBundle, with the path as the source). */
export function readBundle(file: string): ModelBundle {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new BundleError(file, 'read', `cannot read: ${e.code ?? e.message}`, {
      cause: err,
    });
  }
  return decodeBundle(bytes, file);
}

/**
 * Writes a bundle atomically: to a temporary file in the same directory, flushed to disk, then
 * renamed over `file`; a reader sees the old file or the new one, never half of one.
 */
export function writeBundle(
  file: string,
  bundle: BundleContent,
): { sha256: string; bytes: number } {
  const bytes = encodeBundle(bundle);
  writeFileAtomic(file, bytes, true);
  return { sha256: bytes.subarray(bytes.length - HASH_BYTES).toString('hex'), bytes: bytes.length };
}
