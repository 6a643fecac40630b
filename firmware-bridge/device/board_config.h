/*
 * Compile-time limits of the device, and the buffer sizes that follow from them.
 *
 * Every limit has a default for the virtual board and can be overridden with -D for a small
 * MCU (the `arm` target of the Makefile does so for the default model). The defaults:
 *
 *   BOARD_MAX_PAYLOAD   8192  largest frame payload (HELLO `max_payload`)
 *   BOARD_MAX_NEURONS   1024  7 * N and 4 + 4 * N must fit the payload (PROTOCOL.md 3.1)
 *   BOARD_MAX_INPUTS     256  SPEC.md's limit
 *   BOARD_MAX_FANOUT     512  SPEC.md's limit
 *   BOARD_MAX_SUBSTEPS    16  SPEC.md's limit
 *   BOARD_RX_WINDOW        1  UPLOAD_CHUNK requests a host may have in flight (HELLO
 *                       `rx_window`, PROTOCOL.md 4.1): how many frames the port can take in
 *                       while the engine is busy with one. The virtual board's pty buffers
 *                       64 KiB, so its Makefile sets 4; an MCU's RX ring decides its own.
 *   BOARD_MAX_IMAGE     the image of the largest model within the four limits above
 *                       (PROTOCOL.md section 6): 1,972,296 bytes with the defaults, so every
 *                       model the other limits admit can be uploaded.
 *
 * The reservoir workspace is sized for the largest model within the limits. On x86-64 the core
 * also wants N * N bytes for its dense AVX2 path (reservoir.h, sc_workspace_bytes); building
 * the core with -DSC_NO_SIMD (as the Makefile does by default, so that the virtual board runs
 * the same portable code as an MCU) removes that term here too. A model whose workspace would
 * still not fit is refused with E_LIMIT at UPLOAD_DONE, never overrun.
 */
#ifndef SPIKECAP_BOARD_CONFIG_H
#define SPIKECAP_BOARD_CONFIG_H

#include "reservoir.h" /* native/core, on the include path */

#ifndef BOARD_NAME
#define BOARD_NAME "spikecap-virtual-board"
#endif
#define BOARD_FW_MAJOR 0u
#define BOARD_FW_MINOR 1u
#define BOARD_FW_PATCH 0u

#ifndef BOARD_MAX_PAYLOAD
#define BOARD_MAX_PAYLOAD 8192u
#endif
#ifndef BOARD_MAX_NEURONS
#define BOARD_MAX_NEURONS 1024u
#endif
#ifndef BOARD_MAX_INPUTS
#define BOARD_MAX_INPUTS 256u
#endif
#ifndef BOARD_MAX_FANOUT
#define BOARD_MAX_FANOUT 512u
#endif
#ifndef BOARD_MAX_SUBSTEPS
#define BOARD_MAX_SUBSTEPS 16u
#endif
#ifndef BOARD_RX_WINDOW
#define BOARD_RX_WINDOW 1u
#endif

/* Fan-out never exceeds N (SPEC.md), so the largest possible rows are min(F, N) long. */
#define BOARD_FANOUT_EFF \
  (BOARD_MAX_FANOUT < BOARD_MAX_NEURONS ? BOARD_MAX_FANOUT : BOARD_MAX_NEURONS)

/* PROTOCOL.md section 6: 72 + 6 N + 3 I F + 3 N F. */
#define BOARD_IMAGE_BYTES(n, i, f) \
  (72ul + 6ul * (n) + 3ul * (unsigned long)(i) * (f) + 3ul * (unsigned long)(n) * (f))

#ifndef BOARD_MAX_IMAGE
#define BOARD_MAX_IMAGE BOARD_IMAGE_BYTES(BOARD_MAX_NEURONS, BOARD_MAX_INPUTS, BOARD_FANOUT_EFF)
#endif

/* The workspace of sc_workspace_bytes for N neurons, mirroring reservoir.c; BOARD_DENSE says
 * whether the core was built with its dense AVX2 path (same condition as SC_AVX2 there). */
#define BOARD_R4(n) (((n) + 3ul) & ~3ul)
#define BOARD_R8(n) (((n) + 7ul) & ~7ul)
#define BOARD_WS_PORTABLE(n)                                                            \
  (20ul * (n) + 2ul * BOARD_R4(2ul * (n)) + 4ul * BOARD_R8(n) + BOARD_R4(n) + BOARD_R8(n))
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__) && !defined(SC_NO_SIMD)
#define BOARD_DENSE_N (BOARD_MAX_NEURONS < 1024u ? BOARD_MAX_NEURONS : 1024u)
#define BOARD_WORKSPACE_BYTES \
  (BOARD_WS_PORTABLE(BOARD_MAX_NEURONS) + (unsigned long)BOARD_DENSE_N * BOARD_DENSE_N)
#else
#define BOARD_WORKSPACE_BYTES BOARD_WS_PORTABLE(BOARD_MAX_NEURONS)
#endif

/* Frame sizes: a decoded frame is header, payload, CRC. */
#define BOARD_HEADER_BYTES 12u
#define BOARD_CRC_BYTES 4u
#define BOARD_FRAME_MAX (BOARD_HEADER_BYTES + BOARD_MAX_PAYLOAD + BOARD_CRC_BYTES)

/* C99 has no _Static_assert: a negative array size fails the build instead. */
#define BOARD_STATIC_ASSERT(name, cond) typedef char board_assert_##name[(cond) ? 1 : -1]

BOARD_STATIC_ASSERT(payload_min, BOARD_MAX_PAYLOAD >= 256u);
BOARD_STATIC_ASSERT(payload_u16, BOARD_MAX_PAYLOAD <= 65535u);
BOARD_STATIC_ASSERT(neurons_range,
                    BOARD_MAX_NEURONS >= 2u && BOARD_MAX_NEURONS <= SC_MAX_NEURONS);
BOARD_STATIC_ASSERT(inputs_range, BOARD_MAX_INPUTS >= 1u && BOARD_MAX_INPUTS <= SC_MAX_INPUTS);
BOARD_STATIC_ASSERT(fanout_range, BOARD_MAX_FANOUT >= 1u && BOARD_MAX_FANOUT <= SC_MAX_FANOUT);
BOARD_STATIC_ASSERT(substeps_range,
                    BOARD_MAX_SUBSTEPS >= 1u && BOARD_MAX_SUBSTEPS <= SC_MAX_SUBSTEPS);
/* PROTOCOL.md 3.1: the state and one sample of STEP (both ways) fit one payload. */
BOARD_STATIC_ASSERT(state_fits, 7ul * BOARD_MAX_NEURONS <= BOARD_MAX_PAYLOAD);
BOARD_STATIC_ASSERT(features_fit, 4ul + 4ul * BOARD_MAX_NEURONS <= BOARD_MAX_PAYLOAD);
BOARD_STATIC_ASSERT(inputs_fit, 2ul + (unsigned long)BOARD_MAX_SUBSTEPS * BOARD_MAX_INPUTS <=
                                    BOARD_MAX_PAYLOAD);
BOARD_STATIC_ASSERT(image_min, BOARD_MAX_IMAGE >= 72ul);
BOARD_STATIC_ASSERT(image_u32, BOARD_MAX_IMAGE <= 0xFFFFFFFFul);

#endif
