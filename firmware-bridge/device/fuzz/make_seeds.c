/*
 * Writes the seed corpus of the fuzz target (scripts/fuzz-device.sh): a few valid inputs of
 * each mode of fuzz_common.h, so the fuzzer starts from frames that get past the CRC.
 *   fuzz-seeds DIR
 */
#include <stdio.h>
#include <string.h>

#include "board.h"
#include "fuzz_common.h"

static uint8_t buf[16384];
static size_t len;
static uint8_t raw[4096], wire[COBS_MAX_ENCODED(4096) + 2];
static const char *dir;
static int failed;

static void put(const void *p, size_t n) {
  if (len + n <= sizeof buf) {
    memcpy(buf + len, p, n);
    len += n;
  }
}

/* A RAW-mode request: the bytes exactly as a host sends them. */
static void raw_req(uint8_t type, uint16_t seq, const void *payload, size_t n) {
  put(wire, fuzz_frame(wire, raw, 1, type, seq, (uint16_t)n, 0, payload, n, 0));
}

/* A FRAMES-mode record. */
static void rec(uint8_t type, uint8_t flags, const void *payload, size_t n) {
  uint8_t h[4];
  h[0] = type;
  h[1] = flags;
  le_put16(h + 2, (uint32_t)n);
  put(h, 4);
  put(payload, n);
}

static void save(const char *name) {
  char path[4096];
  FILE *f;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  f = fopen(path, "wb");
  if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
    fprintf(stderr, "fuzz-seeds: cannot write %s\n", path);
    failed = 1;
  }
  len = 0;
}

int main(int argc, char **argv) {
  static uint8_t tiny[FUZZ_TINY_BYTES];
  uint8_t step[2 + 2 * FUZZ_TINY_S * FUZZ_TINY_I], state[7 * FUZZ_TINY_N], mode;
  unsigned i;
  if (argc != 2) {
    fprintf(stderr, "usage: fuzz-seeds DIR\n");
    return 2;
  }
  dir = argv[1];
  fuzz_tiny_image(tiny);
  le_put16(step, 2);
  for (i = 2; i < sizeof step; i++) step[i] = (uint8_t)(i % 4);
  memset(state, 0, sizeof state);
  state[3] = 7;

  mode = FUZZ_RAW;
  put(&mode, 1);
  raw_req(MSG_HELLO, 1, NULL, 0);
  save("raw-hello");
  put(&mode, 1);
  raw_req(MSG_PING, 2, "spikecap", 8);
  save("raw-ping");
  put(&mode, 1);
  raw_req(MSG_HELLO, 1, NULL, 0);
  raw_req(MSG_STEP, 2, step, sizeof step);
  raw_req(MSG_STATS, 3, NULL, 0);
  save("raw-hello-step-stats");

  mode = FUZZ_FRAMES | FUZZ_PRELOAD;
  put(&mode, 1);
  rec(MSG_HELLO, FF_BOOT_ZERO, NULL, 0);
  rec(MSG_STEP, 0, step, sizeof step);
  rec(MSG_STEP, FF_SAME_SEQ, step, sizeof step);
  rec(MSG_GET_STATE, 0, NULL, 0);
  rec(MSG_SET_STATE, 0, state, sizeof state);
  rec(MSG_STEP, FF_TWICE | FF_BYTEWISE, step, sizeof step);
  rec(MSG_RESET, 0, "\0", 1);
  rec(MSG_STATS, FF_BOOT_STALE, NULL, 0);
  rec(MSG_PING, FF_VERSION2, "x", 1);
  rec(MSG_RESET, 0, "\1", 1);
  save("frames-model");
  mode = FUZZ_FRAMES;
  put(&mode, 1);
  {
    uint8_t begin[36], chunk[4 + 64];
    le_put32(begin, sizeof tiny);
    sha256(tiny, sizeof tiny, begin + 4);
    rec(MSG_UPLOAD_BEGIN, 0, begin, sizeof begin);
    le_put32(chunk, 0);
    memcpy(chunk + 4, tiny, 64);
    rec(MSG_UPLOAD_CHUNK, 0, chunk, sizeof chunk);
    rec(MSG_UPLOAD_CHUNK, FF_BAD_CRC, chunk, sizeof chunk);
    rec(MSG_UPLOAD_BEGIN, 0, begin, sizeof begin);
    rec(MSG_UPLOAD_DONE, FF_BAD_LEN, NULL, 0);
    rec(MSG_UPLOAD_DONE, 0, NULL, 0);
  }
  save("frames-upload");

  mode = FUZZ_IMAGE;
  put(&mode, 1);
  {
    uint8_t n[2];
    le_put16(n, sizeof tiny);
    put(n, 2);
    put(tiny, sizeof tiny);
    for (i = 0; i < 3 * FUZZ_TINY_S * FUZZ_TINY_I + 7 * FUZZ_TINY_N; i++) put(&step[2 + i % 8], 1);
  }
  save("image-tiny");
  return failed;
}
