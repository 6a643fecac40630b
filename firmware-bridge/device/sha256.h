/*
 * SHA-256 (FIPS 180-4), incremental: the device hashes an upload chunk by chunk as it arrives,
 * so UPLOAD_DONE does not stall on a pass over the whole image.
 */
#ifndef SPIKECAP_SHA256_H
#define SPIKECAP_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_BYTES 32u

typedef struct sha256_ctx {
  uint32_t h[8];
  uint64_t bytes;    /* message length so far */
  uint8_t block[64]; /* a partial block */
  uint32_t fill;     /* bytes in block */
} sha256_ctx;

void sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const uint8_t *data, size_t n);
void sha256_final(sha256_ctx *c, uint8_t out[SHA256_BYTES]);

/* The hash of one buffer. */
void sha256(const uint8_t *data, size_t n, uint8_t out[SHA256_BYTES]);

#endif
