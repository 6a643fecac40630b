/*
 * Consistent Overhead Byte Stuffing (Cheshire and Baker 1999), the framing of PROTOCOL.md
 * section 1: an encoder, and a decoder that takes the wire one byte at a time so that a frame
 * is decoded as it arrives, into a buffer of a fixed size, with no copy of the encoded bytes.
 */
#ifndef SPIKECAP_COBS_H
#define SPIKECAP_COBS_H

#include <stddef.h>
#include <stdint.h>

/* The most bytes cobs_encode writes for n input bytes (one code byte per started run of up to
 * 254 bytes), not counting the 0x00 delimiter the caller appends. */
#define COBS_MAX_ENCODED(n) ((n) + (n) / 254u + 1u)

/* How far ahead of `out` the input may start when encoding in place (see cobs_encode). */
#define COBS_INPLACE_GAP(n) ((n) / 254u + 1u)

/* Encodes in[0..n) into out and returns the encoded length (at most COBS_MAX_ENCODED(n));
 * the encoding contains no 0x00. `out` may overlap `in` if out + COBS_INPLACE_GAP(n) <= in:
 * the writer never gets ahead of the reader, so a response can be built in the transmit buffer
 * itself and encoded where it lies, which saves a second frame-sized buffer. */
size_t cobs_encode(const uint8_t *in, size_t n, uint8_t *out);

/* The result of feeding one byte to the decoder. */
enum cobs_event {
  COBS_MORE = 0,     /* inside a frame, or between frames */
  COBS_FRAME = 1,    /* a delimiter ended a well-formed frame: `*len` bytes are in buf */
  COBS_EMPTY = 2,    /* a delimiter with nothing before it (ignored, PROTOCOL.md 1) */
  COBS_ERROR = 3,    /* a delimiter ended a frame whose last code byte ran past it */
  COBS_OVERSIZE = 4  /* a delimiter ended a frame that decoded to more than `cap` bytes */
};

/* Decoder state. buf[0..cap) receives the decoded frame; nothing past cap is ever written. */
typedef struct cobs_decoder {
  uint8_t *buf;
  size_t cap;
  size_t len;       /* decoded bytes so far in this frame */
  uint8_t left;     /* data bytes still to come in the current run; 0: next byte is a code */
  uint8_t code;     /* the current run's code byte (0: no run started in this frame yet) */
  uint8_t oversize; /* the frame outgrew buf: drop bytes up to the next delimiter */
} cobs_decoder;

void cobs_decoder_init(cobs_decoder *d, uint8_t *buf, size_t cap);

/* Back to "between frames", dropping any partial frame. */
void cobs_decoder_reset(cobs_decoder *d);

/* Takes one byte from the wire. On COBS_FRAME, *len is the frame's decoded length and the
 * frame stays in buf until the next call; the decoder is then ready for the next frame. */
enum cobs_event cobs_decode_byte(cobs_decoder *d, uint8_t byte, size_t *len);

/* The same decoder, a run at a time: takes bytes from in[0..n) up to and including the first
 * delimiter, stores *used (how many it took) and returns what that delimiter ended (as
 * cobs_decode_byte would have for it), or COBS_MORE with *used == n if there was none. Exactly
 * equivalent to feeding the bytes one by one, but the data bytes of a run are copied with
 * memcpy, which is what makes a large upload chunk cheap to receive. */
enum cobs_event cobs_decode(cobs_decoder *d, const uint8_t *in, size_t n, size_t *used,
                            size_t *len);

#endif
