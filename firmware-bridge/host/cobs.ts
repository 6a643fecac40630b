/**
 * Consistent Overhead Byte Stuffing (Cheshire and Baker, 1999): the byte stuffing of
 * PROTOCOL.md section 1. The encoded form holds no zero byte, so `0x00` can delimit frames and a
 * receiver resynchronises at the next delimiter after any garbage.
 *
 * Each block of the encoding is a code byte `c` (1 … 255) followed by `c − 1` non-zero data
 * bytes; a block with `c < 255` stands for its data followed by one zero, except the last block,
 * whose implied zero is dropped. A run of 254 non-zero bytes that ends the data is encoded as a
 * lone `0xFF` block, with no empty block after it (the minimal form, as in the paper's examples);
 * the decoder also accepts the longer form that ends in an extra `0x01`.
 */

/**
 * The longest encoding of `length` bytes: one code byte per started run of 254 bytes, plus one.
 * Receivers size their buffers with it (PROTOCOL.md: a receiver stops buffering a frame longer
 * than the largest valid one).
 */
export function cobsMaxEncodedLength(length: number): number {
  return length + Math.floor(length / 254) + 1;
}

/** Encodes `data`; the result holds no zero byte and is never empty (empty data is `01`). */
export function cobsEncode(data: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(cobsMaxEncodedLength(data.length));
  return out.subarray(0, cobsEncodeInto([data], out, 0));
}

/**
 * Encodes the concatenation of `parts` into `out` from `at` on, without concatenating them
 * first (a frame is header, payload and CRC: its payload is encoded where the caller has it),
 * and returns where the encoding ends. `out` must have room for
 * {@link cobsMaxEncodedLength} of the parts' total length from `at`.
 */
export function cobsEncodeInto(parts: readonly Uint8Array[], out: Uint8Array, at: number): number {
  let left = 0; // data bytes still to encode, over all parts
  for (const part of parts) left += part.length;
  let codeAt = at; // where the current block's code byte goes
  let o = at + 1;
  let code = 1;
  for (const data of parts) {
    const n = data.length;
    for (let i = 0; i < n; i++) {
      const b = data[i]!;
      left--;
      if (b === 0) {
        out[codeAt] = code;
        codeAt = o++;
        code = 1;
        continue;
      }
      out[o++] = b;
      if (++code === 0xff) {
        out[codeAt] = 0xff;
        if (left === 0) return o; // the minimal form: no empty block after
        codeAt = o++;
        code = 1;
      }
    }
  }
  out[codeAt] = code;
  return o;
}

/**
 * Decodes one COBS body (without its delimiter). Returns `undefined` when `body` is not a valid
 * encoding: it holds a zero byte, or a block's code promises more bytes than are left. Never
 * throws, whatever the input: a receiver feeds it bytes straight off a noisy line.
 */
export function cobsDecode(body: Uint8Array): Buffer | undefined {
  const n = body.length;
  const out = Buffer.allocUnsafe(n); // the decoding is never longer than the encoding
  let i = 0;
  let o = 0;
  while (i < n) {
    const code = body[i++]!;
    if (code === 0) return undefined;
    const end = i + code - 1;
    if (end > n) return undefined;
    for (; i < end; i++) {
      const b = body[i]!;
      if (b === 0) return undefined;
      out[o++] = b;
    }
    if (code !== 0xff && i < n) out[o++] = 0;
  }
  return out.subarray(0, o);
}
