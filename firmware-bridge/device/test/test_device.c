/*
 * Unit tests of the device code, run on the build host (`make test`): CRC-32, COBS and
 * SHA-256 against published vectors, the image parser, and the protocol engine driven through
 * an in-memory port (framing, duplicates, boot ids, upload, STEP against the core called
 * directly, state, reset, stats, errors). Ends with "N passed, N failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef BOARD_GUARDS
#error "build with -DBOARD_GUARDS (the Makefile does): the tests check the guard words"
#endif

#include "board.h"
#include "cobs.h"
#include "crc32.h"
#include "image.h"
#include "le.h"
#include "sha256.h"

static int passed, failed;

#define CHECK(cond)                                                          \
  do {                                                                       \
    if (cond) {                                                              \
      passed++;                                                              \
    } else {                                                                 \
      failed++;                                                              \
      fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);        \
    }                                                                        \
  } while (0)

/* ---- a port in memory ------------------------------------------------------------------ */

struct port {
  uint8_t out[1u << 16];
  size_t out_len;
  uint32_t ms;
  uint32_t next_id;
  unsigned reboots;
  unsigned writes;
};

size_t port_read(struct port *p, uint8_t *buf, size_t cap) {
  (void)p;
  (void)buf;
  (void)cap;
  return 0;
}

void port_write(struct port *p, const uint8_t *buf, size_t n) {
  if (p->out_len + n <= sizeof p->out) {
    memcpy(p->out + p->out_len, buf, n);
    p->out_len += n;
  }
  p->writes++;
}

uint32_t port_millis(struct port *p) {
  return p->ms;
}

uint32_t port_boot_id(struct port *p) {
  return p->next_id++;
}

void port_reboot(struct port *p) {
  p->reboots++;
}

static struct board board;
static struct port port;

/* ---- frames ---------------------------------------------------------------------------- */

static uint8_t frame_raw[BOARD_FRAME_MAX + 64];
static uint8_t frame_enc[COBS_MAX_ENCODED(BOARD_FRAME_MAX + 64) + 2];

/* Encodes a request (leading 0x00, COBS, delimiter) into frame_enc; returns its length. */
static size_t make_frame(uint8_t version, uint8_t type, uint16_t seq, uint32_t boot,
                         const uint8_t *payload, size_t n) {
  size_t enc;
  frame_raw[0] = version;
  frame_raw[1] = type;
  le_put16(frame_raw + 2, seq);
  le_put16(frame_raw + 4, (uint32_t)n);
  le_put16(frame_raw + 6, 0);
  le_put32(frame_raw + 8, boot);
  if (n > 0) memcpy(frame_raw + 12, payload, n);
  le_put32(frame_raw + 12 + n, crc32(frame_raw, 12 + n));
  frame_enc[0] = 0;
  enc = cobs_encode(frame_raw, 16 + n, frame_enc + 1);
  frame_enc[1 + enc] = 0;
  return enc + 2;
}

/* The last response the board sent, decoded. */
typedef struct resp {
  int ok; /* one well-formed frame, CRC good */
  uint8_t type;
  uint16_t seq;
  uint32_t boot;
  size_t len;
  uint8_t payload[BOARD_MAX_PAYLOAD];
  uint16_t err; /* for ERROR */
  uint32_t detail;
} resp;

static resp last;
static uint8_t dec_buf[BOARD_FRAME_MAX + 8];

static void parse_out(void) {
  cobs_decoder d;
  size_t i, len = 0;
  int frames = 0;
  memset(&last, 0, sizeof last);
  cobs_decoder_init(&d, dec_buf, sizeof dec_buf);
  for (i = 0; i < port.out_len; i++) {
    enum cobs_event ev = cobs_decode_byte(&d, port.out[i], &len);
    if (ev == COBS_FRAME) {
      frames++;
      if (len < 16 || crc32(dec_buf, len - 4) != le_get32(dec_buf + len - 4)) return;
      if (dec_buf[0] != 1 || le_get16(dec_buf + 4) != len - 16) return;
      last.type = dec_buf[1];
      last.seq = le_get16(dec_buf + 2);
      last.boot = le_get32(dec_buf + 8);
      last.len = len - 16;
      memcpy(last.payload, dec_buf + 12, last.len);
      if (last.type == MSG_ERROR && last.len >= 8) {
        last.err = le_get16(last.payload);
        last.detail = le_get32(last.payload + 4);
      }
    } else if (ev == COBS_ERROR || ev == COBS_OVERSIZE) {
      return;
    }
  }
  last.ok = frames == 1;
}

/* Sends one request and decodes the answer (last.ok is 0 if there was none). */
static void request(uint8_t type, uint16_t seq, uint32_t boot, const void *payload, size_t n) {
  size_t len = make_frame(1, type, seq, boot, (const uint8_t *)payload, n);
  port.out_len = 0;
  board_feed(&board, frame_enc, len);
  parse_out();
}

static uint16_t seq_no = 100;
static uint32_t boot_seen;

/* A request with a fresh seq and the current boot id; checks the response type. */
static int call(uint8_t type, const void *payload, size_t n) {
  request(type, ++seq_no, boot_seen, payload, n);
  return last.ok && last.seq == seq_no && last.type == (uint8_t)(type | MSG_RESPONSE);
}

static int call_err(uint8_t type, const void *payload, size_t n, uint16_t code) {
  request(type, ++seq_no, boot_seen, payload, n);
  return last.ok && last.seq == seq_no && last.type == MSG_ERROR && last.err == code;
}

static void hello(void) {
  request(MSG_HELLO, ++seq_no, 0, NULL, 0);
  boot_seen = le_get32(last.payload + 4);
}

/* ---- a small model, and its image ------------------------------------------------------ */

enum { TN = 16, TI = 3, TF = 4, TS = 2 };
static int16_t t_threshold[TN], t_bias[TN];
static uint8_t t_dsyn[TN], t_dmem[TN];
static uint16_t t_in_target[TI * TF], t_rec_target[TN * TF];
static int8_t t_in_weight[TI * TF], t_rec_weight[TN * TF];
static sc_model t_model;
static uint8_t t_image[72 + 6 * TN + 3 * TI * TF + 3 * TN * TF];

static void make_model(void) {
  int i, k;
  for (i = 0; i < TN; i++) {
    t_threshold[i] = (int16_t)(200 + 37 * i);
    t_bias[i] = (int16_t)(i % 3 == 0 ? 5 : -2);
    t_dsyn[i] = (uint8_t)(1 + i % 3);
    t_dmem[i] = (uint8_t)(1 + i % 6);
    for (k = 0; k < TF; k++) {
      t_rec_target[i * TF + k] = (uint16_t)((i + 1 + 3 * k) % TN);
      t_rec_weight[i * TF + k] = (int8_t)(i % 5 == 0 ? -90 : 30 + k);
    }
  }
  for (i = 0; i < TI; i++) {
    for (k = 0; k < TF; k++) {
      t_in_target[i * TF + k] = (uint16_t)((5 * i + k) % TN);
      t_in_weight[i * TF + k] = (int8_t)(60 + 10 * k);
    }
  }
  t_model.neurons = TN;
  t_model.inputs = TI;
  t_model.fanout = TF;
  t_model.substeps = TS;
  t_model.weight_shift_in = 2;
  t_model.weight_shift_rec = 1;
  t_model.trace_dash = 4;
  t_model.trace_shift = 8;
  t_model.threshold = t_threshold;
  t_model.bias = t_bias;
  t_model.dash_syn = t_dsyn;
  t_model.dash_mem = t_dmem;
  t_model.in_target = t_in_target;
  t_model.in_weight = t_in_weight;
  t_model.rec_target = t_rec_target;
  t_model.rec_weight = t_rec_weight;
}

/* PROTOCOL.md section 6, written field by field (not by the code under test). */
static size_t build_image(const sc_model *m, uint8_t *out) {
  size_t o = 0, i;
  const size_t n = m->neurons, inf = (size_t)m->inputs * m->fanout, nf = n * m->fanout;
  const uint32_t scal[8] = {m->neurons,         m->inputs,           m->fanout,
                            m->substeps,        m->weight_shift_in,  m->weight_shift_rec,
                            m->trace_dash,      m->trace_shift};
  memcpy(out, "SCIM", 4);
  le_put32(out + 4, 1);
  for (i = 0; i < 8; i++) le_put32(out + 8 + 4 * i, scal[i]);
  memset(out + 40, 0xAB, 32);
  o = 72;
  for (i = 0; i < n; i++, o += 2) le_put16(out + o, (uint16_t)m->threshold[i]);
  for (i = 0; i < n; i++, o += 2) le_put16(out + o, (uint16_t)m->bias[i]);
  for (i = 0; i < inf; i++, o += 2) le_put16(out + o, m->in_target[i]);
  for (i = 0; i < nf; i++, o += 2) le_put16(out + o, m->rec_target[i]);
  for (i = 0; i < n; i++) out[o++] = m->dash_syn[i];
  for (i = 0; i < n; i++) out[o++] = m->dash_mem[i];
  for (i = 0; i < inf; i++) out[o++] = (uint8_t)m->in_weight[i];
  for (i = 0; i < nf; i++) out[o++] = (uint8_t)m->rec_weight[i];
  return o;
}

static int begin(const uint8_t *img, size_t size) {
  uint8_t p[36];
  le_put32(p, (uint32_t)size);
  sha256(img, size, p + 4);
  return call(MSG_UPLOAD_BEGIN, p, sizeof p);
}

static int chunk(const uint8_t *img, uint32_t off, size_t n) {
  static uint8_t p[BOARD_MAX_PAYLOAD];
  le_put32(p, off);
  memcpy(p + 4, img + off, n);
  return call(MSG_UPLOAD_CHUNK, p, 4 + n);
}

/* A whole upload in chunks of `step` bytes; returns 1 if UPLOAD_DONE answered the hash. */
static int upload(const uint8_t *img, size_t size, size_t step) {
  uint8_t sha[32];
  uint32_t off = 0;
  if (!begin(img, size) || le_get32(last.payload) != 0) return 0;
  while (off < size) {
    size_t n = size - off < step ? size - off : step;
    if (!chunk(img, off, n)) return 0;
    off = le_get32(last.payload);
  }
  sha256(img, size, sha);
  return call(MSG_UPLOAD_DONE, NULL, 0) && last.len == 32 && memcmp(last.payload, sha, 32) == 0;
}

/* ---- tests: primitives ----------------------------------------------------------------- */

static void test_crc(void) {
  const uint8_t *s = (const uint8_t *)"123456789";
  uint32_t c = CRC32_INIT;
  CHECK(crc32(s, 9) == 0xCBF43926u);
  CHECK(crc32(s, 0) == 0);
  c = crc32_update(c, s, 4);
  c = crc32_update(c, s + 4, 5);
  CHECK(crc32_final(c) == 0xCBF43926u);
  CHECK(crc32((const uint8_t *)"The quick brown fox jumps over the lazy dog", 43) ==
        0x414FA339u);
}

static int cobs_vector(const uint8_t *in, size_t n, const uint8_t *want, size_t wn) {
  static uint8_t enc[600], dec[600];
  cobs_decoder d;
  size_t en, i, len = 0;
  enum cobs_event ev = COBS_MORE;
  en = cobs_encode(in, n, enc);
  if (en != wn || memcmp(enc, want, wn) != 0) return 0;
  cobs_decoder_init(&d, dec, sizeof dec);
  for (i = 0; i < en; i++) {
    if (cobs_decode_byte(&d, enc[i], &len) != COBS_MORE) return 0;
  }
  ev = cobs_decode_byte(&d, 0, &len);
  return ev == COBS_FRAME && len == n && memcmp(dec, in, n) == 0;
}

static void test_cobs(void) {
  static uint8_t in[600], want[600], big[3000], enc[3100], buf[3200], dec[3000];
  size_t i, t;
  uint32_t x = 12345;
  cobs_decoder d;
  size_t len = 0;
  /* The examples of the COBS paper and its common test set. */
  CHECK(cobs_vector((const uint8_t *)"\x00", 1, (const uint8_t *)"\x01\x01", 2));
  CHECK(cobs_vector((const uint8_t *)"\x00\x00", 2, (const uint8_t *)"\x01\x01\x01", 3));
  CHECK(cobs_vector((const uint8_t *)"\x00\x11\x00", 3, (const uint8_t *)"\x01\x02\x11\x01", 4));
  CHECK(cobs_vector((const uint8_t *)"\x11\x22\x00\x33", 4,
                    (const uint8_t *)"\x03\x11\x22\x02\x33", 5));
  CHECK(cobs_vector((const uint8_t *)"\x11\x22\x33\x44", 4,
                    (const uint8_t *)"\x05\x11\x22\x33\x44", 5));
  CHECK(cobs_vector((const uint8_t *)"\x11\x00\x00\x00", 4,
                    (const uint8_t *)"\x02\x11\x01\x01\x01", 5));
  CHECK(cobs_vector(in, 0, (const uint8_t *)"\x01", 1));
  /* 01..FE -> FF 01..FE */
  for (i = 0; i < 254; i++) in[i] = (uint8_t)(i + 1);
  want[0] = 0xFF;
  memcpy(want + 1, in, 254);
  CHECK(cobs_vector(in, 254, want, 255));
  /* 00 01..FE -> 01 FF 01..FE */
  in[0] = 0;
  for (i = 0; i < 254; i++) in[i + 1] = (uint8_t)(i + 1);
  want[0] = 0x01;
  want[1] = 0xFF;
  memcpy(want + 2, in + 1, 254);
  CHECK(cobs_vector(in, 255, want, 256));
  /* 01..FF -> FF 01..FE 02 FF */
  for (i = 0; i < 255; i++) in[i] = (uint8_t)(i + 1);
  want[0] = 0xFF;
  memcpy(want + 1, in, 254);
  want[255] = 0x02;
  want[256] = 0xFF;
  CHECK(cobs_vector(in, 255, want, 257));
  /* 02..FF 00 -> FF 02..FF 01 01 */
  for (i = 0; i < 254; i++) in[i] = (uint8_t)(i + 2);
  in[254] = 0;
  want[0] = 0xFF;
  memcpy(want + 1, in, 254);
  want[255] = 0x01;
  want[256] = 0x01;
  CHECK(cobs_vector(in, 255, want, 257));
  /* 03..FF 00 01 -> FE 03..FF 02 01 */
  for (i = 0; i < 253; i++) in[i] = (uint8_t)(i + 3);
  in[253] = 0;
  in[254] = 1;
  want[0] = 0xFE;
  memcpy(want + 1, in, 253);
  want[254] = 0x02;
  want[255] = 0x01;
  CHECK(cobs_vector(in, 255, want, 256));

  /* Random round trips, and in-place encoding (input COBS_INPLACE_GAP ahead) matching. */
  for (t = 0; t < 400; t++) {
    size_t n = t * 7 % 2900, en, en2, gap;
    int ok = 1;
    unsigned zero_every = 1u + (unsigned)(t % 5) * 60u;
    for (i = 0; i < n; i++) {
      x = x * 1103515245u + 12345u;
      big[i] = (x >> 16) % zero_every == 0 ? 0 : (uint8_t)(1u + (x >> 8) % 255u);
    }
    en = cobs_encode(big, n, enc);
    ok &= en <= COBS_MAX_ENCODED(n);
    ok &= memchr(enc, 0, en) == NULL;
    gap = COBS_INPLACE_GAP(n);
    memcpy(buf + gap, big, n);
    en2 = cobs_encode(buf + gap, n, buf);
    ok &= en2 == en && memcmp(buf, enc, en) == 0;
    cobs_decoder_init(&d, dec, sizeof dec);
    for (i = 0; i < en; i++) ok &= cobs_decode_byte(&d, enc[i], &len) == COBS_MORE;
    ok &= cobs_decode_byte(&d, 0, &len) == COBS_FRAME && len == n && memcmp(dec, big, n) == 0;
    CHECK(ok);
  }

  /* Errors: a run cut short, an empty frame, an oversize frame that writes nothing past cap. */
  cobs_decoder_init(&d, dec, 8);
  CHECK(cobs_decode_byte(&d, 0, &len) == COBS_EMPTY);
  CHECK(cobs_decode_byte(&d, 5, &len) == COBS_MORE);
  CHECK(cobs_decode_byte(&d, 1, &len) == COBS_MORE);
  CHECK(cobs_decode_byte(&d, 0, &len) == COBS_ERROR);
  memset(dec, 0xEE, 16);
  for (i = 0; i < 20; i++) cobs_decode_byte(&d, (uint8_t)(i == 0 ? 0xFF : 7), &len);
  CHECK(cobs_decode_byte(&d, 0, &len) == COBS_OVERSIZE);
  CHECK(dec[8] == 0xEE && dec[15] == 0xEE);
  /* Resynchronised at the next frame. */
  CHECK(cobs_decode_byte(&d, 2, &len) == COBS_MORE && cobs_decode_byte(&d, 9, &len) == COBS_MORE);
  CHECK(cobs_decode_byte(&d, 0, &len) == COBS_FRAME && len == 1 && dec[0] == 9);
  /* Exactly cap bytes fit; the lazily emitted zero counts. */
  cobs_decoder_init(&d, dec, 2);
  cobs_decode_byte(&d, 2, &len);
  cobs_decode_byte(&d, 9, &len);
  cobs_decode_byte(&d, 1, &len);
  CHECK(cobs_decode_byte(&d, 0, &len) == COBS_FRAME && len == 2 && dec[1] == 0);
  cobs_decode_byte(&d, 2, &len);
  cobs_decode_byte(&d, 9, &len);
  cobs_decode_byte(&d, 2, &len);
  cobs_decode_byte(&d, 9, &len);
  CHECK(cobs_decode_byte(&d, 0, &len) == COBS_OVERSIZE);
}

/* cobs_decode (a run at a time) against cobs_decode_byte on the same streams, cut at random
 * places: the same events at the same bytes, the same frames, nothing written past cap. The
 * streams mix valid frames, garbage, runs cut short and frames longer than the buffer. */
static void test_cobs_runs(void) {
  static uint8_t stream[6000], frame[700], enc[720], dec_a[520], dec_b[520];
  uint32_t x = 12345u;
  unsigned round;
  for (round = 0; round < 200u; round++) {
    cobs_decoder a, b;
    size_t n = 0, i = 0, len_a = 0, len_b = 0;
    int ok = 1;
    while (n + sizeof enc + 1u < sizeof stream) {
      size_t k, fl, el;
      x = x * 1103515245u + 12345u;
      fl = (x >> 8) % sizeof frame; /* up to 699: some are oversize for a 512-byte buffer */
      for (k = 0; k < fl; k++) {
        x = x * 1103515245u + 12345u;
        frame[k] = (x >> 16) % (1u + round % 7u) == 0 ? 0 : (uint8_t)(x >> 8);
      }
      el = cobs_encode(frame, fl, enc);
      if ((x >> 4) % 5u == 0 && el > 1u) el = (x >> 9) % el; /* cut short: garbage */
      memcpy(stream + n, enc, el);
      n += el;
      stream[n++] = 0;
    }
    memset(dec_a, 0xEE, sizeof dec_a);
    memset(dec_b, 0xEE, sizeof dec_b);
    cobs_decoder_init(&a, dec_a, 512);
    cobs_decoder_init(&b, dec_b, 512);
    while (i < n) {
      size_t piece, used = 0, j;
      enum cobs_event ev;
      x = x * 1103515245u + 12345u;
      piece = 1u + (x >> 8) % 900u;
      if (piece > n - i) piece = n - i;
      ev = cobs_decode(&a, stream + i, piece, &used, &len_a);
      ok &= used >= 1u && used <= piece;
      for (j = 0; j + 1u < used; j++) ok &= cobs_decode_byte(&b, stream[i + j], &len_b) == COBS_MORE;
      ok &= cobs_decode_byte(&b, stream[i + used - 1u], &len_b) == ev;
      if (ev == COBS_MORE) ok &= used == piece;
      if (ev == COBS_FRAME) ok &= len_a == len_b && memcmp(dec_a, dec_b, len_a) == 0;
      i += used;
    }
    ok &= dec_a[512] == 0xEE && dec_a[519] == 0xEE;
    CHECK(ok);
  }
}

static int sha_hex(const uint8_t *d, size_t n, const char *hex) {
  uint8_t h[32];
  char s[65];
  size_t i;
  sha256(d, n, h);
  for (i = 0; i < 32; i++) sprintf(s + 2 * i, "%02x", h[i]);
  return strcmp(s, hex) == 0;
}

static void test_sha256(void) {
  static uint8_t a[1000000];
  const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  const char *m896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnop"
                     "jklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
  sha256_ctx c;
  uint8_t h1[32], h2[32];
  size_t i, at = 0;
  CHECK(sha_hex(a, 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
  CHECK(sha_hex((const uint8_t *)"abc", 3,
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
  CHECK(sha_hex((const uint8_t *)m448, strlen(m448),
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
  CHECK(sha_hex((const uint8_t *)m896, strlen(m896),
                "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"));
  memset(a, 'a', sizeof a);
  CHECK(sha_hex(a, sizeof a, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
  /* The same hash fed in uneven pieces (1, 2, ... bytes) across block boundaries. */
  sha256(a, 5000, h1);
  sha256_init(&c);
  for (i = 1; at < 5000; i++) {
    size_t n = 5000 - at < i ? 5000 - at : i;
    sha256_update(&c, a + at, n);
    at += n;
  }
  sha256_final(&c, h2);
  CHECK(memcmp(h1, h2, 32) == 0);
  /* 55, 56 and 64 bytes: the padding edge cases. */
  CHECK(sha_hex(a, 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"));
  CHECK(sha_hex(a, 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"));
  CHECK(sha_hex(a, 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"));
}

static void test_image(void) {
  static uint8_t img[sizeof t_image], ws[4096];
  sc_model m;
  image_error e;
  image_limits lim = {1024, 256, 512, 16, sizeof ws};
  size_t size = build_image(&t_model, img);
  CHECK(size == sizeof t_image);
  CHECK(image_load(img, size, &lim, ws, sizeof ws, &m, &e) == IMAGE_OK);
  CHECK(m.neurons == TN && m.inputs == TI && m.fanout == TF && m.substeps == TS);
  CHECK(m.threshold[3] == t_threshold[3] && m.rec_weight[TN * TF - 1] == t_rec_weight[TN * TF - 1]);
  CHECK(m.in_target[5] == t_in_target[5] && m.dash_mem[7] == t_dmem[7]);
  CHECK(image_load(img, size - 1, &lim, ws, sizeof ws, &m, &e) == IMAGE_EMODEL);
  CHECK(image_load(img, 40, &lim, ws, sizeof ws, &m, &e) == IMAGE_EMODEL);
  lim.max_neurons = 8;
  CHECK(image_load(img, size, &lim, ws, sizeof ws, &m, &e) == IMAGE_ELIMIT && e.detail == 8);
  lim.max_neurons = 1024;
  lim.workspace_bytes = 16;
  CHECK(image_load(img, size, &lim, ws, sizeof ws, &m, &e) == IMAGE_ELIMIT);
  lim.workspace_bytes = sizeof ws;
  img[0] = 'X';
  CHECK(image_load(img, size, &lim, ws, sizeof ws, &m, &e) == IMAGE_EMODEL);
  build_image(&t_model, img);
  le_put32(img + 4, 2); /* version */
  CHECK(image_load(img, size, &lim, ws, sizeof ws, &m, &e) == IMAGE_EMODEL);
  build_image(&t_model, img);
  le_put32(img + 20, 17); /* substeps beyond SPEC.md */
  CHECK(image_load(img, size, &lim, ws, sizeof ws, &m, &e) == IMAGE_EMODEL);
  build_image(&t_model, img);
  le_put32(img + 8, 0xFFFFFFFFu); /* neurons: no overflow in the size formula */
  CHECK(image_load(img, size, &lim, ws, sizeof ws, &m, &e) == IMAGE_EMODEL);
  build_image(&t_model, img);
  le_put16(img + 72 + 4 * TN + 2 * TI * TF + 2, le_get16(img + 72 + 4 * TN + 2 * TI * TF));
  CHECK(image_load(img, size, &lim, ws, sizeof ws, &m, &e) == IMAGE_EMODEL); /* repeated target */
  build_image(&t_model, img);
  le_put16(img + 72, 0); /* threshold 0 */
  CHECK(image_load(img, size, &lim, ws, sizeof ws, &m, &e) == IMAGE_EMODEL);
}

/* ---- tests: the engine ----------------------------------------------------------------- */

static void boot_board(void) {
  memset(&port, 0, sizeof port);
  port.next_id = 0x1000;
  board_init(&board, &port);
  boot_seen = 0;
}

static void test_hello_ping(void) {
  uint8_t ping[300];
  size_t i;
  boot_board();
  hello();
  CHECK(last.ok && last.type == (MSG_HELLO | 0x80) && last.len == BOARD_HELLO_BYTES);
  CHECK(le_get16(last.payload) == 1 && le_get16(last.payload + 2) == BOARD_PROTO_MINOR);
  CHECK(le_get16(last.payload + 30) == BOARD_RX_WINDOW);
  CHECK(boot_seen == 0x1000 && last.boot == boot_seen);
  CHECK(le_get16(last.payload + 8) == 0 && le_get16(last.payload + 10) == 1);
  CHECK(le_get16(last.payload + 14) == BOARD_MAX_PAYLOAD);
  CHECK(le_get16(last.payload + 16) == BOARD_MAX_NEURONS);
  CHECK(le_get32(last.payload + 24) == BOARD_MAX_IMAGE);
  CHECK(last.payload[28] == 0 && last.payload[29] == 0);
  CHECK(memcmp(last.payload + 100, BOARD_NAME, sizeof BOARD_NAME - 1) == 0);
  for (i = 0; i < sizeof ping; i++) ping[i] = (uint8_t)i;
  CHECK(call(MSG_PING, ping, sizeof ping) && last.len == sizeof ping);
  CHECK(memcmp(last.payload, ping, sizeof ping) == 0);
  CHECK(call(MSG_PING, NULL, 0) && last.len == 0);
  /* PING and HELLO run whatever the boot field; others get E_BOOT with the boot id. */
  request(MSG_PING, ++seq_no, 0xDEAD, ping, 3);
  CHECK(last.ok && last.type == (MSG_PING | 0x80));
  request(MSG_STATS, ++seq_no, 0xDEAD, NULL, 0);
  CHECK(last.ok && last.type == MSG_ERROR && last.err == E_BOOT && last.detail == boot_seen);
  request(MSG_STATS, ++seq_no, 0, NULL, 0);
  CHECK(last.ok && last.type == (MSG_STATS | 0x80));
  request(MSG_HELLO, ++seq_no, 0xDEAD, NULL, 0);
  CHECK(last.ok && last.type == (MSG_HELLO | 0x80));
}

static void test_framing(void) {
  size_t len;
  uint8_t junk[40];
  boot_board();
  hello();
  /* A flipped bit: dropped, not answered, counted. */
  len = make_frame(1, MSG_PING, 7, boot_seen, (const uint8_t *)"hi", 2);
  frame_enc[3] ^= 0x10;
  port.out_len = 0;
  board_feed(&board, frame_enc, len);
  CHECK(port.out_len == 0 && board.stats.crc_errors == 1);
  /* A length field that disagrees with the size (CRC fixed up): dropped as framing. */
  frame_raw[0] = 1;
  frame_raw[1] = MSG_PING;
  le_put16(frame_raw + 2, 8);
  le_put16(frame_raw + 4, 5);
  le_put16(frame_raw + 6, 0);
  le_put32(frame_raw + 8, boot_seen);
  memcpy(frame_raw + 12, "ab", 2);
  le_put32(frame_raw + 14, crc32(frame_raw, 14));
  frame_enc[0] = 0;
  len = cobs_encode(frame_raw, 18, frame_enc + 1);
  frame_enc[1 + len] = 0;
  port.out_len = 0;
  board_feed(&board, frame_enc, len + 2);
  CHECK(port.out_len == 0 && board.stats.framing_errors == 1);
  /* Short frame, empty frames, garbage: framing errors, empty ignored. */
  junk[0] = 3;
  junk[1] = 1;
  junk[2] = 2;
  junk[3] = 0;
  junk[4] = 0;
  junk[5] = 0;
  board_feed(&board, junk, 6);
  CHECK(port.out_len == 0 && board.stats.framing_errors == 2);
  /* A request split across many feeds, byte by byte, after garbage without a delimiter. */
  {
    size_t i;
    memset(junk, 0x55, sizeof junk);
    board_feed(&board, junk, sizeof junk);
    len = make_frame(1, MSG_PING, 9, boot_seen, (const uint8_t *)"xyz", 3);
    port.out_len = 0;
    for (i = 0; i < len; i++) board_feed(&board, frame_enc + i, 1);
    parse_out();
    CHECK(last.ok && last.seq == 9 && last.len == 3 && memcmp(last.payload, "xyz", 3) == 0);
    CHECK(board.stats.framing_errors == 3); /* the garbage, cut off by the leading 0x00 */
  }
  /* Version 2: E_VERSION in a version-1 header, detail 1. */
  len = make_frame(2, MSG_PING, 10, boot_seen, NULL, 0);
  port.out_len = 0;
  board_feed(&board, frame_enc, len);
  parse_out();
  CHECK(last.ok && last.type == MSG_ERROR && last.err == E_VERSION && last.detail == 1 &&
        last.seq == 10);
  /* Unknown types. */
  CHECK(call_err(0x0B, NULL, 0, E_TYPE));
  CHECK(call_err(0x85, NULL, 0, E_TYPE));
  CHECK(call_err(0x00, NULL, 0, E_TYPE));
  /* An oversize frame: dropped without writing past the buffer, counted. */
  {
    static uint8_t big[BOARD_FRAME_MAX + 300];
    static uint8_t enc[COBS_MAX_ENCODED(sizeof big) + 2];
    uint32_t fe = board.stats.framing_errors;
    size_t n;
    memset(big, 0x42, sizeof big);
    n = cobs_encode(big, sizeof big, enc);
    enc[n] = 0;
    port.out_len = 0;
    memset(board.guard1, 0x5A, sizeof board.guard1);
    board_feed(&board, enc, n + 1);
    CHECK(port.out_len == 0 && board.stats.framing_errors == fe + 1);
    CHECK(board.guard1[0] == 0x5A5A5A5Au && board.guard1[7] == 0x5A5A5A5Au); /* rx stayed in */
    CHECK(call(MSG_PING, "ok", 2)); /* and back in sync */
  }
  /* The largest PING fits; one byte more is oversize. */
  {
    static uint8_t p[BOARD_MAX_PAYLOAD + 1];
    memset(p, 0, sizeof p);
    CHECK(call(MSG_PING, p, BOARD_MAX_PAYLOAD) && last.len == BOARD_MAX_PAYLOAD);
    request(MSG_PING, ++seq_no, boot_seen, p, BOARD_MAX_PAYLOAD + 1);
    CHECK(port.out_len == 0);
  }
}

static void test_upload_and_step(void) {
  static uint8_t img[sizeof t_image], in[4 * TS * TI], ws[65536];
  static int16_t feats[4 * 2 * TN];
  static uint8_t st1[7 * TN], st2[7 * TN];
  sc_reservoir ref;
  uint8_t p[64], sha[32];
  size_t size = build_image(&t_model, img), i;
  uint32_t spikes, spikes_total = 0;
  size_t fl;

  boot_board();
  hello();
  CHECK(call_err(MSG_STEP, "\x01\x00", 2, E_NOMODEL));
  CHECK(call_err(MSG_GET_STATE, NULL, 0, E_NOMODEL));
  CHECK(call_err(MSG_SET_STATE, st1, sizeof st1, E_NOMODEL));
  CHECK(call_err(MSG_RESET, "\x00", 1, E_NOMODEL));
  CHECK(call_err(MSG_UPLOAD_CHUNK, "\0\0\0\0", 4, E_NOUPLOAD));
  CHECK(call_err(MSG_UPLOAD_DONE, NULL, 0, E_NOUPLOAD));
  CHECK(call_err(MSG_UPLOAD_BEGIN, p, 35, E_LENGTH));
  memset(p, 0, sizeof p);
  CHECK(call_err(MSG_UPLOAD_BEGIN, p, 36, E_TOOBIG));
  le_put32(p, (uint32_t)BOARD_MAX_IMAGE + 1u);
  CHECK(call_err(MSG_UPLOAD_BEGIN, p, 36, E_TOOBIG) && last.detail == BOARD_MAX_IMAGE);

  /* Begin, two chunks, a retry of the first (no change), a gap (E_OFFSET), a resume. */
  CHECK(begin(img, size) && le_get32(last.payload) == 0);
  CHECK(chunk(img, 0, 100) && le_get32(last.payload) == 100);
  CHECK(chunk(img, 100, 50) && le_get32(last.payload) == 150);
  CHECK(chunk(img, 0, 100) && le_get32(last.payload) == 150);
  CHECK(call_err(MSG_UPLOAD_CHUNK, "\xC8\0\0\0zz", 6, E_OFFSET) && last.detail == 150);
  hello();
  CHECK(last.payload[29] == 1 && le_get32(last.payload + 32) == 150);
  sha256(img, size, sha);
  CHECK(memcmp(last.payload + 68, sha, 32) == 0);
  CHECK(begin(img, size) && le_get32(last.payload) == 150); /* resumed */
  CHECK(chunk(img, 120, 80) && le_get32(last.payload) == 200); /* overlapping: tail appended */
  le_put32(p, (uint32_t)size - 2);
  memcpy(p + 4, "abcd", 4);
  CHECK(call_err(MSG_UPLOAD_CHUNK, p, 8, E_OFFSET)); /* would run past size */
  CHECK(call_err(MSG_UPLOAD_DONE, NULL, 0, E_INCOMPLETE) && last.detail == 200);
  CHECK(call_err(MSG_UPLOAD_CHUNK, "\0\0\0\0", 4, E_NOUPLOAD)); /* the error ended it */

  /* A corrupted upload: E_HASH, then no model and no upload. */
  CHECK(begin(img, size));
  img[300] ^= 1;
  for (i = 0; i < size; i += 100) CHECK(chunk(img, (uint32_t)i, size - i < 100 ? size - i : 100));
  img[300] ^= 1;
  CHECK(call_err(MSG_UPLOAD_DONE, NULL, 0, E_HASH));
  hello();
  CHECK(last.payload[28] == 0 && last.payload[29] == 0);

  /* A valid upload with the hash of a malformed image: E_MODEL; above the limits: E_LIMIT. */
  img[0] = 'X';
  CHECK(begin(img, size));
  CHECK(chunk(img, 0, size));
  CHECK(call_err(MSG_UPLOAD_DONE, NULL, 0, E_MODEL));
  {
    static uint8_t limg[72 + 6 * (BOARD_MAX_NEURONS + 1) + 3 + 3 * (BOARD_MAX_NEURONS + 1)];
    sc_model lm = t_model;
    static int16_t th[BOARD_MAX_NEURONS + 1], bi[BOARD_MAX_NEURONS + 1];
    static uint8_t ds[BOARD_MAX_NEURONS + 1], dm[BOARD_MAX_NEURONS + 1];
    static uint16_t rt[BOARD_MAX_NEURONS + 1], it[1];
    static int8_t rw[BOARD_MAX_NEURONS + 1], iw[1];
    size_t ls;
    for (i = 0; i < BOARD_MAX_NEURONS + 1; i++) {
      th[i] = 100;
      rt[i] = (uint16_t)i;
    }
    lm.neurons = BOARD_MAX_NEURONS + 1;
    lm.inputs = 1;
    lm.fanout = 1;
    lm.threshold = th;
    lm.bias = bi;
    lm.dash_syn = ds;
    lm.dash_mem = dm;
    lm.rec_target = rt;
    lm.rec_weight = rw;
    lm.in_target = it;
    lm.in_weight = iw;
    ls = build_image(&lm, limg);
    CHECK(ls == sizeof limg);
    CHECK(upload(limg, ls, 4000) == 0 && last.type == MSG_ERROR && last.err == E_LIMIT);
  }

  /* The real thing, in chunks of 61 bytes. */
  build_image(&t_model, img);
  CHECK(upload(img, size, 61));
  hello();
  CHECK(last.payload[28] == 1 && last.payload[29] == 0 && memcmp(last.payload + 36, sha, 32) == 0);

  /* STEP: 3 samples at once against the core called directly on the same model. */
  CHECK(sc_init(&ref, &t_model, ws, sizeof ws) == SC_OK);
  for (i = 0; i < sizeof in; i++) in[i] = (uint8_t)((i * 7 + 3) % 5 == 0 ? 20 : i % 3);
  p[0] = 3;
  p[1] = 0;
  {
    uint8_t req[2 + 3 * TS * TI];
    memcpy(req, p, 2);
    memcpy(req + 2, in, 3 * TS * TI);
    CHECK(call(MSG_STEP, req, sizeof req) && last.len == 4 + 3 * 4 * TN);
    spikes = sc_step(&ref, in, feats, 3);
    spikes_total += spikes;
    CHECK(le_get32(last.payload) == spikes);
    fl = 0;
    for (i = 0; i < 3 * 2 * TN; i++) fl += (int16_t)le_get16(last.payload + 4 + 2 * i) == feats[i];
    CHECK(fl == 3 * 2 * TN);
    /* A retry of the same frame: the same bytes back, and the reservoir did not advance. */
    {
      uint8_t first[600];
      size_t first_len = port.out_len;
      memcpy(first, port.out, first_len);
      request(MSG_STEP, seq_no, boot_seen, req, sizeof req);
      CHECK(port.out_len == first_len && memcmp(port.out, first, first_len) == 0);
      CHECK(board.stats.duplicates == 1 && board.stats.steps == 3);
    }
    /* The same seq with other bytes is a new request. */
    req[2] ^= 1;
    request(MSG_STEP, seq_no, boot_seen, req, sizeof req);
    CHECK(last.ok && board.stats.steps == 6);
    in[0] ^= 1;
    spikes_total += sc_step(&ref, in, feats, 3);
    (void)spikes_total;
  }
  /* Length rules. */
  CHECK(call_err(MSG_STEP, "\x00\x00", 2, E_LENGTH));
  CHECK(call_err(MSG_STEP, "\x01\x00\x01", 3, E_LENGTH));
  CHECK(call_err(MSG_STEP, "\x01", 1, E_LENGTH));
  {
    /* More samples than the response can hold. */
    static uint8_t req[2 + 200 * TS * TI];
    const uint32_t max = (BOARD_MAX_PAYLOAD - 4) / (4 * TN);
    le_put16(req, max + 1);
    memset(req + 2, 0, (max + 1) * TS * TI);
    CHECK(call_err(MSG_STEP, req, 2 + (max + 1) * TS * TI, E_LENGTH) && last.detail == max);
  }

  /* GET_STATE equals the core's; SET_STATE round trip; wrong length refused. */
  CHECK(call(MSG_GET_STATE, NULL, 0) && last.len == 7 * TN);
  CHECK(sc_get_state(&ref, st1, sizeof st1) == SC_OK && memcmp(st1, last.payload, 7 * TN) == 0);
  CHECK(call_err(MSG_SET_STATE, st1, 7 * TN - 1, E_LENGTH) && last.detail == 7 * TN);
  CHECK(call_err(MSG_SET_STATE, st1, 7 * TN + 1, E_LENGTH));
  memset(st2, 0, sizeof st2);
  st2[0] = 5;
  st2[6 * TN + 2] = 9; /* any non-zero spiked byte reads back as 1 */
  CHECK(call(MSG_SET_STATE, st2, sizeof st2) && last.len == 0);
  CHECK(call(MSG_GET_STATE, NULL, 0) && last.payload[0] == 5 && last.payload[6 * TN + 2] == 1);
  CHECK(call(MSG_RESET, "\x00", 1) && last.len == 0);
  CHECK(call(MSG_GET_STATE, NULL, 0));
  memset(st2, 0, sizeof st2);
  CHECK(memcmp(last.payload, st2, 7 * TN) == 0);
  CHECK(call_err(MSG_RESET, "\x02", 1, E_LENGTH));
  CHECK(call_err(MSG_RESET, NULL, 0, E_LENGTH));

  /* STATS. */
  CHECK(call(MSG_STATS, NULL, 0) && last.len == 40);
  CHECK(le_get32(last.payload + 32) == board.stats.steps && board.stats.steps == 6);
  CHECK(le_get32(last.payload + 24) == 1); /* duplicates */
  CHECK(le_get32(last.payload) == board.stats.rx_frames);

  /* UPLOAD_DONE with no upload keeps the model; a new BEGIN unloads it. */
  CHECK(call_err(MSG_UPLOAD_DONE, NULL, 0, E_NOUPLOAD));
  CHECK(call(MSG_GET_STATE, NULL, 0));
  CHECK(begin(img, size));
  CHECK(call_err(MSG_GET_STATE, NULL, 0, E_NOMODEL));
  CHECK(upload(img, size, BOARD_MAX_PAYLOAD - 4));

  /* RESET 1: answered in the old boot, then a new boot id and nothing loaded. */
  {
    uint32_t old = boot_seen;
    CHECK(call(MSG_RESET, "\x01", 1) && last.boot == old && port.reboots == 1);
    CHECK(board.boot_id != old);
    request(MSG_GET_STATE, ++seq_no, old, NULL, 0);
    CHECK(last.ok && last.err == E_BOOT && last.detail == board.boot_id && last.boot != old);
    hello();
    CHECK(last.payload[28] == 0 && boot_seen != old);
  }
}

/* HELLO clears the duplicate memory: a new host reusing a seq is executed, not answered from
 * memory; a reboot does too. */
static void test_duplicates(void) {
  size_t len;
  boot_board();
  hello();
  len = make_frame(1, MSG_PING, 42, boot_seen, (const uint8_t *)"a", 1);
  board_feed(&board, frame_enc, len);
  board_feed(&board, frame_enc, len);
  CHECK(board.stats.duplicates == 1);
  hello();
  len = make_frame(1, MSG_PING, 42, boot_seen, (const uint8_t *)"a", 1); /* hello() reused it */
  board_feed(&board, frame_enc, len);
  CHECK(board.stats.duplicates == 1);
  board_feed(&board, frame_enc, len);
  CHECK(board.stats.duplicates == 2);
  /* HELLO itself is never a duplicate. */
  len = make_frame(1, MSG_HELLO, 43, 0, NULL, 0);
  board_feed(&board, frame_enc, len);
  board_feed(&board, frame_enc, len);
  CHECK(board.stats.duplicates == 2);
  /* Errors are remembered too: a retried E_BOOT is answered from memory. */
  len = make_frame(1, MSG_STATS, 44, 0x77, NULL, 0);
  board_feed(&board, frame_enc, len);
  board_feed(&board, frame_enc, len);
  CHECK(board.stats.duplicates == 3 && board.stats.errors_sent == 2);
  /* A reboot from outside (the virtual board's --reset-every) forgets. */
  board_reboot(&board);
  board_feed(&board, frame_enc, len);
  CHECK(board.stats.duplicates == 0 && board.stats.rx_frames == 1);
  /* Bytes after a RESET 1 in the same feed are lost with the reboot. */
  hello();
  {
    static uint8_t two[256];
    size_t a = make_frame(1, MSG_RESET, 50, boot_seen, (const uint8_t *)"\x01", 1);
    memcpy(two, frame_enc, a);
    len = make_frame(1, MSG_PING, 51, 0, NULL, 0);
    memcpy(two + a, frame_enc, len);
    port.writes = 0;
    board_feed(&board, two, a + len);
    CHECK(port.writes == 1);
  }
}

int main(void) {
  make_model();
  test_crc();
  test_cobs();
  test_cobs_runs();
  test_sha256();
  test_image();
  test_hello_ping();
  test_framing();
  test_upload_and_step();
  test_duplicates();
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
