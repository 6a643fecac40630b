/*
 * CRC-32 of IEEE 802.3 / zlib (PROTOCOL.md section 1): reflected polynomial 0xEDB88320,
 * initial value and final XOR 0xFFFFFFFF. Check value: crc32("123456789") == 0xCBF43926.
 */
#ifndef SPIKECAP_CRC32_H
#define SPIKECAP_CRC32_H

#include <stddef.h>
#include <stdint.h>

#define CRC32_INIT 0xFFFFFFFFu

/* Continues a running CRC: start from CRC32_INIT, feed the data in any number of pieces, and
 * finish with crc32_final. */
uint32_t crc32_update(uint32_t crc, const uint8_t *data, size_t n);

static inline uint32_t crc32_final(uint32_t crc) {
  return crc ^ 0xFFFFFFFFu;
}

/* The CRC of one buffer. */
uint32_t crc32(const uint8_t *data, size_t n);

#endif
