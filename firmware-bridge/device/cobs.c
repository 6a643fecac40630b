/*
 * COBS encoding and incremental decoding (see cobs.h).
 *
 * A run is a code byte c followed by c - 1 non-zero data bytes; the run stands for its data
 * followed by one 0x00, except a run of code 0xFF (254 data bytes, no zero) and the frame's
 * last run (whose zero is the delimiter's, not data). The decoder therefore emits a run's
 * implied zero lazily, when the next code byte shows that another run follows.
 */
#include "cobs.h"

size_t cobs_encode(const uint8_t *in, size_t n, uint8_t *out) {
  size_t code_at = 0; /* where the current run's code byte goes */
  size_t w = 1;       /* next data byte goes here */
  uint8_t code = 1;   /* 1 + data bytes in the current run */
  size_t i;
  for (i = 0; i < n; i++) {
    const uint8_t b = in[i]; /* read before any write: out may trail in (see cobs.h) */
    if (b == 0) {
      out[code_at] = code;
      code_at = w++;
      code = 1;
      continue;
    }
    out[w++] = b;
    code++;
    /* A full run ends without an implied zero. Only open the next run if bytes remain, so that
     * 254 non-zero bytes encode as FF + data, without a trailing 01. */
    if (code == 0xFFu && i + 1u < n) {
      out[code_at] = code;
      code_at = w++;
      code = 1;
    }
  }
  out[code_at] = code;
  return w;
}

void cobs_decoder_init(cobs_decoder *d, uint8_t *buf, size_t cap) {
  d->buf = buf;
  d->cap = cap;
  cobs_decoder_reset(d);
}

void cobs_decoder_reset(cobs_decoder *d) {
  d->len = 0;
  d->left = 0;
  d->code = 0;
  d->oversize = 0;
}

/* Stores one decoded byte, or marks the frame oversize once it no longer fits. */
static void emit(cobs_decoder *d, uint8_t b) {
  if (d->len < d->cap) {
    d->buf[d->len++] = b;
  } else {
    d->oversize = 1;
  }
}

enum cobs_event cobs_decode_byte(cobs_decoder *d, uint8_t byte, size_t *len) {
  enum cobs_event ev;
  if (byte != 0) {
    if (d->oversize) return COBS_MORE;
    if (d->left > 0) {
      emit(d, byte);
      d->left--;
    } else {
      if (d->code != 0 && d->code != 0xFFu) emit(d, 0);
      d->code = byte;
      d->left = (uint8_t)(byte - 1u);
    }
    return COBS_MORE;
  }
  /* A delimiter: classify what came before it, then start afresh. */
  if (d->oversize) {
    ev = COBS_OVERSIZE;
  } else if (d->code == 0) {
    ev = COBS_EMPTY;
  } else if (d->left != 0) {
    ev = COBS_ERROR;
  } else {
    ev = COBS_FRAME;
    *len = d->len;
  }
  cobs_decoder_reset(d);
  return ev;
}
