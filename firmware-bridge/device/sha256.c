/*
 * SHA-256 after FIPS 180-4, section 6.2, written for small targets: a 16-word rolling message
 * schedule (256 bytes of stack, not 64 words), big-endian loads done byte by byte so it runs
 * on any alignment and byte order.
 */
#include "sha256.h"

#include <string.h>

/* FIPS 180-4 4.2.2: the first 32 bits of the fractional parts of the cube roots of the first
 * 64 primes. */
static const uint32_t k256[64] = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u, 0x923f82a4u,
    0xab1c5ed5u, 0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u, 0x72be5d74u, 0x80deb1feu,
    0x9bdc06a7u, 0xc19bf174u, 0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu,
    0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau, 0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u,
    0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u, 0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu,
    0x53380d13u, 0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u, 0xa2bfe8a1u, 0xa81a664bu,
    0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u, 0x19a4c116u,
    0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
    0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u, 0x90befffau, 0xa4506cebu, 0xbef9a3f7u,
    0xc67178f2u};

static uint32_t rotr(uint32_t x, unsigned n) {
  return (x >> n) | (x << (32u - n));
}

static uint32_t load_be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void store_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* One 64-byte block into the state (FIPS 180-4 6.2.2). */
static void compress(uint32_t h[8], const uint8_t *block) {
  uint32_t w[16];
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
  unsigned t;
  for (t = 0; t < 64u; t++) {
    uint32_t wt, t1, t2;
    if (t < 16u) {
      wt = load_be32(block + 4u * t);
    } else {
      /* W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16], in a ring of 16 words. */
      const uint32_t w2 = w[(t - 2u) & 15u], w15 = w[(t - 15u) & 15u];
      const uint32_t s0 = rotr(w15, 7) ^ rotr(w15, 18) ^ (w15 >> 3);
      const uint32_t s1 = rotr(w2, 17) ^ rotr(w2, 19) ^ (w2 >> 10);
      wt = s1 + w[(t - 7u) & 15u] + s0 + w[t & 15u];
    }
    w[t & 15u] = wt;
    t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + k256[t] + wt;
    t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    hh = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
  h[4] += e;
  h[5] += f;
  h[6] += g;
  h[7] += hh;
}

void sha256_init(sha256_ctx *c) {
  /* FIPS 180-4 5.3.3: the fractional parts of the square roots of the first 8 primes. */
  c->h[0] = 0x6a09e667u;
  c->h[1] = 0xbb67ae85u;
  c->h[2] = 0x3c6ef372u;
  c->h[3] = 0xa54ff53au;
  c->h[4] = 0x510e527fu;
  c->h[5] = 0x9b05688cu;
  c->h[6] = 0x1f83d9abu;
  c->h[7] = 0x5be0cd19u;
  c->bytes = 0;
  c->fill = 0;
}

void sha256_update(sha256_ctx *c, const uint8_t *data, size_t n) {
  if (n == 0) return; /* data may then be NULL, which memcpy must not see */
  c->bytes += n;
  if (c->fill > 0) {
    size_t take = 64u - c->fill;
    if (take > n) take = n;
    memcpy(c->block + c->fill, data, take);
    c->fill += (uint32_t)take;
    data += take;
    n -= take;
    if (c->fill < 64u) return;
    compress(c->h, c->block);
    c->fill = 0;
  }
  while (n >= 64u) {
    compress(c->h, data);
    data += 64;
    n -= 64u;
  }
  if (n > 0) {
    memcpy(c->block, data, n);
    c->fill = (uint32_t)n;
  }
}

void sha256_final(sha256_ctx *c, uint8_t out[SHA256_BYTES]) {
  const uint64_t bits = c->bytes * 8u;
  unsigned i;
  /* Padding (FIPS 180-4 5.1.1): 0x80, zeros up to 56 mod 64, the bit length big-endian. */
  c->block[c->fill++] = 0x80u;
  if (c->fill > 56u) {
    memset(c->block + c->fill, 0, 64u - c->fill);
    compress(c->h, c->block);
    c->fill = 0;
  }
  memset(c->block + c->fill, 0, 56u - c->fill);
  store_be32(c->block + 56, (uint32_t)(bits >> 32));
  store_be32(c->block + 60, (uint32_t)bits);
  compress(c->h, c->block);
  for (i = 0; i < 8u; i++) store_be32(out + 4u * i, c->h[i]);
}

void sha256(const uint8_t *data, size_t n, uint8_t out[SHA256_BYTES]) {
  sha256_ctx c;
  sha256_init(&c);
  sha256_update(&c, data, n);
  sha256_final(&c, out);
}
