/*
 * The port layer: everything the protocol engine (board.c) needs from the hardware, and
 * nothing more. Each port (linux/ for the virtual board, arm/ for a Cortex-M4, fuzz/ for the
 * fuzzer) defines `struct port` and these five functions; the engine only ever sees a pointer.
 * Bound at link time: no function pointers, no vtable in RAM.
 */
#ifndef SPIKECAP_PORT_H
#define SPIKECAP_PORT_H

#include <stddef.h>
#include <stdint.h>

struct port; /* the port's own state, defined by the port */

/* Copies up to `cap` received bytes into buf and returns how many (0: nothing yet). Never
 * blocks: the engine polls. */
size_t port_read(struct port *p, uint8_t *buf, size_t cap);

/* Sends n bytes. The engine calls it once per frame, with the whole encoded frame, so a port
 * may treat one call as one frame (the virtual board drops and delays whole frames). The port
 * must take all n bytes: it may block until the UART has them, or queue them. */
void port_write(struct port *p, const uint8_t *buf, size_t n);

/* A free-running millisecond clock; it may wrap (the engine only takes differences). */
uint32_t port_millis(struct port *p);

/* A fresh boot id for each boot: random, never 0, and unlikely to repeat across power cycles
 * (a hardware RNG, or a seed kept in non-volatile memory). The engine retries on 0. */
uint32_t port_boot_id(struct port *p);

/* Called after the engine has answered RESET 1 and forgotten everything (board_reboot). On
 * hardware this resets the MCU and does not return; a port that cannot (the virtual board)
 * returns, and the engine goes on as a freshly booted device. */
void port_reboot(struct port *p);

#endif
