/*
 * The protocol engine (see board.h): framing and checks of PROTOCOL.md section 1, the rules
 * of section 4 (duplicates, boot ids), and the handlers of section 3.
 *
 * Trust boundary: everything in rx comes from the wire. A frame is used only after its COBS
 * decoding (bounded by the buffer), its CRC and its length field have been checked, and every
 * handler checks its payload length before reading a field, and every size derived from the
 * payload against the buffer it goes into, before copying.
 */
#include "board.h"

#include <string.h>

#include "crc32.h"
#include "image.h"
#include "le.h"

/* respond() encodes the raw frame at BOARD_TX_RAW_OFF into tx + 1, in place: the encoder must
 * stay behind its input, and the encoding plus both delimiters must fit the buffer. */
BOARD_STATIC_ASSERT(tx_inplace, BOARD_TX_RAW_OFF >= 1ul + COBS_INPLACE_GAP(BOARD_FRAME_MAX));
BOARD_STATIC_ASSERT(tx_room, 2ul + COBS_MAX_ENCODED(BOARD_FRAME_MAX) <= BOARD_TX_BYTES);

/* ---- responses ------------------------------------------------------------------------- */

static uint8_t *tx_bytes(struct board *b) {
  return (uint8_t *)b->tx;
}

/* Where a handler writes its response payload (the raw frame starts 12 bytes before). */
static uint8_t *resp_payload(struct board *b) {
  return tx_bytes(b) + BOARD_TX_RAW_OFF + BOARD_HEADER_BYTES;
}

static void transmit(struct board *b) {
  port_write(b->port, tx_bytes(b), b->tx_len);
  b->stats.tx_frames++;
  b->stats.tx_bytes += (uint32_t)b->tx_len;
  if (b->dup_is_error) b->stats.errors_sent++;
}

static void send_error(struct board *b, uint16_t code, uint32_t detail, const char *text);

/* Frames, encodes and sends the response whose payload (plen bytes) is at resp_payload, and
 * remembers it as the answer to the current request (seq and CRC). A leading 0x00 cuts off any
 * garbage the host holds, so a corrupted delimiter costs one frame, not two. */
static void respond(struct board *b, uint8_t type, size_t plen) {
  uint8_t *tx = tx_bytes(b);
  uint8_t *raw = tx + BOARD_TX_RAW_OFF;
  size_t enc;
  if (plen > BOARD_MAX_PAYLOAD) {
    /* Cannot happen (every handler bounds its payload), but never frame past the buffer. */
    send_error(b, E_INTERNAL, (uint32_t)plen, "response too large");
    return;
  }
  raw[0] = (uint8_t)BOARD_PROTO_MAJOR;
  raw[1] = type;
  le_put16(raw + 2, b->req_seq);
  le_put16(raw + 4, (uint32_t)plen);
  le_put16(raw + 6, 0);
  le_put32(raw + 8, b->boot_id);
  le_put32(raw + BOARD_HEADER_BYTES + plen, crc32(raw, BOARD_HEADER_BYTES + plen));
  tx[0] = 0;
  enc = cobs_encode(raw, BOARD_HEADER_BYTES + plen + BOARD_CRC_BYTES, tx + 1);
  tx[1u + enc] = 0;
  b->tx_len = enc + 2u;
  b->dup_valid = 1;
  b->dup_seq = b->req_seq;
  b->dup_crc = b->req_crc;
  b->dup_is_error = type == MSG_ERROR;
  transmit(b);
}

static void send_error(struct board *b, uint16_t code, uint32_t detail, const char *text) {
  uint8_t *p = resp_payload(b);
  size_t n = 0;
  le_put16(p, code);
  le_put16(p + 2, 0);
  le_put32(p + 4, detail);
  while (text != NULL && text[n] != '\0' && n < BOARD_ERROR_TEXT_MAX) {
    p[8u + n] = (uint8_t)text[n];
    n++;
  }
  respond(b, MSG_ERROR, 8u + n);
}

/* ---- boot ------------------------------------------------------------------------------ */

/* Everything volatile back to power-on, with a boot id different from the last one. */
static void boot(struct board *b) {
  const uint32_t old = b->boot_id;
  uint32_t id;
  unsigned tries = 0;
  do {
    id = port_boot_id(b->port);
  } while ((id == 0u || id == old) && ++tries < 16u);
  if (id == 0u || id == old) id = old + 1u == 0u ? 1u : old + 1u; /* a broken RNG */
  b->boot_id = id;
  b->boot_ms = port_millis(b->port);
  memset(&b->stats, 0, sizeof b->stats);
  cobs_decoder_init(&b->rx_dec, (uint8_t *)b->rx, BOARD_FRAME_MAX);
  b->dup_valid = 0;
  b->tx_len = 0;
  b->upload_active = 0;
  b->upload_size = 0;
  b->upload_offset = 0;
  memset(b->upload_sha, 0, sizeof b->upload_sha);
  b->model_loaded = 0;
  memset(b->model_sha, 0, sizeof b->model_sha);
  memset(&b->model, 0, sizeof b->model);
  memset(&b->res, 0, sizeof b->res);
}

void board_init(struct board *b, struct port *port) {
  b->port = port;
  b->boot_id = 0;
  b->rebooting = 0;
  boot(b);
}

void board_reboot(struct board *b) {
  boot(b);
  b->rebooting = 1;
  port_reboot(b->port);
}

/* ---- handlers: each gets the request payload p[0..n), already length-checked as a frame -- */

static void on_hello(struct board *b) {
  uint8_t *p = resp_payload(b);
  static const char name[] = BOARD_NAME;
  size_t i;
  memset(p, 0, BOARD_HELLO_BYTES);
  le_put16(p + 0, BOARD_PROTO_MAJOR);
  le_put16(p + 2, BOARD_PROTO_MINOR);
  le_put32(p + 4, b->boot_id);
  le_put16(p + 8, BOARD_FW_MAJOR);
  le_put16(p + 10, BOARD_FW_MINOR);
  le_put16(p + 12, BOARD_FW_PATCH);
  le_put16(p + 14, BOARD_MAX_PAYLOAD);
  le_put16(p + 16, BOARD_MAX_NEURONS);
  le_put16(p + 18, BOARD_MAX_INPUTS);
  le_put16(p + 20, BOARD_MAX_FANOUT);
  le_put16(p + 22, BOARD_MAX_SUBSTEPS);
  le_put32(p + 24, (uint32_t)BOARD_MAX_IMAGE);
  p[28] = b->model_loaded;
  p[29] = b->upload_active;
  le_put16(p + 30, BOARD_RX_WINDOW);
  le_put32(p + 32, b->upload_active ? b->upload_offset : 0u);
  if (b->model_loaded) memcpy(p + 36, b->model_sha, SHA256_BYTES);
  if (b->upload_active) memcpy(p + 68, b->upload_sha, SHA256_BYTES);
  for (i = 0; i < 32u && i + 1u < sizeof name; i++) p[100u + i] = (uint8_t)name[i];
  respond(b, MSG_HELLO | MSG_RESPONSE, BOARD_HELLO_BYTES);
  /* A host that says HELLO may be a new one: no request of an earlier host can be answered
   * from memory after this (section 3.1). */
  b->dup_valid = 0;
}

static void unload_model(struct board *b) {
  b->model_loaded = 0;
  memset(b->model_sha, 0, sizeof b->model_sha);
}

static void abort_upload(struct board *b) {
  b->upload_active = 0;
  b->upload_size = 0;
  b->upload_offset = 0;
  memset(b->upload_sha, 0, sizeof b->upload_sha);
}

static void respond_offset(struct board *b, uint8_t type) {
  le_put32(resp_payload(b), b->upload_offset);
  respond(b, type | MSG_RESPONSE, 4u);
}

static void on_upload_begin(struct board *b, const uint8_t *p, size_t n) {
  uint32_t size;
  if (n < 4u + SHA256_BYTES) {
    send_error(b, E_LENGTH, 4u + SHA256_BYTES, "UPLOAD_BEGIN needs size and sha256");
    return;
  }
  size = le_get32(p);
  if (size == 0u || size > BOARD_MAX_IMAGE) {
    send_error(b, E_TOOBIG, (uint32_t)BOARD_MAX_IMAGE, "image empty or above max_image");
    return;
  }
  if (b->upload_active && size == b->upload_size &&
      memcmp(p + 4, b->upload_sha, SHA256_BYTES) == 0) {
    respond_offset(b, MSG_UPLOAD_BEGIN); /* resumed */
    return;
  }
  /* A new upload overwrites the image buffer, which is the loaded model's. */
  unload_model(b);
  b->upload_active = 1;
  b->upload_size = size;
  b->upload_offset = 0;
  memcpy(b->upload_sha, p + 4, SHA256_BYTES);
  sha256_init(&b->upload_hash);
  respond_offset(b, MSG_UPLOAD_BEGIN);
}

static void on_upload_chunk(struct board *b, const uint8_t *p, size_t n) {
  uint32_t off, have;
  size_t len;
  if (n < 4u) {
    send_error(b, E_LENGTH, 4u, "UPLOAD_CHUNK needs an offset");
    return;
  }
  if (!b->upload_active) {
    send_error(b, E_NOUPLOAD, 0, "no upload in progress");
    return;
  }
  off = le_get32(p);
  len = n - 4u;
  have = b->upload_offset; /* <= upload_size <= BOARD_MAX_IMAGE */
  if (off > have || len > (size_t)(b->upload_size - off)) {
    send_error(b, E_OFFSET, have, off > have ? "chunk starts past the bytes received"
                                             : "chunk runs past the image size");
    return;
  }
  /* Bytes below `have` were received already (a retry, or a resend that overlaps): only the
   * part past it is new. off + len <= upload_size here, so the copy stays in the image. */
  if (off + len > have) {
    const size_t skip = have - off, add = off + len - have;
    memcpy((uint8_t *)b->image + have, p + 4u + skip, add);
    sha256_update(&b->upload_hash, p + 4u + skip, add);
    b->upload_offset = (uint32_t)(have + add);
  }
  respond_offset(b, MSG_UPLOAD_CHUNK);
}

static void on_upload_done(struct board *b) {
  uint8_t sha[SHA256_BYTES];
  image_limits lim;
  image_error ierr;
  enum image_status st;
  int rc;
  if (!b->upload_active) {
    send_error(b, E_NOUPLOAD, 0, "no upload in progress");
    return;
  }
  if (b->upload_offset != b->upload_size) {
    const uint32_t have = b->upload_offset;
    abort_upload(b);
    send_error(b, E_INCOMPLETE, have, "upload incomplete");
    return;
  }
  sha256_final(&b->upload_hash, sha);
  if (memcmp(sha, b->upload_sha, SHA256_BYTES) != 0) {
    abort_upload(b);
    send_error(b, E_HASH, 0, "SHA-256 of the upload does not match UPLOAD_BEGIN");
    return;
  }
  lim.max_neurons = BOARD_MAX_NEURONS;
  lim.max_inputs = BOARD_MAX_INPUTS;
  lim.max_fanout = BOARD_MAX_FANOUT;
  lim.max_substeps = BOARD_MAX_SUBSTEPS;
  lim.workspace_bytes = sizeof b->workspace;
  st = image_load((uint8_t *)b->image, b->upload_size, &lim, b->workspace, sizeof b->workspace,
                  &b->model, &ierr);
  if (st != IMAGE_OK) {
    abort_upload(b);
    send_error(b, st == IMAGE_ELIMIT ? E_LIMIT : E_MODEL, ierr.detail, ierr.text);
    return;
  }
  rc = sc_init(&b->res, &b->model, b->workspace, sizeof b->workspace); /* state zero */
  if (rc != SC_OK) {
    abort_upload(b);
    send_error(b, rc == SC_ENOMEM ? E_LIMIT : E_MODEL, 0, "the core refused the model");
    return;
  }
  memcpy(b->model_sha, sha, SHA256_BYTES);
  b->model_loaded = 1;
  abort_upload(b); /* finished: no upload in progress */
  memcpy(resp_payload(b), b->model_sha, SHA256_BYTES);
  respond(b, MSG_UPLOAD_DONE | MSG_RESPONSE, SHA256_BYTES);
}

static void on_step(struct board *b, const uint8_t *p, size_t n) {
  uint32_t samples, per_in, per_out, spikes;
  uint8_t *out;
  if (n < 2u) {
    send_error(b, E_LENGTH, 2u, "STEP needs a sample count");
    return;
  }
  if (!b->model_loaded) {
    send_error(b, E_NOMODEL, 0, "no model loaded");
    return;
  }
  samples = le_get16(p);
  per_in = b->model.substeps * b->model.inputs; /* <= 16 * 256 */
  per_out = 4u * b->model.neurons;              /* <= 4 * BOARD_MAX_NEURONS */
  if (samples == 0u) {
    send_error(b, E_LENGTH, 0, "STEP of 0 samples");
    return;
  }
  if (n - 2u != (size_t)samples * per_in) {
    send_error(b, E_LENGTH, 2u + samples * per_in, "STEP inputs are not samples*S*I bytes");
    return;
  }
  if (samples > (BOARD_MAX_PAYLOAD - 4u) / per_out) {
    send_error(b, E_LENGTH, (BOARD_MAX_PAYLOAD - 4u) / per_out,
               "STEP response would exceed max_payload");
    return;
  }
  out = resp_payload(b);
  /* out + 4 is 4-aligned (BOARD_TX_RAW_OFF), as sc_step's int16 features need. */
  spikes = sc_step(&b->res, p + 2, (int16_t *)(void *)(out + 4), samples);
  if (!le_native()) {
    /* The features went out in host order; the wire wants little-endian. */
    uint8_t *f = out + 4;
    size_t i;
    for (i = 0; i < (size_t)samples * per_out; i += 2u) {
      const uint8_t t = f[i];
      f[i] = f[i + 1u];
      f[i + 1u] = t;
    }
  }
  le_put32(out, spikes);
  b->stats.steps += samples;
  respond(b, MSG_STEP | MSG_RESPONSE, 4u + (size_t)samples * per_out);
}

static void on_get_state(struct board *b) {
  const size_t bytes = 7u * (size_t)b->model.neurons;
  if (!b->model_loaded) {
    send_error(b, E_NOMODEL, 0, "no model loaded");
    return;
  }
  if (sc_get_state(&b->res, resp_payload(b), bytes) != SC_OK) {
    send_error(b, E_INTERNAL, 0, "the core could not read its state");
    return;
  }
  respond(b, MSG_GET_STATE | MSG_RESPONSE, bytes);
}

static void on_set_state(struct board *b, const uint8_t *p, size_t n) {
  const uint32_t bytes = 7u * b->model.neurons;
  if (!b->model_loaded) {
    send_error(b, E_NOMODEL, 0, "no model loaded");
    return;
  }
  if (n != bytes) {
    send_error(b, E_LENGTH, bytes, "SET_STATE needs 7*N bytes");
    return;
  }
  if (sc_set_state(&b->res, p, n) != SC_OK) {
    send_error(b, E_STATE, 0, "the core refused the state");
    return;
  }
  respond(b, MSG_SET_STATE | MSG_RESPONSE, 0);
}

static void on_reset(struct board *b, const uint8_t *p, size_t n) {
  if (n < 1u) {
    send_error(b, E_LENGTH, 1u, "RESET needs `what`");
    return;
  }
  if (p[0] == 0u) {
    if (!b->model_loaded) {
      send_error(b, E_NOMODEL, 0, "no model loaded");
      return;
    }
    sc_reset(&b->res);
    respond(b, MSG_RESET | MSG_RESPONSE, 0);
  } else if (p[0] == 1u) {
    respond(b, MSG_RESET | MSG_RESPONSE, 0);
    board_reboot(b);
  } else {
    send_error(b, E_LENGTH, p[0], "unknown RESET `what` (0 or 1)");
  }
}

static void on_stats(struct board *b) {
  uint8_t *p = resp_payload(b);
  const board_stats *s = &b->stats;
  le_put32(p + 0, s->rx_frames);
  le_put32(p + 4, s->tx_frames);
  le_put32(p + 8, s->rx_bytes);
  le_put32(p + 12, s->tx_bytes);
  le_put32(p + 16, s->crc_errors);
  le_put32(p + 20, s->framing_errors);
  le_put32(p + 24, s->duplicates);
  le_put32(p + 28, s->errors_sent);
  le_put32(p + 32, s->steps);
  le_put32(p + 36, port_millis(b->port) - b->boot_ms);
  respond(b, MSG_STATS | MSG_RESPONSE, BOARD_STATS_BYTES);
}

static void on_ping(struct board *b, const uint8_t *p, size_t n) {
  memcpy(resp_payload(b), p, n); /* n <= BOARD_MAX_PAYLOAD: the frame fit rx */
  respond(b, MSG_PING | MSG_RESPONSE, n);
}

/* ---- one frame ------------------------------------------------------------------------- */

/* A request that passed the frame checks: the rules of section 4, then its handler. */
static void dispatch(struct board *b, uint8_t type, uint32_t boot_field, const uint8_t *p,
                     size_t n) {
  if (type == MSG_HELLO) {
    on_hello(b);
    return;
  }
  if (type < MSG_UPLOAD_BEGIN || type > MSG_PING) {
    send_error(b, E_TYPE, type, "unknown message type");
    return;
  }
  if (boot_field != 0u && boot_field != b->boot_id && type != MSG_PING) {
    send_error(b, E_BOOT, b->boot_id, "request meant for an earlier boot");
    return;
  }
  switch (type) {
    case MSG_UPLOAD_BEGIN: on_upload_begin(b, p, n); break;
    case MSG_UPLOAD_CHUNK: on_upload_chunk(b, p, n); break;
    case MSG_UPLOAD_DONE: on_upload_done(b); break;
    case MSG_STEP: on_step(b, p, n); break;
    case MSG_GET_STATE: on_get_state(b); break;
    case MSG_SET_STATE: on_set_state(b, p, n); break;
    case MSG_RESET: on_reset(b, p, n); break;
    case MSG_STATS: on_stats(b); break;
    default: on_ping(b, p, n); break; /* MSG_PING, the last of the range */
  }
}

/* A decoded frame of `len` bytes in rx (len <= BOARD_FRAME_MAX, the decoder's bound). */
static void on_frame(struct board *b, size_t len) {
  const uint8_t *f = (const uint8_t *)b->rx;
  size_t plen;
  uint32_t crc;
  uint8_t version, type;
  if (len < BOARD_HEADER_BYTES + BOARD_CRC_BYTES) {
    b->stats.framing_errors++;
    return;
  }
  plen = len - BOARD_HEADER_BYTES - BOARD_CRC_BYTES;
  crc = le_get32(f + len - BOARD_CRC_BYTES);
  if (crc32(f, len - BOARD_CRC_BYTES) != crc) {
    b->stats.crc_errors++;
    return;
  }
  version = f[0];
  type = f[1];
  /* The CRC covers the whole frame whatever its header means, so a frame of another version
   * is intact and gets its E_VERSION; only version 1's length field is known to check. */
  if (version == BOARD_PROTO_MAJOR && le_get16(f + 4) != plen) {
    b->stats.framing_errors++;
    return;
  }
  b->stats.rx_frames++;
  b->req_seq = le_get16(f + 2);
  b->req_crc = crc;
  if (b->dup_valid && b->req_seq == b->dup_seq && crc == b->dup_crc &&
      !(version == BOARD_PROTO_MAJOR && type == MSG_HELLO)) {
    /* A retry of the request answered last: the same answer, not a second execution. */
    b->stats.duplicates++;
    transmit(b);
    return;
  }
  if (version != BOARD_PROTO_MAJOR) {
    send_error(b, E_VERSION, BOARD_PROTO_MAJOR, "unsupported protocol version");
    return;
  }
  dispatch(b, type, le_get32(f + 8), f + BOARD_HEADER_BYTES, plen);
}

void board_feed(struct board *b, const uint8_t *data, size_t n) {
  size_t i = 0, len = 0;
  b->rebooting = 0;
  while (i < n) {
    size_t used = 0;
    const enum cobs_event ev = cobs_decode(&b->rx_dec, data + i, n - i, &used, &len);
    i += used;
    b->stats.rx_bytes += (uint32_t)used;
    switch (ev) {
      case COBS_FRAME:
        on_frame(b, len);
        /* A rebooted device has lost what it was receiving. */
        if (b->rebooting) return;
        break;
      case COBS_ERROR:
      case COBS_OVERSIZE: b->stats.framing_errors++; break;
      default: break; /* COBS_MORE, COBS_EMPTY */
    }
  }
}

void board_poll(struct board *b) {
  uint8_t buf[64];
  size_t n;
  while ((n = port_read(b->port, buf, sizeof buf)) > 0u) board_feed(b, buf, n);
}
