/*
 * Little-endian loads and stores of the wire format, byte by byte: correct on any byte order
 * and alignment, and compilers turn them into single loads where that is allowed.
 */
#ifndef SPIKECAP_LE_H
#define SPIKECAP_LE_H

#include <stdint.h>

static inline uint16_t le_get16(const uint8_t *p) {
  return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t le_get32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
         ((uint32_t)p[3] << 24);
}

static inline void le_put16(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v & 0xFFu);
  p[1] = (uint8_t)((v >> 8) & 0xFFu);
}

static inline void le_put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v & 0xFFu);
  p[1] = (uint8_t)((v >> 8) & 0xFFu);
  p[2] = (uint8_t)((v >> 16) & 0xFFu);
  p[3] = (uint8_t)((v >> 24) & 0xFFu);
}

/* 1 on a little-endian target. A constant the compiler folds. */
static inline int le_native(void) {
  const uint16_t one = 1;
  return *(const uint8_t *)&one == 1;
}

#endif
