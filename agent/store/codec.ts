/**
 * Slot values are float32 stored bit-inverted, so that the zero bytes Redis fills gaps with
 * decode as "missing" (0xFFFFFFFF is a NaN) while a real 0.0 stays distinct.
 */
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Writes `v` at byte `offset` of `buf`; NaN (not measured) is written as missing. */
export function putValue(buf: Buffer, offset: number, v: number): void {
  if (Number.isNaN(v)) {
    buf.writeUInt32LE(0, offset);
    return;
  }
  f32[0] = v;
  buf.writeUInt32LE(~u32[0]! >>> 0, offset);
}

/** Reads a slot value; missing reads as NaN. */
export function getValue(buf: Buffer, offset: number): number {
  const bits = buf.readUInt32LE(offset);
  if (bits === 0) return NaN;
  u32[0] = ~bits >>> 0;
  return f32[0]!;
}
