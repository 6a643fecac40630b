/*
 * The protocol engine of the device side of PROTOCOL.md: bytes from the wire go in
 * (board_feed, or board_poll through the port), responses go out through port_write. It owns
 * all device state in one struct board (no globals, no heap) and knows nothing of the OS or
 * the hardware beyond port.h.
 */
#ifndef SPIKECAP_BOARD_H
#define SPIKECAP_BOARD_H

#include <stddef.h>
#include <stdint.h>

#include "board_config.h"
#include "cobs.h"
#include "port.h"
#include "reservoir.h"
#include "sha256.h"

#define BOARD_PROTO_MAJOR 1u
#define BOARD_PROTO_MINOR 1u

/* Message types (PROTOCOL.md section 3). A response is the request's type | 0x80. */
enum board_msg {
  MSG_HELLO = 0x01,
  MSG_UPLOAD_BEGIN = 0x02,
  MSG_UPLOAD_CHUNK = 0x03,
  MSG_UPLOAD_DONE = 0x04,
  MSG_STEP = 0x05,
  MSG_GET_STATE = 0x06,
  MSG_SET_STATE = 0x07,
  MSG_RESET = 0x08,
  MSG_STATS = 0x09,
  MSG_PING = 0x0A,
  MSG_ERROR = 0xFF
};
#define MSG_RESPONSE 0x80u

/* Error codes (PROTOCOL.md section 7). */
enum board_err {
  E_VERSION = 1,
  E_TYPE = 2,
  E_LENGTH = 3,
  E_BOOT = 4,
  E_NOMODEL = 5,
  E_LIMIT = 6,
  E_TOOBIG = 7,
  E_OFFSET = 8,
  E_NOUPLOAD = 9,
  E_INCOMPLETE = 10,
  E_HASH = 11,
  E_MODEL = 12,
  E_STATE = 13,
  E_INTERNAL = 14
};

#define BOARD_HELLO_BYTES 132u
#define BOARD_STATS_BYTES 40u
#define BOARD_ERROR_TEXT_MAX 64u

/* The transmit buffer holds the leading 0x00, the encoded frame and its delimiter; the raw
 * response is built further in, at BOARD_TX_RAW_OFF (4-aligned, for the int16 features of
 * STEP), far enough ahead for cobs_encode to encode it in place (COBS_INPLACE_GAP). After
 * sending, the buffer keeps the encoded response: it is the duplicate memory of section 4.2. */
#define BOARD_TX_RAW_OFF BOARD_R4(3ul + BOARD_FRAME_MAX / 254ul)
#define BOARD_TX_BYTES (BOARD_TX_RAW_OFF + BOARD_FRAME_MAX)

#define BOARD_WORDS(bytes) (((unsigned long)(bytes) + 3ul) / 4ul)

/* Guard words around the buffers, for the fuzz build only (-DBOARD_GUARDS): AddressSanitizer
 * sees struct board as one object, so an overrun from one buffer into the next would go
 * unnoticed; the fuzz target fills the guards and aborts if one ever changes. */
#ifdef BOARD_GUARDS
#define BOARD_GUARD(name) uint32_t name[8];
#else
#define BOARD_GUARD(name)
#endif

/* STATS counters, in wire order (PROTOCOL.md section 5, without uptime_ms). */
typedef struct board_stats {
  uint32_t rx_frames;
  uint32_t tx_frames;
  uint32_t rx_bytes;
  uint32_t tx_bytes;
  uint32_t crc_errors;
  uint32_t framing_errors;
  uint32_t duplicates;
  uint32_t errors_sent;
  uint32_t steps;
} board_stats;

/* The whole device. Zero-initialised static storage is a valid "not yet booted" state;
 * board_init boots it. The large buffers are uint32_t arrays for their alignment. */
struct board {
  struct port *port;
  uint32_t boot_id;
  uint32_t boot_ms; /* port_millis at boot, for uptime_ms */
  board_stats stats;
  cobs_decoder rx_dec;
  uint8_t rebooting; /* board_reboot ran while a chunk was being fed: drop the rest of it */

  /* The request being handled. */
  uint16_t req_seq;
  uint32_t req_crc;

  /* Duplicate memory (section 4.2): the last request answered and its response (tx). */
  uint8_t dup_valid;
  uint8_t dup_is_error;
  uint16_t dup_seq;
  uint32_t dup_crc;
  size_t tx_len;

  /* The upload in progress, written straight into `image` (section 3.2). */
  uint8_t upload_active;
  uint32_t upload_size;
  uint32_t upload_offset;
  uint8_t upload_sha[SHA256_BYTES];
  sha256_ctx upload_hash; /* of image[0..upload_offset) */

  /* The loaded model: its arrays point into `image`. */
  uint8_t model_loaded;
  uint8_t model_sha[SHA256_BYTES];
  sc_model model;
  sc_reservoir res;

  BOARD_GUARD(guard0)
  uint32_t rx[BOARD_WORDS(BOARD_FRAME_MAX)];
  BOARD_GUARD(guard1)
  uint32_t tx[BOARD_WORDS(BOARD_TX_BYTES)];
  BOARD_GUARD(guard2)
  uint32_t image[BOARD_WORDS(BOARD_MAX_IMAGE)];
  BOARD_GUARD(guard3)
  uint32_t workspace[BOARD_WORDS(BOARD_WORKSPACE_BYTES)];
  BOARD_GUARD(guard4)
};

/* Power-on: binds the port and boots (new boot id, no model, no upload, counters zero). The
 * big buffers are not cleared, so this is cheap. */
void board_init(struct board *b, struct port *port);

/* Takes bytes from the wire, in any pieces; answers each complete request as it ends. */
void board_feed(struct board *b, const uint8_t *data, size_t n);

/* Reads whatever the port has received and feeds it. Call it from the main loop. */
void board_poll(struct board *b);

/* Reboots: a new boot id, and model, upload, state, duplicate memory and counters are gone;
 * then port_reboot. Used by RESET 1, and by a port that simulates a reset. */
void board_reboot(struct board *b);

#endif
