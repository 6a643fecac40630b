/*
 * The Cortex-M4 port (port.h): the made-up UART of mcu.h with an interrupt-fed receive ring,
 * SysTick for port_millis, the RNG for boot ids, SYSRESETREQ for port_reboot.
 */
#ifndef SPIKECAP_ARM_PORT_ARM_H
#define SPIKECAP_ARM_PORT_ARM_H

#include <stdint.h>

/* Bytes the UART interrupt can hold while the engine computes (a stop-and-wait host sends
 * nothing then, so this only has to absorb one request's tail). Power of two. */
#define PORT_RX_RING 512u

struct port {
  volatile uint32_t ms;           /* SysTick count */
  volatile uint16_t rx_head;      /* written by the UART interrupt only */
  volatile uint16_t rx_tail;      /* written by port_read only */
  volatile uint32_t rx_overruns;  /* bytes lost to a full ring */
  uint8_t rx[PORT_RX_RING];
};

/* Clocks, UART at `baud`, SysTick at 1 kHz, RNG on; interrupts enabled. */
void port_arm_init(struct port *p, uint32_t baud);

#endif
