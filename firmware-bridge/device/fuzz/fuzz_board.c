/*
 * libFuzzer target of the device's receive path (build: make fuzz; run:
 * scripts/fuzz-device.sh). Every input boots a fresh board and feeds it bytes in one of the
 * modes of fuzz_common.h. Besides ASan/UBSan's memory and UB checks, the port checks every
 * frame the board sends: one COBS frame between a leading 0x00 and its delimiter, a good CRC,
 * version 1, a length field that matches, a payload within max_payload, and the board's own
 * boot id. A violation aborts, which the fuzzer reports as a crash, and so does a write into
 * the guard words between the board's buffers (built with -DBOARD_GUARDS).
 */
#include <stdlib.h>
#include <string.h>

#include "board.h"
#include "fuzz_common.h"
#include "sha256.h"

struct port {
  uint32_t ms;
  uint32_t next_id;
  struct board *board;
  uint8_t dec[BOARD_FRAME_MAX];
};

static struct board board;
static struct port port;

size_t port_read(struct port *p, uint8_t *buf, size_t cap) {
  (void)p;
  (void)buf;
  (void)cap;
  return 0;
}

static void invariant(int ok) {
  if (!ok) abort();
}

/* The guard words between the board's buffers (board.h, BOARD_GUARDS). */
#define GUARD_WORD 0xA5C3E1F0u
static uint32_t *const guards[5] = {board.guard0, board.guard1, board.guard2, board.guard3,
                                    board.guard4};

static void guards_set(void) {
  unsigned g, i;
  for (g = 0; g < 5u; g++) {
    for (i = 0; i < sizeof board.guard0 / sizeof board.guard0[0]; i++) guards[g][i] = GUARD_WORD;
  }
}

static void guards_check(void) {
  unsigned g, i;
  for (g = 0; g < 5u; g++) {
    for (i = 0; i < sizeof board.guard0 / sizeof board.guard0[0]; i++) {
      invariant(guards[g][i] == GUARD_WORD);
    }
  }
}

void port_write(struct port *p, const uint8_t *buf, size_t n) {
  cobs_decoder d;
  size_t i, len = 0;
  invariant(n >= 3 && buf[0] == 0 && buf[n - 1] == 0);
  cobs_decoder_init(&d, p->dec, sizeof p->dec);
  invariant(cobs_decode_byte(&d, buf[0], &len) == COBS_EMPTY);
  for (i = 1; i + 1 < n; i++) invariant(cobs_decode_byte(&d, buf[i], &len) == COBS_MORE);
  invariant(cobs_decode_byte(&d, buf[n - 1], &len) == COBS_FRAME);
  invariant(len >= 16 && len <= BOARD_FRAME_MAX);
  invariant(crc32(p->dec, len - 4) == le_get32(p->dec + len - 4));
  invariant(p->dec[0] == 1 && le_get16(p->dec + 4) == len - 16);
  invariant(le_get32(p->dec + 8) == p->board->boot_id && p->board->boot_id != 0);
  invariant((p->dec[1] & 0x80u) != 0);
}

uint32_t port_millis(struct port *p) {
  return p->ms += 3;
}

uint32_t port_boot_id(struct port *p) {
  return p->next_id++ * 2654435761u; /* 0 once in 2^32 boots: the engine retries */
}

void port_reboot(struct port *p) {
  (void)p;
}

static uint8_t raw[65536 + 16];
static uint8_t wire[COBS_MAX_ENCODED(sizeof raw) + 2];
static uint16_t seq;

static void send(uint8_t version, uint8_t type, uint16_t len_field, uint32_t boot,
                 const uint8_t *payload, size_t n, int bad_crc, int bytewise) {
  size_t len = fuzz_frame(wire, raw, version, type, seq, len_field, boot, payload, n, bad_crc);
  size_t i;
  if (!bytewise) {
    board_feed(&board, wire, len);
    return;
  }
  for (i = 0; i < len; i++) board_feed(&board, wire + i, 1);
}

static void request(uint8_t type, const uint8_t *payload, size_t n) {
  seq++;
  send(1, type, (uint16_t)n, board.boot_id, payload, n, 0, 0);
}

/* Uploads an image through the protocol with its true SHA-256, in chunks of 1000 bytes. */
static void upload(const uint8_t *img, size_t n) {
  static uint8_t p[1004];
  size_t off;
  le_put32(p, (uint32_t)n);
  sha256(img, n, p + 4);
  request(MSG_UPLOAD_BEGIN, p, 36);
  for (off = 0; off < n; off += 1000) {
    const size_t k = n - off < 1000 ? n - off : 1000;
    le_put32(p, (uint32_t)off);
    memcpy(p + 4, img + off, k);
    request(MSG_UPLOAD_CHUNK, p, 4 + k);
  }
  request(MSG_UPLOAD_DONE, NULL, 0);
}

static void run_frames(const uint8_t *data, size_t size) {
  while (size >= 4) {
    const uint8_t type = data[0], flags = data[1];
    size_t n = le_get16(data + 2);
    uint32_t boot = board.boot_id;
    data += 4;
    size -= 4;
    if (n > size) n = size;
    if (flags & FF_BOOT_ZERO) boot = 0;
    if (flags & FF_BOOT_STALE) boot ^= 0x5A5A5A5Au;
    if (!(flags & FF_SAME_SEQ)) seq++;
    send((flags & FF_VERSION2) ? 2 : 1, type, (uint16_t)(n + ((flags & FF_BAD_LEN) ? 1 : 0)),
         boot, data, n, (flags & FF_BAD_CRC) != 0, (flags & FF_BYTEWISE) != 0);
    if (flags & FF_TWICE) {
      send((flags & FF_VERSION2) ? 2 : 1, type, (uint16_t)(n + ((flags & FF_BAD_LEN) ? 1 : 0)),
           boot, data, n, (flags & FF_BAD_CRC) != 0, 0);
    }
    data += n;
    size -= n;
  }
}

static void run_image(const uint8_t *data, size_t size) {
  static uint8_t in[BOARD_MAX_PAYLOAD];
  static uint8_t state[BOARD_MAX_PAYLOAD];
  size_t n, per, k;
  if (size < 2) return;
  n = le_get16(data);
  data += 2;
  size -= 2;
  if (n > size) n = size;
  if (n == 0) return;
  upload(data, n);
  data += n;
  size -= n;
  if (!board.model_loaded) return;
  /* Up to three STEPs of up to 3 samples from the remaining bytes, then the state calls. */
  per = (size_t)board.model.substeps * board.model.inputs;
  for (k = 0; k < 3 && size >= per; k++) {
    size_t samples = size / per;
    if (samples > 3) samples = 3;
    if (2u + samples * per > sizeof in) samples = (sizeof in - 2u) / per;
    le_put16(in, (uint32_t)samples);
    memcpy(in + 2, data, samples * per);
    request(MSG_STEP, in, 2 + samples * per);
    data += samples * per;
    size -= samples * per;
  }
  request(MSG_GET_STATE, NULL, 0);
  if (7u * board.model.neurons <= sizeof state) {
    const size_t sb = 7u * board.model.neurons;
    size_t i;
    for (i = 0; i < sb; i++) state[i] = i < size ? data[i] : (uint8_t)i;
    request(MSG_SET_STATE, state, sb);
    le_put16(in, 1);
    memset(in + 2, 1, per); /* per <= 16 * 256 < sizeof in - 2 */
    request(MSG_STEP, in, 2 + per);
  }
  request(MSG_RESET, (const uint8_t *)"\0", 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t mode;
  memset(&port, 0, sizeof port);
  port.board = &board;
  port.next_id = 1;
  board_init(&board, &port);
  guards_set();
  seq = 0;
  if (size == 0) return 0;
  mode = data[0];
  data++;
  size--;
  switch (mode % 3u) {
    case FUZZ_RAW: {
      /* The bytes again and again: long and oversize frames from short inputs. */
      unsigned reps = 1u + (mode >> 3), r;
      for (r = 0; r < reps; r++) board_feed(&board, data, size);
      break;
    }
    case FUZZ_FRAMES:
      if (mode & FUZZ_PRELOAD) {
        static uint8_t tiny[FUZZ_TINY_BYTES];
        fuzz_tiny_image(tiny);
        upload(tiny, sizeof tiny);
        invariant(board.model_loaded);
      }
      run_frames(data, size);
      break;
    default: run_image(data, size); break;
  }
  guards_check();
  return 0;
}
