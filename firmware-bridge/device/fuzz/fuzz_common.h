/*
 * Shared by the fuzz target and its seed generator: the fuzz input format, a request frame
 * builder, and a tiny valid model image (8 neurons, 2 inputs, fan-out 2, 2 sub-steps).
 *
 * Fuzz input: one mode byte (value % 3), then
 *   0 RAW     bytes fed to the receive path as they are (COBS, CRC, framing, everything),
 *             1 + (mode >> 3) times over, so that short inputs make oversize frames too;
 *   1 FRAMES  records [type u8][flags u8][len u16][payload], each made a well-framed request
 *             (valid CRC and COBS unless the flags corrupt it), so the fuzzer reaches the
 *             handlers; the mode byte's bit 2 uploads the tiny model first (STEP and state);
 *   2 IMAGE   [size u16][image][inputs]: the image is uploaded with its true SHA-256 (so the
 *             image parser and the core see hostile models), then stepped with the inputs.
 */
#ifndef SPIKECAP_FUZZ_COMMON_H
#define SPIKECAP_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cobs.h"
#include "crc32.h"
#include "le.h"

enum { FUZZ_RAW = 0, FUZZ_FRAMES = 1, FUZZ_IMAGE = 2 };
#define FUZZ_PRELOAD 4u /* mode byte bit: FRAMES mode starts with the tiny model loaded */

/* FRAMES record flags. */
#define FF_BOOT_ZERO 0x01u  /* boot field 0 (else the board's boot id) */
#define FF_BOOT_STALE 0x02u /* boot field of another boot */
#define FF_VERSION2 0x04u
#define FF_BAD_CRC 0x08u
#define FF_BAD_LEN 0x10u
#define FF_SAME_SEQ 0x20u /* reuse the previous record's seq (a retry, if the bytes match) */
#define FF_TWICE 0x40u    /* send the frame twice */
#define FF_BYTEWISE 0x80u /* feed it one byte at a time */

/* Builds a request as it goes on the wire (leading 0x00, COBS, delimiter) into out, which
 * holds at least COBS_MAX_ENCODED(n + 16) + 2 bytes; raw is scratch of n + 16 bytes. */
static inline size_t fuzz_frame(uint8_t *out, uint8_t *raw, uint8_t version, uint8_t type,
                                uint16_t seq, uint16_t len_field, uint32_t boot,
                                const uint8_t *payload, size_t n, int bad_crc) {
  size_t enc;
  raw[0] = version;
  raw[1] = type;
  le_put16(raw + 2, seq);
  le_put16(raw + 4, len_field);
  le_put16(raw + 6, 0);
  le_put32(raw + 8, boot);
  if (n > 0) memcpy(raw + 12, payload, n);
  le_put32(raw + 12 + n, crc32(raw, 12 + n) ^ (bad_crc ? 0x00010000u : 0u));
  out[0] = 0;
  enc = cobs_encode(raw, n + 16, out + 1);
  out[1 + enc] = 0;
  return enc + 2;
}

#define FUZZ_TINY_N 8u
#define FUZZ_TINY_I 2u
#define FUZZ_TINY_F 2u
#define FUZZ_TINY_S 2u
#define FUZZ_TINY_BYTES                                                          \
  (72u + 6u * FUZZ_TINY_N + 3u * FUZZ_TINY_I * FUZZ_TINY_F + 3u * FUZZ_TINY_N * FUZZ_TINY_F)

/* The tiny model's image (PROTOCOL.md section 6). */
static inline void fuzz_tiny_image(uint8_t out[FUZZ_TINY_BYTES]) {
  const uint32_t scal[8] = {FUZZ_TINY_N, FUZZ_TINY_I, FUZZ_TINY_F, FUZZ_TINY_S, 2, 1, 4, 8};
  uint8_t *p = out;
  unsigned i, k;
  memcpy(p, "SCIM", 4);
  le_put32(p + 4, 1);
  for (i = 0; i < 8u; i++) le_put32(p + 8 + 4 * i, scal[i]);
  memset(p + 40, 0, 32);
  p += 72;
  for (i = 0; i < FUZZ_TINY_N; i++, p += 2) le_put16(p, 100u + 20u * i); /* threshold */
  for (i = 0; i < FUZZ_TINY_N; i++, p += 2) le_put16(p, i & 1u);        /* bias */
  for (i = 0; i < FUZZ_TINY_I; i++) {
    for (k = 0; k < FUZZ_TINY_F; k++, p += 2) le_put16(p, (3u * i + k) % FUZZ_TINY_N);
  }
  for (i = 0; i < FUZZ_TINY_N; i++) {
    for (k = 0; k < FUZZ_TINY_F; k++, p += 2) le_put16(p, (i + 1u + k) % FUZZ_TINY_N);
  }
  for (i = 0; i < FUZZ_TINY_N; i++) *p++ = (uint8_t)(1u + i % 3u); /* dash_syn */
  for (i = 0; i < FUZZ_TINY_N; i++) *p++ = (uint8_t)(1u + i % 5u); /* dash_mem */
  for (i = 0; i < FUZZ_TINY_I * FUZZ_TINY_F; i++) *p++ = (uint8_t)(90u + i);
  for (i = 0; i < FUZZ_TINY_N * FUZZ_TINY_F; i++) *p++ = (uint8_t)(i % 4u == 3u ? 0xB0u : 40u);
}

#endif
