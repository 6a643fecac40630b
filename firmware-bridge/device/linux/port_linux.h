/*
 * The virtual board's port (port.h on Linux): the pty master as the UART, with the fault
 * injection of the command line on the way out (bit errors, lost frames, latency), a
 * monotonic clock, and the OS's random numbers for boot ids. The way in is staged by
 * virtual_board.c, which sees whole frames and so applies its faults there.
 */
#ifndef SPIKECAP_VB_PORT_LINUX_H
#define SPIKECAP_VB_PORT_LINUX_H

#include <stddef.h>
#include <stdint.h>

#include "board.h"

/* Responses waiting for their delivery time; more than a stop-and-wait host ever has. */
#define PORT_QUEUE 8u
#define PORT_STAGE 4096u

struct port_frame {
  uint64_t due; /* monotonic ms when it may go out */
  size_t len;
  size_t sent;
  uint8_t data[BOARD_TX_BYTES];
};

struct port {
  int fd;        /* the pty master, or -1 while the port has vanished */
  uint64_t t0;   /* the clock at start, for port_millis */
  double ber;    /* probability that a bit flips, each direction */
  double drop;   /* probability that a frame is lost, each direction */
  uint32_t delay_ms, jitter_ms;
  uint64_t rng;  /* splitmix64 state of the fault RNG */

  /* Received bytes handed to the engine by port_read. */
  uint8_t stage[PORT_STAGE];
  size_t stage_len, stage_pos;

  /* Responses on their way out, oldest first (a ring). */
  struct port_frame q[PORT_QUEUE];
  unsigned q_head, q_count;
  uint64_t last_due;

  unsigned reboots;
  /* What the faults did, for the log at exit. */
  unsigned long out_frames, out_dropped, out_overflow, bits_flipped;
};

uint64_t lport_now_ms(void);
void lport_init(struct port *p, uint64_t seed);

/* A uniform double in [0, 1) and a uniform integer in [0, n], from the fault RNG. */
double lport_uniform(struct port *p);
uint32_t lport_upto(struct port *p, uint32_t n);

/* One byte as the wire delivers it under the bit error rate. */
uint8_t lport_flip(struct port *p, uint8_t byte);

/* Appends a received byte for port_read; returns 0 if the stage is full. */
int lport_stage(struct port *p, uint8_t byte);

/* Writes what is due to the fd. Returns 1 if a due frame is still waiting for the fd to accept
 * more (poll for POLLOUT), else 0. */
int lport_flush(struct port *p, uint64_t now);

/* Milliseconds until the next queued frame is due (0 if one is), or -1 if none is queued. */
int lport_next_due(const struct port *p, uint64_t now);

/* Forgets queued output (the port vanished: what was in the cable is lost). */
void lport_discard(struct port *p);

#endif
