/**
 * The protobuf wire format (https://protobuf.dev/programming-guides/encoding/), as much of it as
 * an ONNX model needs: a writer for varint (wire type 0), 64-bit (1), length-delimited (2) and
 * 32-bit (5) fields, and a reader that splits a message into its fields (for checking a cached
 * model, and for tests). No schema here: agent/backends/onnx/onnx-proto.ts knows which field is
 * which.
 *
 * A message is kept as a list of chunks and only concatenated once, at the outermost level, so a
 * 64 MB weight tensor nested three messages deep is copied once, not three times.
 */

export const WIRE = { varint: 0, i64: 1, len: 2, i32: 5 } as const;

/** Bytes of the varint encoding of a non-negative integer below 2^53. */
function varintSize(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 0x80);
    n++;
  }
  return n;
}

function putVarint(out: Uint8Array, at: number, v: number): number {
  while (v >= 0x80) {
    out[at++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  out[at++] = v;
  return at;
}

/** The varint of `v`: an integer, negative ones as 64-bit two's complement (10 bytes), as int64 is. */
export function varint(v: number | bigint): Uint8Array {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new RangeError(`varint: ${v} is not a safe integer`);
    if (v >= 0) {
      const out = new Uint8Array(varintSize(v));
      putVarint(out, 0, v);
      return out;
    }
    v = BigInt(v);
  }
  let u = BigInt.asUintN(64, v);
  const bytes: number[] = [];
  while (u >= 0x80n) {
    bytes.push(Number(u & 0x7fn) | 0x80);
    u >>= 7n;
  }
  bytes.push(Number(u));
  return Uint8Array.from(bytes);
}

/** A message being written: append fields in order, then `finish()` (or nest it in another). */
export class ProtoMessage {
  private readonly chunks: Uint8Array[] = [];
  /** Bytes so far. */
  length = 0;

  private push(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  private tag(field: number, wire: number): void {
    this.push(varint(field * 8 + wire));
  }

  /** int32, int64, enum or bool field (wire type 0). */
  int(field: number, v: number | bigint): this {
    this.tag(field, WIRE.varint);
    this.push(varint(v));
    return this;
  }

  /** float field (wire type 5). */
  float(field: number, v: number): this {
    this.tag(field, WIRE.i32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.push(b);
    return this;
  }

  /** bytes field (wire type 2); the bytes are kept, not copied, until finish(). */
  bytes(field: number, v: Uint8Array): this {
    this.tag(field, WIRE.len);
    this.push(varint(v.length));
    this.push(v);
    return this;
  }

  /** string field (wire type 2), UTF-8. */
  string(field: number, v: string): this {
    return this.bytes(field, new TextEncoder().encode(v));
  }

  /** An embedded message (wire type 2). `m` must not change afterwards. */
  message(field: number, m: ProtoMessage): this {
    this.tag(field, WIRE.len);
    this.push(varint(m.length));
    for (const c of m.chunks) this.push(c);
    return this;
  }

  /** A packed repeated int64 field (wire type 2 holding varints). */
  packedInts(field: number, values: readonly number[]): this {
    const parts = values.map((v) => varint(v));
    const body = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      body.set(p, at);
      at += p.length;
    }
    return this.bytes(field, body);
  }

  /** Feeds the encoded bytes to `update` (a hash, say) chunk by chunk, without joining them. */
  forEachChunk(update: (chunk: Uint8Array) => void): void {
    for (const c of this.chunks) update(c);
  }

  /** The encoded message, in one buffer. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

/** One field as read: varints as bigint (int64 is 64-bit), fixed32/64 as raw little-endian bytes. */
export type ProtoField =
  | { readonly field: number; readonly wire: 0; readonly value: bigint }
  | { readonly field: number; readonly wire: 1 | 2 | 5; readonly value: Uint8Array };

/** Splits one message into its fields, in order; a RangeError on anything malformed or truncated. */
export function readFields(bytes: Uint8Array): ProtoField[] {
  const out: ProtoField[] = [];
  let at = 0;
  const readVarint = (): bigint => {
    let v = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (at >= bytes.length) throw new RangeError(`protobuf: truncated varint at byte ${at}`);
      const b = bytes[at++]!;
      v |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return BigInt.asUintN(64, v);
    }
    throw new RangeError(`protobuf: varint longer than 10 bytes at byte ${at}`);
  };
  const take = (n: number): Uint8Array => {
    if (n > bytes.length - at)
      throw new RangeError(
        `protobuf: a field of ${n} bytes at byte ${at} runs past the end (${bytes.length})`,
      );
    const v = bytes.subarray(at, at + n);
    at += n;
    return v;
  };
  while (at < bytes.length) {
    const key = readVarint();
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (field === 0) throw new RangeError(`protobuf: field number 0 at byte ${at}`);
    if (wire === WIRE.varint) out.push({ field, wire, value: readVarint() });
    else if (wire === WIRE.i64) out.push({ field, wire, value: take(8) });
    else if (wire === WIRE.i32) out.push({ field, wire, value: take(4) });
    else if (wire === WIRE.len) out.push({ field, wire, value: take(Number(readVarint())) });
    else throw new RangeError(`protobuf: unsupported wire type ${wire} (field ${field})`);
  }
  return out;
}

/** A varint field's value as a signed int64 (ONNX's int64 fields). */
export function asInt64(v: bigint): bigint {
  return BigInt.asIntN(64, v);
}

/** Decodes packed varints (a packed repeated int64 field). */
export function readPackedInts(bytes: Uint8Array): bigint[] {
  const out: bigint[] = [];
  let at = 0;
  while (at < bytes.length) {
    let v = 0n;
    let shift = 0n;
    for (;;) {
      if (at >= bytes.length) throw new RangeError('protobuf: truncated packed varint');
      const b = bytes[at++]!;
      v |= BigInt(b & 0x7f) << shift;
      shift += 7n;
      if (b < 0x80) break;
      if (shift >= 70n) throw new RangeError('protobuf: packed varint longer than 10 bytes');
    }
    out.push(asInt64(BigInt.asUintN(64, v)));
  }
  return out;
}
