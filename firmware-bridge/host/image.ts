/**
 * The model image (PROTOCOL.md section 6): what UPLOAD sends. The model of a bundle laid out so a
 * small device can use it in place: fixed header, then the arrays with the 16-bit ones first (so
 * every array is aligned to its type when the image is 4-aligned), no padding, little-endian.
 */
import { createHash } from 'node:crypto';
import type { ModelBundle, ReservoirModel } from '../../agent/model/index.js';
import { shaBytes } from './frame.js';

/** The image's magic, ASCII. */
export const IMAGE_MAGIC = 'SCIM';
/** The image layout version this host writes. */
export const IMAGE_VERSION = 1;
/** Bytes before the arrays: magic, version, eight u32 scalars, the bundle's SHA-256. */
export const IMAGE_HEADER_SIZE = 72;

/** The exact size of the image of a model: `72 + 6·N + 3·I·F + 3·N·F`. */
export function imageSize(m: Pick<ReservoirModel, 'neurons' | 'inputs' | 'fanout'>): number {
  return IMAGE_HEADER_SIZE + 6 * m.neurons + 3 * m.inputs * m.fanout + 3 * m.neurons * m.fanout;
}

/**
 * The model image of a bundle. The bundle is trusted to be checked (readBundle and decodeBundle
 * check it); its SHA-256 is carried at offset 40 so `board info` can name the bundle a device
 * runs.
 */
export function modelImage(bundle: ModelBundle): Uint8Array {
  const m = bundle.model;
  const out = Buffer.alloc(imageSize(m));
  out.write(IMAGE_MAGIC, 0, 'ascii');
  out.writeUInt32LE(IMAGE_VERSION, 4);
  const scalars = [
    m.neurons,
    m.inputs,
    m.fanout,
    m.substeps,
    m.weightShiftIn,
    m.weightShiftRec,
    m.traceDash,
    m.traceShift,
  ];
  scalars.forEach((v, i) => out.writeUInt32LE(v, 8 + 4 * i));
  shaBytes(bundle.sha256).copy(out, 40);
  let at = IMAGE_HEADER_SIZE;
  const put16 = (values: Int16Array | Uint16Array, signed: boolean) => {
    for (const v of values) at = signed ? out.writeInt16LE(v, at) : out.writeUInt16LE(v, at);
  };
  const put8 = (values: Int8Array | Uint8Array, signed: boolean) => {
    for (const v of values) at = signed ? out.writeInt8(v, at) : out.writeUInt8(v, at);
  };
  put16(m.threshold, true);
  put16(m.bias, true);
  put16(m.inTarget, false);
  put16(m.recTarget, false);
  put8(m.dashSyn, false);
  put8(m.dashMem, false);
  put8(m.inWeight, true);
  put8(m.recWeight, true);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** The SHA-256 of an image, as 64 hex digits: what UPLOAD_BEGIN announces and HELLO reports. */
export function imageSha256(image: Uint8Array): string {
  return createHash('sha256').update(image).digest('hex');
}

/** The shape an image announces in its header (no other check). */
export interface ImageShape {
  readonly neurons: number;
  readonly inputs: number;
  readonly fanout: number;
  readonly substeps: number;
}

/**
 * Reads the scalars of an image's header, checking its magic, version and exact size; throws a
 * RangeError naming the first problem. The client uses it to learn the shape of what it uploads.
 */
export function imageShape(image: Uint8Array): ImageShape {
  const b = Buffer.from(image.buffer, image.byteOffset, image.byteLength);
  if (b.length < IMAGE_HEADER_SIZE)
    throw new RangeError(
      `model image: ${b.length} bytes, shorter than its ${IMAGE_HEADER_SIZE}-byte header`,
    );
  const magic = b.subarray(0, 4).toString('latin1');
  if (magic !== IMAGE_MAGIC)
    throw new RangeError(
      `model image: bad magic ${JSON.stringify(magic)}, expected "${IMAGE_MAGIC}"`,
    );
  const version = b.readUInt32LE(4);
  if (version !== IMAGE_VERSION)
    throw new RangeError(`model image: version ${version}, this host writes ${IMAGE_VERSION}`);
  const shape = {
    neurons: b.readUInt32LE(8),
    inputs: b.readUInt32LE(12),
    fanout: b.readUInt32LE(16),
    substeps: b.readUInt32LE(20),
  };
  if (b.length !== imageSize(shape))
    throw new RangeError(
      `model image: ${b.length} bytes, but ${shape.neurons} neurons, ${shape.inputs} inputs and fan-out ${shape.fanout} make ${imageSize(shape)}`,
    );
  return shape;
}
