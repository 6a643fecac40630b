/**
 * Frames and payloads of the spikecap serial protocol (firmware-bridge/PROTOCOL.md, which is
 * normative; section numbers below refer to it). Everything here is pure: bytes in, values out.
 *
 * A frame on the wire is `COBS(header ‖ payload ‖ crc) ‖ 0x00`, optionally preceded by a lone
 * `0x00` that cuts off garbage a receiver may hold. All integers are little-endian.
 */
import { crc32 } from 'node:zlib';
import { cobsDecode, cobsEncodeInto, cobsMaxEncodedLength } from './cobs.js';

/** The protocol major version this host speaks (the header's `version`). */
export const PROTOCOL_VERSION = 1;
/** Header bytes: version, type, seq, length, flags, boot. */
export const HEADER_SIZE = 12;
/** The CRC-32 after the payload. */
export const CRC_SIZE = 4;
/** The shortest valid decoded frame: a header and a CRC, no payload. */
export const MIN_FRAME_SIZE = HEADER_SIZE + CRC_SIZE;
/** The payload every device accepts, and the size a host assumes before HELLO (section 1). */
export const DEFAULT_MAX_PAYLOAD = 256;
/** The largest payload the u16 `length` field can describe. */
export const MAX_PAYLOAD_FIELD = 0xffff;
/** A response's type is its request's type with this bit set (section 3). */
export const RESPONSE_FLAG = 0x80;

/** Message types (section 3). A response is `type | RESPONSE_FLAG`, or `ERROR`. */
export const MessageType = {
  HELLO: 0x01,
  UPLOAD_BEGIN: 0x02,
  UPLOAD_CHUNK: 0x03,
  UPLOAD_DONE: 0x04,
  STEP: 0x05,
  GET_STATE: 0x06,
  SET_STATE: 0x07,
  RESET: 0x08,
  STATS: 0x09,
  PING: 0x0a,
  ERROR: 0xff,
} as const;

/** The name of a message type, as PROTOCOL.md spells it. */
export type MessageTypeName = keyof typeof MessageType;
/** A request's type: every message type but ERROR. */
export type RequestType = Exclude<(typeof MessageType)[MessageTypeName], 0xff>;

const typeNames = new Map<number, MessageTypeName>(
  Object.entries(MessageType).map(([name, code]) => [code, name as MessageTypeName]),
);

/**
 * A readable name for a frame's type byte, for messages and logs: `STEP`, `STEP response`,
 * `ERROR`, or the hex value of a type this host does not know.
 */
export function messageTypeName(type: number): string {
  const direct = typeNames.get(type);
  if (direct) return direct;
  const request = type & RESPONSE_FLAG ? typeNames.get(type & ~RESPONSE_FLAG) : undefined;
  if (request && request !== 'ERROR') return `${request} response`;
  return `0x${type.toString(16).padStart(2, '0')}`;
}

/** Error codes of an ERROR response (section 7). */
export const ErrorCode = {
  E_VERSION: 1,
  E_TYPE: 2,
  E_LENGTH: 3,
  E_BOOT: 4,
  E_NOMODEL: 5,
  E_LIMIT: 6,
  E_TOOBIG: 7,
  E_OFFSET: 8,
  E_NOUPLOAD: 9,
  E_INCOMPLETE: 10,
  E_HASH: 11,
  E_MODEL: 12,
  E_STATE: 13,
  E_INTERNAL: 14,
} as const;

/** The name of a known error code (`E_VERSION` … `E_INTERNAL`). */
export type ErrorName = keyof typeof ErrorCode;

const errorNames = new Map<number, ErrorName>(
  Object.entries(ErrorCode).map(([name, code]) => [code, name as ErrorName]),
);

/** The name of an error code, or `undefined` for a code this host does not know (a fault). */
export function errorName(code: number): ErrorName | undefined {
  return errorNames.get(code);
}

/** One frame, decoded. `length` is not kept: it is the payload's length. */
export interface Frame {
  /** Protocol major version (1). */
  readonly version: number;
  /** Message type (see {@link MessageType}). */
  readonly type: number;
  /** Sequence number; a response carries its request's. */
  readonly seq: number;
  /** 0 in version 1; receivers ignore bits they do not know. */
  readonly flags: number;
  /** Device→host: the device's boot id. Host→device: the boot id of the last HELLO, or 0. */
  readonly boot: number;
  readonly payload: Uint8Array;
}

/** The decoded size of a frame with `maxPayload` bytes of payload. */
export function maxFrameSize(maxPayload: number): number {
  return MIN_FRAME_SIZE + maxPayload;
}

/**
 * The most bytes a frame with a payload of `payloadLength` bytes occupies on the wire: the COBS
 * encoding, the delimiter and the optional leading `0x00`. What timeouts are computed from.
 */
export function wireSize(payloadLength: number): number {
  return cobsMaxEncodedLength(maxFrameSize(payloadLength)) + 2;
}

function checkField(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max)
    throw new RangeError(`frame ${name}: ${value} is not an integer in 0…${max}`);
}

/**
 * The wire bytes of a frame: `COBS(header ‖ payload ‖ crc) ‖ 0x00`, with a leading `0x00` when
 * `leadingZero` is set (a host sends one before every request, so a receiver that holds garbage,
 * say after a dropped delimiter, does not glue it to this frame). Throws a RangeError for a
 * field out of range: that is a bug in the caller, not a link error.
 */
export function encodeFrame(frame: Frame, options: { leadingZero?: boolean } = {}): Buffer {
  checkField('version', frame.version, 0xff);
  checkField('type', frame.type, 0xff);
  checkField('seq', frame.seq, 0xffff);
  checkField('flags', frame.flags, 0xffff);
  checkField('boot', frame.boot, 0xffffffff);
  checkField('length', frame.payload.length, MAX_PAYLOAD_FIELD);
  const header = Buffer.allocUnsafe(HEADER_SIZE);
  header.writeUInt8(frame.version, 0);
  header.writeUInt8(frame.type, 1);
  header.writeUInt16LE(frame.seq, 2);
  header.writeUInt16LE(frame.payload.length, 4);
  header.writeUInt16LE(frame.flags, 6);
  header.writeUInt32LE(frame.boot, 8);
  const crc = Buffer.allocUnsafe(CRC_SIZE);
  crc.writeUInt32LE(crc32(frame.payload, crc32(header)), 0);
  // Header, payload and CRC are encoded straight into the wire buffer: an upload chunk's
  // payload is not copied into a frame first.
  const lead = options.leadingZero ? 1 : 0;
  const out = Buffer.allocUnsafe(
    lead + cobsMaxEncodedLength(MIN_FRAME_SIZE + frame.payload.length) + 1,
  );
  if (lead) out[0] = 0;
  const end = cobsEncodeInto([header, frame.payload, crc], out, lead);
  out[end] = 0;
  return out.subarray(0, end + 1);
}

/**
 * Why a received frame was dropped (section 1): its COBS decoding failed (`cobs`), it is shorter
 * than a header and a CRC (`short`), its CRC does not match (`crc`), its `length` field disagrees
 * with its size (`length`), or it is longer than the largest frame the receiver accepts
 * (`oversize`). Only `crc` counts as a CRC error; the others are framing errors (section 5).
 */
export type FrameRejection = 'cobs' | 'short' | 'crc' | 'length' | 'oversize';

/** What {@link decodeFrameBody} found: a frame, or why there is none. */
export type FrameDecodeResult =
  | { readonly ok: true; readonly frame: Frame }
  | { readonly ok: false; readonly reason: FrameRejection };

/**
 * Decodes one frame body: the bytes between two delimiters, without them. Checks, in order:
 * oversize (before decoding, from the encoded size), COBS, short, oversize (decoded), CRC,
 * length. The payload of the result is a fresh buffer (it does not alias `body`). Never throws.
 *
 * @param maxPayload the largest payload accepted: the peer's `max_payload` (default: what the
 *   `length` field can describe).
 */
export function decodeFrameBody(
  body: Uint8Array,
  maxPayload: number = MAX_PAYLOAD_FIELD,
): FrameDecodeResult {
  const maxFrame = maxFrameSize(maxPayload);
  if (body.length > cobsMaxEncodedLength(maxFrame)) return { ok: false, reason: 'oversize' };
  const raw = cobsDecode(body);
  if (!raw) return { ok: false, reason: 'cobs' };
  if (raw.length < MIN_FRAME_SIZE) return { ok: false, reason: 'short' };
  if (raw.length > maxFrame) return { ok: false, reason: 'oversize' };
  const end = raw.length - CRC_SIZE;
  if (crc32(raw.subarray(0, end)) !== raw.readUInt32LE(end)) return { ok: false, reason: 'crc' };
  if (raw.readUInt16LE(4) !== end - HEADER_SIZE) return { ok: false, reason: 'length' };
  return {
    ok: true,
    frame: {
      version: raw.readUInt8(0),
      type: raw.readUInt8(1),
      seq: raw.readUInt16LE(2),
      flags: raw.readUInt16LE(6),
      boot: raw.readUInt32LE(8),
      payload: raw.subarray(HEADER_SIZE, end),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Payloads (section 3). Decoders of device answers throw a PayloadError for an answer that
// cannot be right; encoders of requests throw a RangeError for arguments out of range.

/** A device answer whose payload cannot be right (too short, inconsistent). */
export class PayloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PayloadError';
  }
}

function need(payload: Uint8Array, bytes: number, what: string, exact = false): Buffer {
  if (payload.length < bytes || (exact && payload.length !== bytes))
    throw new PayloadError(
      `${what}: ${payload.length} payload bytes, expected ${exact ? '' : 'at least '}${bytes}`,
    );
  return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
}

/** Bytes of a SHA-256. */
export const SHA256_SIZE = 32;
const ZERO_SHA = '0'.repeat(2 * SHA256_SIZE);

/** The 32 bytes of a SHA-256 given as 64 hex digits. */
export function shaBytes(hex: string): Buffer {
  if (!/^[0-9a-fA-F]{64}$/.test(hex))
    throw new RangeError(`a SHA-256 is 64 hex digits, got ${JSON.stringify(hex)}`);
  return Buffer.from(hex, 'hex');
}

/** What a device says about itself in its HELLO response (section 3.1). */
export interface HelloInfo {
  readonly protoMajor: number;
  readonly protoMinor: number;
  /** Random, new on every reset, never 0. */
  readonly bootId: number;
  readonly firmware: {
    readonly major: number;
    readonly minor: number;
    readonly patch: number;
    /** ASCII, NUL padding removed. */
    readonly name: string;
  };
  readonly limits: {
    /** At least 256. */
    readonly maxPayload: number;
    readonly maxNeurons: number;
    readonly maxInputs: number;
    readonly maxFanout: number;
    readonly maxSubsteps: number;
    /** The largest model image (section 6) the device holds. */
    readonly maxImage: number;
    /**
     * UPLOAD_CHUNK requests the host may have in flight (protocol 1.1, section 4.1); 1 for a
     * 1.0 device, whose HELLO has 0 there.
     */
    readonly rxWindow: number;
  };
  readonly modelLoaded: boolean;
  /** SHA-256 of the loaded image, 64 hex digits (all zeros when none is loaded). */
  readonly modelSha256: string;
  readonly upload: {
    readonly active: boolean;
    /** Bytes received of the upload in progress. */
    readonly offset: number;
    /** SHA-256 of the upload in progress, 64 hex digits (all zeros when none). */
    readonly sha256: string;
  };
}

/** Bytes of a version 1.0 HELLO response; later minor versions may append fields. */
export const HELLO_SIZE = 132;

/**
 * Decodes a HELLO response. All fields of 1.0 are required (PROTOCOL.md gives no defaults for
 * missing HELLO fields); bytes past them are ignored (section 2). Throws a PayloadError.
 */
export function decodeHello(payload: Uint8Array): HelloInfo {
  const b = need(payload, HELLO_SIZE, 'HELLO response');
  const nameBytes = b.subarray(100, 132);
  const nul = nameBytes.indexOf(0);
  const info: HelloInfo = {
    protoMajor: b.readUInt16LE(0),
    protoMinor: b.readUInt16LE(2),
    bootId: b.readUInt32LE(4),
    firmware: {
      major: b.readUInt16LE(8),
      minor: b.readUInt16LE(10),
      patch: b.readUInt16LE(12),
      name: nameBytes.subarray(0, nul < 0 ? nameBytes.length : nul).toString('latin1'),
    },
    limits: {
      maxPayload: b.readUInt16LE(14),
      maxNeurons: b.readUInt16LE(16),
      maxInputs: b.readUInt16LE(18),
      maxFanout: b.readUInt16LE(20),
      maxSubsteps: b.readUInt16LE(22),
      maxImage: b.readUInt32LE(24),
      rxWindow: Math.max(1, b.readUInt16LE(30)),
    },
    modelLoaded: b.readUInt8(28) !== 0,
    modelSha256: b.subarray(36, 68).toString('hex'),
    upload: {
      active: b.readUInt8(29) !== 0,
      offset: b.readUInt32LE(32),
      sha256: b.subarray(68, 100).toString('hex'),
    },
  };
  if (info.bootId === 0)
    throw new PayloadError('HELLO response: boot_id is 0, which is never valid');
  if (info.limits.maxPayload < DEFAULT_MAX_PAYLOAD)
    throw new PayloadError(
      `HELLO response: max_payload ${info.limits.maxPayload} is below the minimum ${DEFAULT_MAX_PAYLOAD}`,
    );
  return info;
}

/** The HELLO response payload for `info` (what a device sends; for tests and simulators). */
export function encodeHello(info: HelloInfo): Buffer {
  const b = Buffer.alloc(HELLO_SIZE);
  b.writeUInt16LE(info.protoMajor, 0);
  b.writeUInt16LE(info.protoMinor, 2);
  b.writeUInt32LE(info.bootId, 4);
  b.writeUInt16LE(info.firmware.major, 8);
  b.writeUInt16LE(info.firmware.minor, 10);
  b.writeUInt16LE(info.firmware.patch, 12);
  b.writeUInt16LE(info.limits.maxPayload, 14);
  b.writeUInt16LE(info.limits.maxNeurons, 16);
  b.writeUInt16LE(info.limits.maxInputs, 18);
  b.writeUInt16LE(info.limits.maxFanout, 20);
  b.writeUInt16LE(info.limits.maxSubsteps, 22);
  b.writeUInt32LE(info.limits.maxImage, 24);
  b.writeUInt8(info.modelLoaded ? 1 : 0, 28);
  b.writeUInt8(info.upload.active ? 1 : 0, 29);
  b.writeUInt16LE(info.limits.rxWindow, 30);
  b.writeUInt32LE(info.upload.offset, 32);
  shaBytes(info.modelSha256 || ZERO_SHA).copy(b, 36);
  shaBytes(info.upload.sha256 || ZERO_SHA).copy(b, 68);
  b.write(info.firmware.name.slice(0, 32), 100, 'latin1');
  return b;
}

/** UPLOAD_BEGIN request: u32 `size`, the image's SHA-256 (64 hex digits). */
export function encodeUploadBegin(size: number, sha256: string): Buffer {
  checkField('UPLOAD_BEGIN size', size, 0xffffffff);
  const b = Buffer.alloc(4 + SHA256_SIZE);
  b.writeUInt32LE(size, 0);
  shaBytes(sha256).copy(b, 4);
  return b;
}

/** UPLOAD_CHUNK request: u32 `offset`, then the bytes. */
export function encodeUploadChunk(offset: number, bytes: Uint8Array): Buffer {
  checkField('UPLOAD_CHUNK offset', offset, 0xffffffff);
  const b = Buffer.allocUnsafe(4 + bytes.length);
  b.writeUInt32LE(offset, 0);
  b.set(bytes, 4);
  return b;
}

/** The u32 `offset` of an UPLOAD_BEGIN or UPLOAD_CHUNK response. Throws a PayloadError. */
export function decodeOffset(payload: Uint8Array, what: string): number {
  return need(payload, 4, what).readUInt32LE(0);
}

/** The SHA-256 (64 hex digits) of an UPLOAD_DONE response. Throws a PayloadError. */
export function decodeSha256(payload: Uint8Array, what: string): string {
  return need(payload, SHA256_SIZE, what).subarray(0, SHA256_SIZE).toString('hex');
}

/** STEP request: u16 `samples`, then `samples·S·I` input counts. */
export function encodeStep(samples: number, input: Uint8Array): Buffer {
  checkField('STEP samples', samples, 0xffff);
  if (samples < 1) throw new RangeError('STEP samples: at least 1');
  const b = Buffer.allocUnsafe(2 + input.length);
  b.writeUInt16LE(samples, 0);
  b.set(input, 2);
  return b;
}

/** Whether typed arrays are little-endian here, as the wire is. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** What a STEP response carries. */
export interface StepResult {
  /** Spikes in these samples. */
  readonly spikes: number;
  /** `samples·2·N` values: per sample, N spike counts then N traces. */
  readonly features: Int16Array;
}

/** Payload bytes of a STEP response for `samples` samples of an `neurons`-neuron model. */
export function stepResponseSize(samples: number, neurons: number): number {
  return 4 + samples * 4 * neurons;
}

/**
 * Decodes a STEP response for `samples` samples of an `neurons`-neuron model. The length must be
 * exact: the features are an array whose size follows from the request and the model, so any
 * other length means the device runs something else than the host thinks (a PayloadError).
 */
export function decodeStepResponse(
  payload: Uint8Array,
  samples: number,
  neurons: number,
): StepResult {
  const b = need(
    payload,
    stepResponseSize(samples, neurons),
    `STEP response for ${samples} sample(s) of ${neurons} neurons`,
    true,
  );
  const features = new Int16Array(samples * 2 * neurons);
  if (LITTLE_ENDIAN) {
    // The wire's order is the host's: one copy of the bytes (the payload may sit at an odd
    // offset, so it cannot be viewed as int16 in place).
    new Uint8Array(features.buffer).set(b.subarray(4, 4 + 2 * features.length));
  } else {
    for (let i = 0; i < features.length; i++) features[i] = b.readInt16LE(4 + 2 * i);
  }
  return { spikes: b.readUInt32LE(0), features };
}

/** RESET request: `what` 0 (state to zero) or 1 (reboot). */
export function encodeReset(what: 'state' | 'reboot'): Buffer {
  return Buffer.of(what === 'reboot' ? 1 : 0);
}

/** The device's counters since boot (section 5), in wire order. */
export interface DeviceStats {
  /** Valid frames received. */
  readonly rxFrames: number;
  readonly txFrames: number;
  readonly rxBytes: number;
  readonly txBytes: number;
  readonly crcErrors: number;
  /** COBS errors, short or oversize frames, length mismatches. */
  readonly framingErrors: number;
  /** Requests answered from the duplicate memory. */
  readonly duplicates: number;
  /** ERROR responses sent. */
  readonly errorsSent: number;
  /** Input samples computed. */
  readonly steps: number;
  readonly uptimeMs: number;
}

const STATS_FIELDS = [
  'rxFrames',
  'txFrames',
  'rxBytes',
  'txBytes',
  'crcErrors',
  'framingErrors',
  'duplicates',
  'errorsSent',
  'steps',
  'uptimeMs',
] as const satisfies readonly (keyof DeviceStats)[];

/** Bytes of a version 1.0 STATS response. */
export const STATS_SIZE = 4 * STATS_FIELDS.length;

/** Decodes a STATS response (all ten counters required; more are ignored). */
export function decodeStats(payload: Uint8Array): DeviceStats {
  const b = need(payload, STATS_SIZE, 'STATS response');
  const out: Record<string, number> = {};
  STATS_FIELDS.forEach((name, i) => (out[name] = b.readUInt32LE(4 * i)));
  return out as unknown as DeviceStats;
}

/** The STATS response payload (what a device sends; for tests and simulators). */
export function encodeStats(stats: DeviceStats): Buffer {
  const b = Buffer.alloc(STATS_SIZE);
  STATS_FIELDS.forEach((name, i) => b.writeUInt32LE(stats[name] >>> 0, 4 * i));
  return b;
}

/** An ERROR response (section 7). */
export interface DeviceError {
  readonly code: number;
  /** `E_…`, or `undefined` for a code this host does not know. */
  readonly name: ErrorName | undefined;
  /** Meaning depends on the code (for example, E_OFFSET: the offset the device has). */
  readonly detail: number;
  /** What was wrong, for a human (UTF-8, at most 64 bytes). */
  readonly text: string;
}

/** Decodes an ERROR payload: u16 code, u16 0, u32 detail, UTF-8 text. Throws a PayloadError. */
export function decodeError(payload: Uint8Array): DeviceError {
  const b = need(payload, 8, 'ERROR response');
  const code = b.readUInt16LE(0);
  return {
    code,
    name: errorName(code),
    detail: b.readUInt32LE(4),
    text: b.subarray(8).toString('utf8').replace(/\0+$/, ''),
  };
}

/** The ERROR payload (what a device sends; for tests and simulators). */
export function encodeError(code: number, detail: number, text: string): Buffer {
  const t = Buffer.from(text, 'utf8').subarray(0, 64);
  const b = Buffer.alloc(8 + t.length);
  b.writeUInt16LE(code, 0);
  b.writeUInt32LE(detail >>> 0, 4);
  t.copy(b, 8);
  return b;
}
