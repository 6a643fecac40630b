/*
 * COBS encoding and incremental decoding (see cobs.h).
 *
 * A run is a code byte c followed by c - 1 non-zero data bytes; the run stands for its data
 * followed by one 0x00, except a run of code 0xFF (254 data bytes, no zero) and the frame's
 * last run (whose zero is the delimiter's, not data). The decoder therefore emits a run's
 * implied zero lazily, when the next code byte shows that another run follows.
 */
#include "cobs.h"

#include <string.h>

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

/* Runs at least this long are found and copied with memchr and memcpy, shorter ones byte by
 * byte. */
#define COBS_MEMCPY_RUN 32u

/* Stores one decoded byte, or marks the frame oversize once it no longer fits. */
static void emit(cobs_decoder *d, uint8_t b) {
  if (d->len < d->cap) {
    d->buf[d->len++] = b;
  } else {
    d->oversize = 1;
  }
}

/* What a delimiter ends: classify what came before it, then start afresh. */
static enum cobs_event end_frame(cobs_decoder *d, size_t *len) {
  enum cobs_event ev;
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

enum cobs_event cobs_decode_byte(cobs_decoder *d, uint8_t byte, size_t *len) {
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
  return end_frame(d, len);
}

enum cobs_event cobs_decode(cobs_decoder *d, const uint8_t *in, size_t n, size_t *used,
                            size_t *len) {
  size_t i = 0;
  while (i < n) {
    const uint8_t byte = in[i];
    if (byte == 0) {
      *used = i + 1u;
      return end_frame(d, len);
    }
    if (d->oversize) {
      /* Dropping up to the next delimiter. */
      const uint8_t *zero = memchr(in + i, 0, n - i);
      i = zero != NULL ? (size_t)(zero - in) : n;
    } else if (d->left > 0) {
      /* Up to `left` data bytes of the current run, as far as the input goes and short of a
       * delimiter (which would end the frame, as an error, mid-run). */
      size_t run = d->left < n - i ? d->left : n - i;
      size_t fit;
      if (run >= COBS_MEMCPY_RUN) {
        const uint8_t *zero = memchr(in + i, 0, run);
        if (zero != NULL) run = (size_t)(zero - (in + i));
        fit = run < d->cap - d->len ? run : d->cap - d->len;
        memcpy(d->buf + d->len, in + i, fit);
      } else {
        /* Short runs (a model image has a zero every few bytes): a plain loop beats the
         * calls. */
        const size_t room = d->cap - d->len;
        size_t k;
        for (k = 0; k < run && in[i + k] != 0; k++) {
          if (k < room) d->buf[d->len + k] = in[i + k];
        }
        run = k;
        fit = run < room ? run : room;
      }
      d->len += fit;
      if (fit < run) d->oversize = 1;
      d->left = (uint8_t)(d->left - run);
      i += run;
    } else {
      /* A code byte: the previous run's implied zero (if it has one), then a new run. */
      if (d->code != 0 && d->code != 0xFFu) emit(d, 0);
      d->code = byte;
      d->left = (uint8_t)(byte - 1u);
      i++;
    }
  }
  *used = n;
  return COBS_MORE;
}
